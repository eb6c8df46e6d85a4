/**
 * The `date` filter: reading a date (ISO 8601 text, Unix seconds, "now") and writing it with
 * a strftime format, as liquidjs does, with month and day names in the profile's language.
 *
 * Byte for byte the same in every browser and in Node, so nothing here asks the machine:
 * - names come from the tables below, not from Intl (Chromium's and Node's ICU can differ);
 *   they are ICU's standalone names for each language, as liquidjs writes them on Node;
 * - dates are written in UTC: a date-only value (a birthday) is the same day everywhere, and
 *   a date-time without an offset is read as UTC;
 * - text is read only as ISO 8601 (`2024-01-17`, `2024-01-17T09:30:00Z`, with an offset or
 *   not) or as Unix seconds, never by the engine's own date parser, which differs by browser.
 */

interface DateNames {
  months: readonly string[];
  monthsShort: readonly string[];
  days: readonly string[];
  daysShort: readonly string[];
}

const w = (text: string) => text.split(' ');

/** Month and day names by language (Sunday first), as ICU writes them standalone. */
export const DATE_NAMES: Readonly<Record<string, DateNames>> = {
  en: {
    months: w('January February March April May June July August September October November December'),
    monthsShort: w('Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'),
    days: w('Sunday Monday Tuesday Wednesday Thursday Friday Saturday'),
    daysShort: w('Sun Mon Tue Wed Thu Fri Sat'),
  },
  nl: {
    months: w('januari februari maart april mei juni juli augustus september oktober november december'),
    monthsShort: w('jan feb mrt apr mei jun jul aug sep okt nov dec'),
    days: w('zondag maandag dinsdag woensdag donderdag vrijdag zaterdag'),
    daysShort: w('zo ma di wo do vr za'),
  },
  de: {
    months: w('Januar Februar März April Mai Juni Juli August September Oktober November Dezember'),
    monthsShort: w('Jan Feb Mär Apr Mai Jun Jul Aug Sep Okt Nov Dez'),
    days: w('Sonntag Montag Dienstag Mittwoch Donnerstag Freitag Samstag'),
    daysShort: w('So Mo Di Mi Do Fr Sa'),
  },
  fr: {
    months: w('janvier février mars avril mai juin juillet août septembre octobre novembre décembre'),
    monthsShort: w('janv. févr. mars avr. mai juin juil. août sept. oct. nov. déc.'),
    days: w('dimanche lundi mardi mercredi jeudi vendredi samedi'),
    daysShort: w('dim. lun. mar. mer. jeu. ven. sam.'),
  },
  es: {
    months: w('enero febrero marzo abril mayo junio julio agosto septiembre octubre noviembre diciembre'),
    monthsShort: w('ene feb mar abr may jun jul ago sept oct nov dic'),
    days: w('domingo lunes martes miércoles jueves viernes sábado'),
    daysShort: w('dom lun mar mié jue vie sáb'),
  },
  it: {
    months: w('gennaio febbraio marzo aprile maggio giugno luglio agosto settembre ottobre novembre dicembre'),
    monthsShort: w('gen feb mar apr mag giu lug ago set ott nov dic'),
    days: w('domenica lunedì martedì mercoledì giovedì venerdì sabato'),
    daysShort: w('dom lun mar mer gio ven sab'),
  },
  pt: {
    months: w('janeiro fevereiro março abril maio junho julho agosto setembro outubro novembro dezembro'),
    monthsShort: w('jan. fev. mar. abr. mai. jun. jul. ago. set. out. nov. dez.'),
    days: w('domingo segunda-feira terça-feira quarta-feira quinta-feira sexta-feira sábado'),
    daysShort: w('dom. seg. ter. qua. qui. sex. sáb.'),
  },
};

/** Returns the language of a locale as the name tables know it ("nl-NL", "nl_BE", "NL" → "nl"); "en" for any other. */
export function dateLanguage(locale: unknown): string {
  if (typeof locale !== 'string') return 'en';
  const language = locale.trim().toLowerCase().split(/[-_]/)[0];
  return language in DATE_NAMES ? language : 'en';
}

const ISO = /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?\s*(Z|z|[+-]\d{2}:?\d{2})?)?$/;

/**
 * Returns the time (ms since 1970, UTC) a value stands for, or NaN when it is no date:
 * "now" and "today" are `now`; a number or text of digits is Unix seconds; text is read as
 * ISO 8601 (a day past the month's end rolls over, as V8 does).
 */
export function parseDate(value: unknown, now: number): number {
  if (value === 'now' || value === 'today') return now;
  if (typeof value === 'number') return value * 1000;
  if (typeof value === 'boolean') return +value;
  if (Array.isArray(value)) return parseDate(value.join(','), now);
  if (typeof value !== 'string') return NaN;
  if (/^\d+$/.test(value)) return +value * 1000;
  const m = ISO.exec(value);
  if (!m) return NaN;
  const [, y, mo, d, h = '0', mi = '0', s = '0', fraction = '', zone] = m;
  if (+mo < 1 || +mo > 12 || +d < 1 || +d > 31 || +h > 24 || +mi > 59 || +s > 59) return NaN;
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  let time = Date.UTC(+y, +mo - 1, +d, +h, +mi, +s, ms);
  if (zone && zone !== 'Z' && zone !== 'z') {
    const digits = zone.replace(':', '');
    const minutes = Number(digits.slice(1, 3)) * 60 + Number(digits.slice(3, 5));
    time -= (digits[0] === '-' ? -1 : 1) * minutes * 60_000;
  }
  return time;
}

