import { describe, expect, it } from 'vitest';
import { localDue, localTimeProblem, waveCount, waveOf, wavesProblem, waveSql } from './send-time';

describe('local time', () => {
  it('is the first such time of day in each zone at or after the send time; one not known takes the default', () => {
    const due = localDue({ at: '09:00', defaultTimeZone: 'Europe/Amsterdam' }, new Date('2026-12-04T00:00:00Z'));
    expect(new Date(due('Asia/Tokyo')).toISOString()).toBe('2026-12-04T00:00:00.000Z'); // UTC+9
    expect(new Date(due('Europe/Amsterdam')).toISOString()).toBe('2026-12-04T08:00:00.000Z'); // UTC+1 in winter
    expect(new Date(due('America/New_York')).toISOString()).toBe('2026-12-04T14:00:00.000Z'); // UTC-5
    expect(new Date(due('')).toISOString()).toBe('2026-12-04T08:00:00.000Z');
    expect(new Date(due('Mars/Olympus')).toISOString()).toBe('2026-12-04T08:00:00.000Z');
    // Past already in a zone: the next day there (Auckland is UTC+13 in December: 09:00 was at 20:00 UTC the day before).
    expect(new Date(due('Pacific/Auckland')).toISOString()).toBe('2026-12-04T20:00:00.000Z');
  });

  it('follows a change of offset: 09:00 in Amsterdam the day summer time begins is 07:00 UTC', () => {
    const due = localDue({ at: '09:00', defaultTimeZone: 'UTC' }, new Date('2026-03-29T00:00:00Z'));
    expect(new Date(due('Europe/Amsterdam')).toISOString()).toBe('2026-03-29T07:00:00.000Z');
  });

  it('refuses a time or a zone that is none, saying what to give', () => {
    expect(localTimeProblem({ at: '9am', defaultTimeZone: 'UTC' })).toBe('"9am" is no time of day: give it as HH:MM, 24-hour (09:30).');
    expect(localTimeProblem({ at: '09:30', defaultTimeZone: 'Amsterdam' })).toBe(
      '"Amsterdam" is no time zone: give an IANA name (Europe/Amsterdam) for those without one.',
    );
    expect(localTimeProblem({ at: '23:59', defaultTimeZone: 'UTC' })).toBeNull();
  });
});

describe('waves', () => {
  it('number messages into waves of a size, or by a ramp-up whose last size repeats, the same in SQL', () => {
    const ramp = { sizes: [2, 3, 5], everyHours: 24 };
    expect(Array.from({ length: 16 }, (_, i) => waveOf(ramp, i + 1))).toEqual([0, 0, 1, 1, 1, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 4]);
    expect(waveCount(ramp, 16)).toBe(5);
    expect(waveCount({ sizes: [1000], everyHours: 1 }, 2500)).toBe(3);
    expect(waveSql(ramp)).toBe('CASE WHEN seq <= 2 THEN 0 WHEN seq <= 5 THEN 1 ELSE 2 + (seq - 5 - 1) / 5 END');
    expect(waveSql({ sizes: [1000], everyHours: 1 })).toBe('(seq - 1) / 1000');
    expect(wavesProblem({ sizes: [0], everyHours: 1 })).toMatch(/^Waves: give 1 to 30 wave sizes/);
    expect(wavesProblem({ sizes: [10], everyHours: 0 })).toBe('Waves: one wave every 0.25 to 168 hours.');
  });
});
