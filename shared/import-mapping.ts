/**
 * Importing a CSV file into the audience: reading its records (separator, quotes, a stray
 * quote as one rejected line), the mapping of columns to profile fields with each column's
 * type and number or date convention guessed from its values, and turning one record into a
 * profile or a reason to reject it. Pure: the server streams the file through it, and the
 * app reads the same file with it in the browser to propose the mapping and warn before the
 * upload — so what the dialog shows is what the import does.
 */

import { isValidEmail, normalizeEmail } from './email-address';
import { DELIVERY_FIELD, LAST_CLICK, LAST_OPEN } from './engagement';
import { CORE_FIELDS } from './profile-fields';

/** Field names engagement reads (engagement.ts): an attribute of one of these names would be hidden by it. */
const ENGAGEMENT_NAMES: ReadonlySet<string> = new Set([LAST_OPEN, LAST_CLICK, DELIVERY_FIELD]);
import type { AttributeDefinition, AttributeType, AttributeValue, ProfileInput, SubscriptionStatus } from './types';

/** How a number column writes its decimals: `,` for 1.234,56 (Dutch, German…), `.` for 1,234.56. */
export type DecimalMark = ',' | '.';
/** The order of a date column's parts: 1990-12-31, 31-12-1990 or 12/31/1990. */
export type DateOrder = 'ymd' | 'dmy' | 'mdy';

/** How an attribute's cells are read: the decimal mark of numbers, the order of dates (absent: 1,234.56 and YYYY-MM-DD). */
export interface ValueFormat {
  decimal?: DecimalMark;
  dates?: DateOrder;
}

/** Where a column goes: a core field, `status`, an attribute of the schema, a new attribute, or nowhere. */
export type ColumnTarget =
  | { kind: 'field'; name: keyof typeof CORE_FIELDS | 'status' }
  | ({ kind: 'attribute'; name: string } & ValueFormat)
  | ({ kind: 'new-attribute'; name: string; type: AttributeType } & ValueFormat)
  | { kind: 'ignore' };

export type ColumnMapping = ColumnTarget[];

// ————— Reading the file —————

const SEPARATORS = [',', ';', '\t', '|'] as const;

/** Returns the separator used by the header line: the one that occurs most outside quotes. */
export function detectSeparator(headerLine: string): string {
  let best: string = ',';
  let bestCount = 0;
  for (const separator of SEPARATORS) {
    let count = 0;
    let quoted = false;
    for (const char of headerLine) {
      if (char === '"') quoted = !quoted;
      else if (char === separator && !quoted) count++;
    }
    if (count > bestCount) [best, bestCount] = [separator, count];
  }
  return best;
}

/** Returns the first line of the text (a quoted field may span lines), without a byte-order mark. */
export function firstLine(text: string): string {
  const clean = text.replace(/^\uFEFF/, '');
  let quoted = false;
  for (let i = 0; i < clean.length; i++) {
    const char = clean[i];
    if (char === '"') quoted = !quoted;
    else if ((char === '\n' || char === '\r') && !quoted) return clean.slice(0, i);
  }
  return clean;
}

/** Returns the cells of one CSV line (quotes removed, "" unescaped), leniently: a stray quote toggles quoting. */
export function splitLine(line: string, separator: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === separator) {
      cells.push(cell);
      cell = '';
    } else cell += char;
  }
  cells.push(cell);
  return cells.map((c) => c.trim());
}

/** Returns the text encoding of a file from its first bytes: UTF-8 when they are valid UTF-8, else Windows-1252 (Excel's "CSV" on Windows). */
export function detectEncoding(head: Uint8Array): 'utf-8' | 'windows-1252' {
  try {
    // `stream`: a character cut off at the end of the head is not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: true });
    return 'utf-8';
  } catch {
    return 'windows-1252';
  }
}

/** A record of the file: its cells, or why it cannot be read (a stray quote). `line` is where it starts, counting from 1. */
export type CsvRecord =
  | { line: number; cells: string[] }
  | { line: number; malformed: { column: number; problem: 'stray-quote' | 'unclosed-quote'; text: string } };

/** The longest quoted value: a quote left open would otherwise hold the rest of the file as one value. */
export const LONGEST_QUOTED = 1024 * 1024;

const LF = 10;
const CR = 13;
const QUOTE = 34;
const SPACE = 32;
const TAB = 9;

type Parsed =
  | { kind: 'incomplete'; quoted: boolean }
  | { kind: 'record'; cells: string[]; end: number; multiline: boolean }
  | { kind: 'malformed'; column: number; problem: 'stray-quote' | 'unclosed-quote'; at: number; quotedSpan: boolean };