const DEFAULT_FORMAT = '%A, %B %-e, %Y at %-l:%M %P %z';
const FORMAT = /%([-_0^#:]+)?(\d+)?([EO])?(.)/;
const PAD_WIDTHS: Record<string, number> = {
  C: 2,
  d: 2,
  e: 2,
  H: 2,
  I: 2,
  j: 3,
  k: 2,
  l: 2,
  L: 3,
  m: 2,
  M: 2,
  S: 2,
  U: 2,
  W: 2,
  y: 2,
  Y: 4,
};
const PAD_SPACE = new Set('aAbBceklpP');
const MONTH_DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const isLeap = (year: number) => (year & 3) === 0 && (year % 100 !== 0 || year % 400 === 0);

function dayOfYear(d: Date): number {
  let day = d.getUTCDate();
  for (let m = 0; m < d.getUTCMonth(); m++) day += m === 1 && isLeap(d.getUTCFullYear()) ? 29 : MONTH_DAYS[m];
  return day;
}

const weekOfYear = (d: Date, startDay: number) => Math.floor((dayOfYear(d) - 1 - ((d.getUTCDay() - startDay + 7) % 7) + 7) / 7);

function ordinal(day: number): string {
  if (day === 11 || day === 12 || day === 13) return 'th';
  return ['th', 'st', 'nd', 'rd'][day % 10] ?? 'th';
}

const hours12 = (d: Date) => String(d.getUTCHours() % 12 || 12);

/** What each conversion writes, before padding. */
const CONVERSIONS: Record<string, (d: Date, names: DateNames, flags: string, width: string | undefined) => string | number> = {
  a: (d, n) => n.daysShort[d.getUTCDay()],
  A: (d, n) => n.days[d.getUTCDay()],
  b: (d, n) => n.monthsShort[d.getUTCMonth()],
  h: (d, n) => n.monthsShort[d.getUTCMonth()],
  B: (d, n) => n.months[d.getUTCMonth()],
  // Ruby's fixed forms, where liquidjs asks the machine's locale.
  c: (d, n) => strftime(d, '%a %b %e %H:%M:%S %Y', n),
  x: (d, n) => strftime(d, '%m/%d/%y', n),
  X: (d, n) => strftime(d, '%H:%M:%S', n),
  C: (d) => Math.floor(d.getUTCFullYear() / 100),
  d: (d) => d.getUTCDate(),
  e: (d) => d.getUTCDate(),
  H: (d) => d.getUTCHours(),
  I: hours12,
  j: dayOfYear,
  k: (d) => d.getUTCHours(),
  l: hours12,
  L: (d) => d.getUTCMilliseconds(),
  m: (d) => d.getUTCMonth() + 1,
  M: (d) => d.getUTCMinutes(),
  N: (d, _n, _f, width) => {
    const digits = Number(width) || 9;
    return String(d.getUTCMilliseconds()).padStart(3, '0').slice(0, digits).padEnd(digits, '0');
  },
  p: (d) => (d.getUTCHours() < 12 ? 'AM' : 'PM'),
  P: (d) => (d.getUTCHours() < 12 ? 'am' : 'pm'),
  q: (d) => ordinal(d.getUTCDate()),
  s: (d) => Math.floor(d.getTime() / 1000),
  S: (d) => d.getUTCSeconds(),
  u: (d) => d.getUTCDay() || 7,
  U: (d) => weekOfYear(d, 0),
  w: (d) => d.getUTCDay(),
  W: (d) => weekOfYear(d, 1),
  y: (d) => ((d.getUTCFullYear() % 100) + 100) % 100,
  Y: (d) => d.getUTCFullYear(),
  z: (_d, _n, flags) => (flags.includes(':') ? '+00:00' : '+0000'),
  Z: (_d, _n, flags) => (flags.includes(':') ? '+00:00' : '+0000'),
  t: () => '\t',
  n: () => '\n',
  '%': () => '%',
};

function changeCase(text: string): string {
  return /[a-z]/.test(text) ? text.toUpperCase() : text.toLowerCase();
}

function convert(d: Date, names: DateNames, match: RegExpExecArray): string {
  const [whole, flags = '', width, , conversion] = match;
  const write = CONVERSIONS[conversion];
  if (!write) return whole;
  let text = String(write(d, names, flags, width));
  let padChar = PAD_SPACE.has(conversion) ? ' ' : '0';
  let padWidth = Number(width) || PAD_WIDTHS[conversion] || 0;
  if (flags.includes('^')) text = text.toUpperCase();
  else if (flags.includes('#')) text = changeCase(text);
  if (flags.includes('_')) padChar = ' ';
  else if (flags.includes('0')) padChar = '0';
  if (flags.includes('-')) padWidth = 0;
  if (padChar === '0' && text[0] === '-') return '-' + text.slice(1).padStart(padWidth - 1, padChar);
  return text.padStart(padWidth, padChar);
}

/** Returns the date written with a strftime format, in UTC. */
export function strftime(d: Date, format: string, names: DateNames = DATE_NAMES.en): string {
  let out = '';
  let rest = format;
  let match: RegExpExecArray | null;
  while ((match = FORMAT.exec(rest))) {
    out += rest.slice(0, match.index);
    rest = rest.slice(match.index + match[0].length);
    out += convert(d, names, match);
  }
  return out + rest;
}

/**
 * Returns the value written as a date with the format (liquidjs's default format when nil),
 * names in the language of `locale`; the value itself when it is no date.
 */
export function formatDate(value: unknown, format: unknown, now: number, locale: unknown): unknown {
  if (value === null || value === undefined) return value;
  const time = parseDate(value, now);
  if (Number.isNaN(time) || !Number.isFinite(time) || Math.abs(time) > 8.64e15) return value;
  const pattern = format === null || format === undefined ? DEFAULT_FORMAT : String(format);
  return strftime(new Date(time), pattern, DATE_NAMES[dateLanguage(locale)]);
}
