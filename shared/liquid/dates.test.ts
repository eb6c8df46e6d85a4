import { describe, expect, it } from 'vitest';
import { DATE_NAMES, dateLanguage, formatDate, parseDate, strftime } from './dates';

describe('month and day names', () => {
  it.each(Object.keys(DATE_NAMES))("%s: ICU's standalone names, fixed in a table (so no browser ICU is asked)", (language) => {
    const names = DATE_NAMES[language];
    const format = (options: Intl.DateTimeFormatOptions, d: Date) =>
      new Intl.DateTimeFormat(language, { ...options, timeZone: 'UTC' }).format(d);
    const months = Array.from({ length: 12 }, (_, m) => new Date(Date.UTC(2024, m, 1)));
    const days = Array.from({ length: 7 }, (_, d) => new Date(Date.UTC(2024, 0, 7 + d)));
    expect(names.months).toEqual(months.map((d) => format({ month: 'long' }, d)));
    expect(names.monthsShort).toEqual(months.map((d) => format({ month: 'short' }, d)));
    expect(names.days).toEqual(days.map((d) => format({ weekday: 'long' }, d)));
    expect(names.daysShort).toEqual(days.map((d) => format({ weekday: 'short' }, d)));
  });

  it.each([
    ['nl-NL', 'nl'],
    ['nl_BE', 'nl'],
    ['DE', 'de'],
    [' fr-CA ', 'fr'],
    ['pt-BR', 'pt'],
    ['sv-SE', 'en'],
    ['', 'en'],
    [null, 'en'],
    [42, 'en'],
  ])('reads the language of %j as %s', (locale, language) => {
    expect(dateLanguage(locale)).toBe(language);
  });
});

describe('parseDate', () => {
  const now = Date.UTC(2026, 10, 28, 10);
  it.each<[unknown, number]>([
    ['now', now],
    ['today', now],
    [1700000000, 1700000000_000],
    ['1700000000', 1700000000_000],
    ['2024-01-17', Date.UTC(2024, 0, 17)],
    ['2024-01-17T09:30', Date.UTC(2024, 0, 17, 9, 30)],
    ['2024-01-17 09:30:15', Date.UTC(2024, 0, 17, 9, 30, 15)],
    ['2024-01-17T09:30:15.25Z', Date.UTC(2024, 0, 17, 9, 30, 15, 250)],
    ['2024-01-17T09:30:15+02:00', Date.UTC(2024, 0, 17, 7, 30, 15)],
    ['2024-01-17T09:30:15-0530', Date.UTC(2024, 0, 17, 15, 0, 15)],
    ['2024-02-30', Date.UTC(2024, 2, 1)],
  ])('reads %j', (value, time) => {
    expect(parseDate(value, now)).toBe(time);
  });

  it.each(['January 17, 2024', '2024/01/17', '17-01-2024', '2024-13-01', '2024-01-17T25:00', '', 'soon', null, undefined, {}])(
    'reads %j as no date',
    (value) => {
      expect(parseDate(value, now)).toBeNaN();
    },
  );
});

describe('strftime and formatDate', () => {
  const d = new Date(Date.UTC(2024, 0, 7, 5, 4, 3, 21));
  it.each([
    ['%Y-%m-%d %H:%M:%S.%L', '2024-01-07 05:04:03.021'],
    ['%-d %-m %e|%k|%l|%I %p %P', '7 1  7| 5| 5|05 AM am'],
    ['%j %U %W %u %w %C %y', '007 01 01 7 0 20 24'],
    ['%^B %#b %10A|%-10A|%_5d|%05d', 'JANUARY JAN     Sunday|Sunday|    7|00007'],
    ['%s %z %:z %Z %% %t%n', '1704603843 +0000 +00:00 +0000 % \t\n'],
    ['%q %Q', 'th %Q'],
  ])('%s', (format, expected) => {
    expect(strftime(d, format)).toBe(expected);
  });

  it('writes names in the language and leaves no date as it is', () => {
    expect(formatDate('2024-01-17', '%A %-d %B', 0, 'it')).toBe('mercoledì 17 gennaio');
    expect(formatDate('not a date', '%Y', 0, 'it')).toBe('not a date');
    expect(formatDate(undefined, '%Y', 0, 'it')).toBeUndefined();
    expect(formatDate('2024-01-17', undefined, 0, 'en')).toBe('Wednesday, January 17, 2024 at 12:00 am +0000');
  });
});