/**
 * Reads CSV text pushed in chunks of any size and returns the records each chunk completes
 * (RFC 4180: quoted values may hold separators, line breaks and doubled quotes; \n, \r\n or
 * \r end a record; empty lines are skipped; a BOM is dropped).
 *
 * A quote that is not where RFC 4180 allows it (inside an unquoted value, after a closing
 * quote, or opening a value that never closes) makes that record malformed. Reading goes on
 * at the next line: after the line of the stray quote when the record's values before it
 * were read, or after the record's first line when a quoted value swallowed later lines
 * (they are read again as the records they are). So one stray quote costs one line, never
 * the rest of the file.
 */
export class CsvReader {
  #text = '';
  #line = 1;
  #started = false;
  readonly #separator: number;

  constructor(separator: string) {
    this.#separator = separator.charCodeAt(0);
  }

  /** Returns the records completed by this chunk. */
  push(chunk: string): CsvRecord[] {
    if (!this.#started && chunk) {
      this.#started = true;
      chunk = chunk.replace(/^\uFEFF/, '');
    }
    this.#text = this.#text ? this.#text + chunk : chunk;
    return this.#drain(false);
  }

  /** Returns the records left at the end of the file. */
  end(): CsvRecord[] {
    return this.#drain(true);
  }

  #drain(final: boolean): CsvRecord[] {
    const out: CsvRecord[] = [];
    const t = this.#text;
    const n = t.length;
    let i = 0;
    let line = this.#line;
    while (i < n) {
      const c = t.charCodeAt(i);
      if (c === LF) {
        i++;
        line++;
        continue;
      }
      if (c === CR) {
        if (i + 1 >= n && !final) break;
        i += t.charCodeAt(i + 1) === LF ? 2 : 1;
        line++;
        continue;
      }
      let parsed = this.#record(t, i, final);
      if (parsed.kind === 'incomplete') {
        if (!parsed.quoted || n - i <= LONGEST_QUOTED) break;
        // An open quote holding a megabyte: not a value, a stray quote.
        parsed = { kind: 'malformed', column: 0, problem: 'unclosed-quote', at: i, quotedSpan: true };
      }
      if (parsed.kind === 'record') {
        out.push({ line, cells: parsed.cells });
        let end = parsed.end;
        if (parsed.multiline) line += lineBreaks(t, i, end);
        // The record's own line break.
        if (end < n) {
          if (t.charCodeAt(end) === CR && t.charCodeAt(end + 1) === LF) end += 2;
          else end += 1;
          line++;
        }
        i = end;
        continue;
      }
      // Malformed: go on after the line of the stray quote, or after the record's first line.
      const from = parsed.quotedSpan ? i : lineStart(t, parsed.at);
      const lineEnd = nextLineBreak(t, from);
      if (lineEnd < 0 && !final) break;
      const resume = lineEnd < 0 ? n : lineEnd + (t.charCodeAt(lineEnd) === CR && t.charCodeAt(lineEnd + 1) === LF ? 2 : 1);
      const text = t.slice(i, lineEnd < 0 ? n : lineEnd);
      out.push({
        line,
        malformed: { column: parsed.column, problem: parsed.problem, text: text.length > 1000 ? text.slice(0, 1000) : text },
      });
      line += lineBreaks(t, i, resume);
      i = resume;
    }
    this.#text = t.slice(i);
    this.#line = line;
    return out;
  }

  /** Parses the record starting at `i`. */
  #record(t: string, i: number, final: boolean): Parsed {
    const n = t.length;
    const sep = this.#separator;
    const cells: string[] = [];
    let multiline = false;
    let p = i;
    for (;;) {
      // Spaces before an opening quote are allowed (`a, "Smit, Jr"`).
      let q = p;
      while (q < n && (t.charCodeAt(q) === SPACE || (t.charCodeAt(q) === TAB && sep !== TAB))) q++;
      if (q < n && t.charCodeAt(q) === QUOTE) {
        let value = '';
        let j = q + 1;
        for (;;) {
          const k = t.indexOf('"', j);
          if (k < 0 || (k + 1 >= n && !final)) {
            if (!final) return { kind: 'incomplete', quoted: true };
            return { kind: 'malformed', column: cells.length, problem: 'unclosed-quote', at: q, quotedSpan: true };
          }
          if (t.charCodeAt(k + 1) === QUOTE) {
            value += t.slice(j, k + 1);
            j = k + 2;
            continue;
          }
          value += t.slice(j, k);
          j = k + 1;
          break;
        }
        if (!multiline && (value.includes('\n') || value.includes('\r'))) multiline = true;
        while (j < n && (t.charCodeAt(j) === SPACE || (t.charCodeAt(j) === TAB && sep !== TAB))) j++;
        if (j >= n) {
          if (!final) return { kind: 'incomplete', quoted: false };
          cells.push(value);
          return { kind: 'record', cells, end: n, multiline };
        }
        const c = t.charCodeAt(j);
        if (c === sep) {
          cells.push(value);
          p = j + 1;
          continue;
        }
        if (c === CR || c === LF) {
          if (c === CR && j + 1 >= n && !final) return { kind: 'incomplete', quoted: false };
          cells.push(value);
          return { kind: 'record', cells, end: j, multiline };
        }
        return { kind: 'malformed', column: cells.length, problem: 'stray-quote', at: j, quotedSpan: multiline };
      }
      let j = p;
      while (j < n) {
        const c = t.charCodeAt(j);
        if (c === sep || c === CR || c === LF) break;
        if (c === QUOTE) return { kind: 'malformed', column: cells.length, problem: 'stray-quote', at: j, quotedSpan: multiline };
        j++;
      }
      if (j >= n && !final) return { kind: 'incomplete', quoted: false };
      cells.push(t.slice(p, j));
      if (j >= n) return { kind: 'record', cells, end: n, multiline };
      const c = t.charCodeAt(j);
      if (c === sep) {
        p = j + 1;
        continue;
      }
      if (c === CR && j + 1 >= n && !final) return { kind: 'incomplete', quoted: false };
      return { kind: 'record', cells, end: j, multiline };
    }
  }
}

/** Returns the number of line breaks (\n, \r\n or \r) in t[from, to). */
function lineBreaks(t: string, from: number, to: number): number {
  let count = 0;
  for (let i = from; i < to; i++) {
    const c = t.charCodeAt(i);
    if (c === LF) count++;
    else if (c === CR) {
      count++;
      if (t.charCodeAt(i + 1) === LF) i++;
    }
  }
  return count;
}

function lineStart(t: string, at: number): number {
  let i = at;
  while (i > 0 && t.charCodeAt(i - 1) !== LF && t.charCodeAt(i - 1) !== CR) i--;
  return i;
}

function nextLineBreak(t: string, from: number): number {
  for (let i = from; i < t.length; i++) {
    const c = t.charCodeAt(i);
    if (c === LF || c === CR) return i;
  }
  return -1;
}

// ————— Values —————

const TRUE = new Set(['true', 'yes', 'y', '1', 'ja', 'j', 'oui', 'si', 'sí', 'x', 'waar', 'wahr']);
const FALSE = new Set(['false', 'no', 'n', '0', 'nee', 'nein', 'non', 'onwaar', 'falsch']);
const SUBSCRIBED = new Set([...TRUE, 'subscribed', 'opted in', 'opt-in', 'optin', 'aangemeld', 'ingeschreven']);
const UNSUBSCRIBED = new Set([...FALSE, 'unsubscribed', 'opted out', 'opt-out', 'optout', 'afgemeld', 'uitgeschreven']);

/** Returns the subscription status a cell says (yes/no in several languages, subscribed/unsubscribed), or null. */
export function readStatus(cell: string): SubscriptionStatus | null {
  const value = cell.trim().toLowerCase();
  if (SUBSCRIBED.has(value)) return 'subscribed';
  if (UNSUBSCRIBED.has(value)) return 'unsubscribed';
  return null;
}

/** Returns the cell as a number written with the decimal mark (grouping of thousands allowed), or null. */
export function readNumber(cell: string, decimal: DecimalMark = '.'): number | null {
  // Spaces, non-breaking and thin spaces, and apostrophes group thousands too (1 234,5; 1'234.5).
  const text = cell.replace(/[\s\u00a0\u202f']/g, '');
  const grouped = decimal === ',' ? /^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$/ : /^[+-]?(\d{1,3}(,\d{3})+|\d+)(\.\d+)?$/;
  if (grouped.test(text)) {
    const plain = decimal === ',' ? text.replace(/\./g, '').replace(',', '.') : text.replace(/,/g, '');
    return Number(plain);
  }
  // Beyond grouped decimals, a point-decimal column takes what a program writes: .5, 1e6.
  if (decimal === '.' && /^[+-]?(\d+\.?\d*|\.\d+)(e[+-]?\d+)?$/i.test(text)) return Number(text);
  return null;
}

/** Returns the cell as an ISO date (YYYY-MM-DD) read in the given order, or null when it is no date of the calendar. */
export function readDate(cell: string, order: DateOrder = 'ymd'): string | null {
  const text = cell.trim();
  let parts: [string, string, string] | null = null;
  if (order === 'ymd') {
    const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text);
    if (m) parts = [m[1], m[2], m[3]];
  } else {
    const m = /^(\d{1,2})[-/.](\d{1,2})[-/.](\d{4})$/.exec(text);
    if (m) parts = order === 'dmy' ? [m[3], m[2], m[1]] : [m[3], m[1], m[2]];
  }
  if (!parts) return null;
  const [year, month, day] = parts.map(Number);
  const date = new Date(Date.UTC(year, month - 1, day));
  if (date.getUTCFullYear() !== year || date.getUTCMonth() !== month - 1 || date.getUTCDate() !== day) return null;
  return `${parts[0]}-${parts[1].padStart(2, '0')}-${parts[2].padStart(2, '0')}`;
}

const DATE_EXAMPLE: Record<DateOrder, string> = { ymd: 'YYYY-MM-DD', dmy: 'DD-MM-YYYY', mdy: 'MM/DD/YYYY' };

/** Returns the cell read as the attribute's type (in the column's format), or why it cannot be. */
export function readValue(
  cell: string,
  type: AttributeType,
  format: ValueFormat = {},
): { ok: true; value: AttributeValue } | { ok: false; reason: string } {
  switch (type) {
    case 'text':
      return { ok: true, value: cell };
    case 'number': {
      const value = readNumber(cell, format.decimal);
      if (value !== null && Number.isFinite(value)) return { ok: true, value };
      return { ok: false, reason: `not a number "${cell}"${format.decimal ? ` (read with a ${decimalName(format.decimal)})` : ''}` };
    }
    case 'boolean': {
      const lower = cell.toLowerCase();
      if (TRUE.has(lower)) return { ok: true, value: true };
      if (FALSE.has(lower)) return { ok: true, value: false };
      return { ok: false, reason: `not yes or no "${cell}"` };
    }
    case 'date': {
      const value = readDate(cell, format.dates);
      return value ? { ok: true, value } : { ok: false, reason: `bad date "${cell}": use ${DATE_EXAMPLE[format.dates ?? 'ymd']}` };
    }
    case 'tags':
      return {
        ok: true,
        value: [
          ...new Set(
            cell
              .split(/[|;,]/)
              .map((t) => t.trim())
              .filter(Boolean),
          ),
        ],
      };
  }
}

const decimalName = (decimal: DecimalMark) => (decimal === ',' ? 'decimal comma, as 1.234,56' : 'decimal point, as 1,234.56');

/** Returns how a column's values are read, in words ("numbers with a decimal comma (1.234,56)"), or null when nothing needs saying. */
export function describeFormat(type: AttributeType, format: ValueFormat): string | null {
  if (type === 'number' && format.decimal === ',') return 'numbers with a decimal comma (1.234,56)';
  if (type === 'number' && format.decimal === '.') return 'numbers with a decimal point (1,234.56)';
  if (type === 'date' && format.dates === 'dmy') return 'dates written day-month-year (31-12-1990)';
  if (type === 'date' && format.dates === 'mdy') return 'dates written month/day/year (12/31/1990)';
  if (type === 'date') return 'dates written year-month-day (1990-12-31)';
  return null;
}

// ————— Guessing a column from its values —————

/** What the values of a column suggest: its type and format, with a few of its values to show. */
export interface ColumnGuess {
  type: AttributeType;
  /** The decimal mark of a number column whose values show one. */
  decimal?: DecimalMark;
  /** The order of a date column's parts. */
  dates?: DateOrder;
  /** Up to three distinct values, in the order of the file. */
  samples: string[];
  /** Cells with a value, of the rows looked at. */
  filled: number;
}

const NUMBERISH = /^[+-]?[\d.,\s\u00a0\u202f']+$/;

/** Returns the decimal mark the values show, or undefined when none shows one (whole numbers, or only 1.234-like values). */
export function guessDecimal(values: readonly string[], separator = ','): DecimalMark | undefined {
  let comma = 0;
  let point = 0;
  let ambiguous = 0;
  for (const raw of values) {
    const v = raw.replace(/[\s\u00a0\u202f']/g, '');
    if (/^[+-]?\d{1,3}(\.\d{3})+,\d+$/.test(v) || /^[+-]?\d{1,3}(\.\d{3}){2,}$/.test(v)) comma++;
    else if (/^[+-]?\d{1,3}(,\d{3})+\.\d+$/.test(v) || /^[+-]?\d{1,3}(,\d{3}){2,}$/.test(v)) point++;
    // 12,5 and 0,125 are decimals; 1,234 could be either.
    else if (/^[+-]?\d+,\d+$/.test(v)) {
      if (/^[+-]?(0|\d{4,}),\d+$|,(\d{1,2}|\d{4,})$/.test(v)) comma++;
      else ambiguous++;
    } else if (/^[+-]?\d+\.\d+$/.test(v)) {
      if (/^[+-]?(0|\d{4,})\.\d+$|\.(\d{1,2}|\d{4,})$/.test(v)) point++;
      else ambiguous++;
    }
  }
  if (comma > point) return ',';
  if (point > comma) return '.';
  // Only 1.234 or 1,234: a semicolon-separated file is a continental spreadsheet's.
  if (ambiguous > 0) return separator === ';' ? ',' : '.';
  return undefined;
}

/** Returns the order the date values are written in, or null when they are not dates. */
function guessDateOrder(values: readonly string[]): DateOrder | null {
  if (values.every((v) => readDate(v, 'ymd'))) return 'ymd';
  if (!values.every((v) => /^\d{1,2}[-/.]\d{1,2}[-/.]\d{4}$/.test(v.trim()))) return null;
  // A first part over 12 is a day; a second part over 12 is a day written second. Else day first, as Europe writes.
  const firstOver12 = values.some((v) => Number(v.trim().split(/[-/.]/)[0]) > 12);
  const secondOver12 = values.some((v) => Number(v.trim().split(/[-/.]/)[1]) > 12);
  const order: DateOrder = !firstOver12 && secondOver12 ? 'mdy' : 'dmy';
  return values.every((v) => readDate(v, order)) ? order : null;
}

const TAG_NAMES =
  /(^|_)(tags?|interests?|interesses?|interessen|labels?|categorie(en|s)?|categor(y|ies)|segments?|groups?|groepen|hobby|hobbies)($|_)/;

/** Returns true when the values read as short lists of a small vocabulary (shoes|sale, "sport, reizen"). */
function looksLikeTags(name: string, values: readonly string[]): boolean {
  const lists = values.filter((v) => /[|;,]/.test(v));
  if (lists.length === 0) return false;
  const items = values.flatMap((v) => v.split(/[|;,]/).map((t) => t.trim())).filter(Boolean);
  if (items.some((t) => t.length > 30 || t.split(/\s+/).length > 3 || !/\p{L}/u.test(t))) return false;
  if (TAG_NAMES.test(name)) return true;
  // A vocabulary: items repeat across rows, and the lists are not the odd cell.
  const distinct = new Set(items.map((t) => t.toLowerCase())).size;
  return lists.length >= Math.max(2, values.length * 0.2) && distinct <= Math.max(3, items.length / 3);
}

/** Returns the type and format a column's values suggest (empty cells are left out), with samples to show. */
export function guessColumn(column: string, cells: readonly string[], separator = ','): ColumnGuess {
  const values = cells.map((c) => c.trim()).filter((c) => c !== '');
  const samples: string[] = [];
  for (const v of values) {
    if (samples.length === 3) break;
    if (!samples.includes(v)) samples.push(v);
  }
  const guess = (type: AttributeType, format: ValueFormat = {}): ColumnGuess => ({ type, ...format, samples, filled: values.length });
  if (values.length === 0) return guess('text');
  const name = fieldNameOf(column);
  const lower = values.map((v) => v.toLowerCase());
  if (lower.every((v) => TRUE.has(v) || FALSE.has(v)) && !(lower.every((v) => v === '1') || lower.every((v) => v === '0')))
    return guess('boolean');
  // Identifiers look like numbers but are not: a leading zero (0612…, postcodes), a + (phone), too many digits.
  const identifier = values.some((v) => /^0\d/.test(v) || v.startsWith('+') || v.replace(/\D/g, '').length > 15);
  if (!identifier && values.every((v) => NUMBERISH.test(v))) {
    const decimal = guessDecimal(values, separator);
    if (values.every((v) => readNumber(v, decimal ?? '.') !== null)) return guess('number', decimal ? { decimal } : {});
  }
  const dates = guessDateOrder(values);
  if (dates) return guess('date', { dates });
  if (looksLikeTags(name, values)) return guess('tags');
  return guess('text');
}

/** Returns the format to read a column with as `type`: the guessed one when the guess is of that type, else what its values show. */
export function formatFor(type: AttributeType, guess: ColumnGuess | undefined, cells: readonly string[], separator = ','): ValueFormat {
  if (type === 'number') {
    const decimal =
      guess?.type === 'number'
        ? guess.decimal
        : guessDecimal(
            cells.filter((c) => c.trim()),
            separator,
          );
    return decimal ? { decimal } : {};
  }
  if (type === 'date') {
    const values = cells.map((c) => c.trim()).filter(Boolean);
    return { dates: guess?.dates ?? (values.length ? (guessDateOrder(values) ?? 'ymd') : 'ymd') };
  }
  return {};
}

// ————— The mapping —————

const SYNONYMS: Record<string, keyof typeof CORE_FIELDS | 'status'> = {
  email: 'email',
  e_mail: 'email',
  emailaddress: 'email',
  email_address: 'email',
  emailadres: 'email',
  e_mailadres: 'email',
  mail: 'email',
  first_name: 'first_name',
  firstname: 'first_name',
  given_name: 'first_name',
  voornaam: 'first_name',
  vorname: 'first_name',
  prenom: 'first_name',
  last_name: 'last_name',
  lastname: 'last_name',
  surname: 'last_name',
  family_name: 'last_name',
  achternaam: 'last_name',
  nachname: 'last_name',
  nom: 'last_name',
  locale: 'locale',
  language: 'locale',
  taal: 'locale',
  sprache: 'locale',
  time_zone: 'time_zone',
  timezone: 'time_zone',
  tz: 'time_zone',
  tijdzone: 'time_zone',
  status: 'status',
  subscription: 'status',
  subscribed: 'status',
};

/**
 * Column names that say whether a person agreed to be mailed: mapped to the subscription
 * status when their values are yes/no. Names that say the opposite (opt-out, afgemeld,
 * unsubscribed) are not: their "yes" means do not mail.
 */
const CONSENT =
  /(^|_)(opt_?in|opted_in|optin|newsletter|nieuwsbrief|toestemming|consent|permission|subscribed|subscription|aangemeld|ingeschreven|marketing|mailing|mailings|einwilligung)($|_)/;
const DISSENT = /(^|_)(un|opt_?out|optout|opted_out|afgemeld|afmelden|uitgeschreven|unsubscribed?|no_?mail|geen)($|_)|^un/;

/** Returns true when the column's name says it holds consent to mail (Opt-in, Nieuwsbrief, Toestemming…). */
export function isConsentColumn(column: string): boolean {
  const name = fieldNameOf(column);
  return CONSENT.test(name) && !DISSENT.test(name);
}

/** Returns a column name as an identifier: lower case, words joined by "_". */
export function fieldNameOf(column: string): string {
  return column
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .replace(/^(\d)/, '_$1');
}

/**
 * Returns the mapping Mailroom proposes: known fields by name (and the address column by its
 * values when no name says Email), a consent column with yes/no values as the subscription
 * status, known attributes (read in the format their values show), and new attributes of the
 * type their values suggest. `rows` are the first records of the file (none: every new
 * attribute is text).
 */
export function proposeMapping(
  columns: readonly string[],
  schema: readonly AttributeDefinition[],
  rows: readonly (readonly string[])[] = [],
  separator = ',',
): ColumnMapping {
  const used = new Set<string>();
  const cellsOf = (i: number) => rows.map((r) => r[i] ?? '');
  const guesses = columns.map((column, i) => guessColumn(column, cellsOf(i), separator));
  const mapping = columns.map((column, i): ColumnTarget => {
    const name = fieldNameOf(column);
    const core = SYNONYMS[name] ?? SYNONYMS[name.replace(/_/g, '')];
    if (core && !used.has(core)) {
      used.add(core);
      return { kind: 'field', name: core };
    }
    const said = cellsOf(i).filter((c) => c.trim() !== '');
    if (!used.has('status') && isConsentColumn(column) && said.length > 0 && said.every((c) => readStatus(c) !== null)) {
      used.add('status');
      return { kind: 'field', name: 'status' };
    }
    if (!name || used.has(name)) return { kind: 'ignore' };
    used.add(name);
    const existing = schema.find((a) => a.name === name);
    // A column named as an engagement field (a "Last open" of another tool) becomes an attribute of its own name.
    if (!existing && ENGAGEMENT_NAMES.has(name)) {
      const { type, decimal, dates } = guesses[i];
      return { kind: 'new-attribute', name: `${name}_imported`, type, ...(decimal ? { decimal } : {}), ...(dates ? { dates } : {}) };
    }
    if (existing) return { kind: 'attribute', name, ...formatFor(existing.type, guesses[i], cellsOf(i), separator) };
    const { type, decimal, dates } = guesses[i];
    return { kind: 'new-attribute', name, type, ...(decimal ? { decimal } : {}), ...(dates ? { dates } : {}) };
  });
  // No column named as the address: the one whose values are addresses.
  if (!used.has('email') && rows.length > 0) {
    const byValues = columns.findIndex((_, i) => {
      const values = cellsOf(i).filter((c) => c.trim() !== '');
      return values.length > 0 && values.filter((v) => isValidEmail(normalizeEmail(v))).length >= values.length * 0.8;
    });
    if (byValues >= 0) mapping[byValues] = { kind: 'field', name: 'email' };
  }
  return mapping;
}

/** Returns why a mapping cannot be used, or null. */
export function mappingProblem(mapping: ColumnMapping, schema: readonly AttributeDefinition[]): string | null {
  const targets = mapping.filter((t) => t.kind !== 'ignore').map((t) => ('name' in t ? t.name : ''));
  if (!mapping.some((t) => t.kind === 'field' && t.name === 'email')) {
    return 'No column is mapped to Email: every profile needs an address. Map the column that holds it.';
  }
  const twice = targets.find((t, i) => targets.indexOf(t) !== i);
  if (twice) return `Two columns are mapped to "${twice}"; map each field once.`;
  for (const target of mapping) {
    if (target.kind === 'attribute' && !schema.some((a) => a.name === target.name))
      return `There is no attribute "${target.name}" in the audience.`;
    if (target.kind === 'new-attribute') {
      if (!/^[a-z_][a-z0-9_]*$/.test(target.name))
        return `"${target.name}" cannot name an attribute: use lower-case letters, digits and _.`;
      if (target.name in CORE_FIELDS || target.name === 'status') return `"${target.name}" is a core field, not an attribute.`;
      if (ENGAGEMENT_NAMES.has(target.name) && !schema.some((a) => a.name === target.name))
        return `"${target.name}" is Mailroom's own engagement field (opens and clicks it records): name the attribute otherwise, e.g. ${target.name}_imported.`;
      const existing = schema.find((a) => a.name === target.name);
      if (existing && existing.type !== target.type) return `The attribute "${target.name}" is a ${existing.type}, not a ${target.type}.`;
    }
  }
  return null;
}

/** Returns the conventions a mapping reads its columns with, per column, in words (for the dialog and the import's summary). */
export function mappingFormats(
  columns: readonly string[],
  mapping: ColumnMapping,
  schema: readonly AttributeDefinition[],
): { column: string; field: string; format: string }[] {
  return mapping.flatMap((target, i) => {
    if (target.kind !== 'attribute' && target.kind !== 'new-attribute') return [];
    const type = target.kind === 'new-attribute' ? target.type : schema.find((a) => a.name === target.name)?.type;
    const format = type && describeFormat(type, target);
    return format ? [{ column: columns[i], field: target.name, format }] : [];
  });
}

// ————— Reading a row —————

/** A row read as a profile: the address normalized, attributes always present. */
export type ImportedProfile = ProfileInput & { attributes: Record<string, AttributeValue> };

export type RowResult = { ok: true; profile: ImportedProfile } | { ok: false; email: string; reason: string };

/**
 * Returns the profile a row describes, or why the row is rejected. Empty cells leave the
 * field as it is; `types` gives the type of every attribute the mapping writes.
 */
export function readRow(cells: readonly string[], mapping: ColumnMapping, types: ReadonlyMap<string, AttributeType>): RowResult {
  const profile: ImportedProfile = { email: '', attributes: {} };
  let rawEmail = '';
  for (let i = 0; i < mapping.length; i++) {
    const target = mapping[i];
    const cell = (cells[i] ?? '').trim();
    if (target.kind === 'ignore' || cell === '') continue;
    if (target.kind === 'field') {
      if (target.name === 'email') rawEmail = cell;
      else if (target.name === 'status') {
        const status = readStatus(cell);
        if (!status)
          return { ok: false, email: rawEmail, reason: `unknown subscription status "${cell}": use subscribed or unsubscribed, yes or no` };
        profile.status = status;
      } else profile[CORE_FIELDS[target.name] as 'firstName' | 'lastName' | 'locale' | 'timeZone'] = cell;
      continue;
    }
    const type = target.kind === 'new-attribute' ? target.type : types.get(target.name);
    if (!type) return { ok: false, email: rawEmail, reason: `unknown column type for "${target.name}"` };
    const value = readValue(cell, type, target);
    if (!value.ok) return { ok: false, email: rawEmail, reason: `${value.reason} in "${target.name}"` };
    profile.attributes[target.name] = value.value;
  }
  if (rawEmail === '') return { ok: false, email: '', reason: 'missing email' };
  const email = normalizeEmail(rawEmail);
  if (!isValidEmail(email)) return { ok: false, email: rawEmail, reason: `invalid address "${rawEmail}"` };
  profile.email = email;
  return { ok: true, profile };
}

/** Returns why a malformed record is rejected, naming its column, and the address its line seems to hold (for the report). */
export function malformedRow(
  record: Extract<CsvRecord, { malformed: unknown }>,
  columns: readonly string[],
  mapping: ColumnMapping,
  separator: string,
): { email: string; reason: string } {
  const { column, problem, text } = record.malformed;
  const at = mapping.findIndex((t) => t.kind === 'field' && t.name === 'email');
  const email = at >= 0 ? (splitLine(text, separator)[at] ?? '') : '';
  const name = columns[column] ? `"${columns[column]}"` : `${column + 1}`;
  const reason =
    problem === 'stray-quote'
      ? `stray quote in column ${name}: a value holding a quote must be quoted, with the quote doubled ("")`
      : `quote opened in column ${name} is never closed`;
  return { email, reason };
}

// ————— What the file holds, before importing —————

/** How a column's cells read as a subscription status, over the whole file (or as far as it was read). */
export interface StatusCounts {
  yes: number;
  no: number;
  empty: number;
  /** Cells that are neither (those rows are rejected when the column is the status). */
  other: number;
  /** A cell that is neither, to show. */
  otherSample: string | null;
}

/**
 * What the app learns of a file before importing it, record by record: the header, the
 * first records (to guess from and to show), how many rows there are and how many are
 * malformed, and per column how its cells read as yes/no (what a consent column says).
 */
export class ImportSurvey {
  columns: string[] = [];
  readonly sample: string[][] = [];
  rows = 0;
  malformed = 0;
  statuses: StatusCounts[] = [];

  constructor(
    private readonly separator: string,
    private readonly sampleSize = 1_000,
  ) {}

  /** Takes the next record of the file; the first one is the header. */
  add(record: CsvRecord): void {
    if (this.columns.length === 0) {
      this.columns = 'cells' in record ? record.cells.map((c) => c.trim()) : splitLine(record.malformed.text, this.separator);
      this.statuses = this.columns.map(() => ({ yes: 0, no: 0, empty: 0, other: 0, otherSample: null }));
      return;
    }
    this.rows++;
    if (!('cells' in record)) {
      this.malformed++;
      return;
    }
    if (this.sample.length < this.sampleSize) this.sample.push(record.cells);
    for (let i = 0; i < this.statuses.length; i++) {
      const counts = this.statuses[i];
      const cell = (record.cells[i] ?? '').trim();
      if (cell === '') counts.empty++;
      else {
        const status = readStatus(cell);
        if (status === 'subscribed') counts.yes++;
        else if (status === 'unsubscribed') counts.no++;
        else {
          counts.other++;
          counts.otherSample ??= cell;
        }
      }
    }
  }
}

/** What an import did, as the server answers it and the import dialog reports it (one type, so the two cannot drift). */
export interface ImportSummary {
  id: string;
  fileName: string;
  rows: number;
  inserted: number;
  updated: number;
  rejected: number;
  /** Rows whose address already appeared earlier in the file (the later row wins). */
  repeated: number;
  /** Rows imported as unsubscribed because the column mapped to the status said no. */
  unsubscribed: number;
  /** Rows that said subscribed for someone who had unsubscribed through a message: they stay unsubscribed. */
  keptUnsubscribed: number;
  /** Rows at the address of a profile erased at its owner's request: not imported. */
  erased?: number;
  columns: string[];
  /** How number and date columns were read (the decimal mark, the order of dates), per column. */
  formats: { column: string; field: string; format: string }[];
  /** The text encoding the file was read in: UTF-8, or Windows-1252 when it is not valid UTF-8. */
  encoding: 'utf-8' | 'windows-1252';
}
