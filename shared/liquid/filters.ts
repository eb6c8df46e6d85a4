/**
 * Shopify Liquid's standard filters on text, numbers, dates and lists, with the semantics of
 * liquidjs (the reference implementation in JavaScript), except where FILTER_NOTES says.
 *
 * A filter never throws: whatever the values, it returns a value (text that is no base64
 * decodes to "", a malformed URL escape is left as it is). Each filter declares how many
 * values it takes, so a wrong call is a compile error with line and column, not a surprise
 * per recipient.
 */

import { formatDate } from './dates';
import { escapeHtml, unescapeHtml } from './escape';
import { equals, isTruthy, plain, propertyPath, scopePath, stringify, toArray, toNumber, toValue, NilDrop, type Value } from './values';

/** What a filter may read besides its values: the send time ("now") and the profile's locale (for date names). */
export interface FilterContext {
  readonly now: number;
  readonly locale: unknown;
}

export interface FilterDefinition {
  /** The fewest and most values after the colon. */
  min: number;
  max: number;
  /** Named values it accepts (`allow_false: true`). */
  keywords?: readonly string[];
  /** How a call is written, for error messages. */
  usage: string;
  run(input: Value, args: readonly Value[], context: FilterContext, keywords: Readonly<Record<string, Value>> | null): Value;
}

const str = stringify;

/** Returns the text with `chars` (each a code point) taken off its start. */
function trimStartOf(text: string, chars: Set<string>): number {
  let start = 0;
  for (const char of text) {
    if (!chars.has(char)) break;
    start += char.length;
  }
  return start;
}

function trimEndOf(text: string, chars: Set<string>, start = 0): number {
  let end = text.length;
  while (end > start) {
    const size = end - start >= 2 && text.codePointAt(end - 2)! > 0xffff ? 2 : 1;
    if (!chars.has(text.slice(end - size, end))) break;
    end -= size;
  }
  return end;
}

function advanceCodePoints(text: string, from: number, count: number): number {
  let index = from;
  for (let i = 0; i < count && index < text.length; i++) index += text.codePointAt(index)! > 0xffff ? 2 : 1;
  return index;
}

function codePointLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i = advanceCodePoints(text, i, 1)) length++;
  return length;
}

const isNil = (v: unknown) => v === null || v === undefined;

/** The first (0) or last (-1) item of a list or character of text; "" for anything else (as liquidjs). */
function edge(input: Value, at: 0 | -1): Value {
  const v = toValue(input);
  if (!(Array.isArray(v) || (typeof v === 'string' && v.length > 0))) return '';
  const list = v as readonly Value[] | string;
  return list.length > 0 ? list[at < 0 ? list.length - 1 : 0] : undefined;
}

/** Orders nil last, the rest as JavaScript orders them (sort). */
function orderedCompare(a: Value, b: Value): number {
  if (isNil(a) && isNil(b)) return 0;
  if (isNil(a)) return 1;
  if (isNil(b)) return -1;
  const x = toValue(a) as number;
  const y = toValue(b) as number;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Orders nil last, the rest as lower-cased text (sort_natural). */
function naturalCompare(a: Value, b: Value): number {
  if (isNil(a) && isNil(b)) return 0;
  if (isNil(a)) return 1;
  if (isNil(b)) return -1;
  const x = String(toValue(a)).toLowerCase();
  const y = String(toValue(b)).toLowerCase();
  return x < y ? -1 : x > y ? 1 : 0;
}

function sortBy(input: Value, property: Value, compare: (a: Value, b: Value) => number): Value[] {
  const path = toValue(property) ? str(property).split('.') : null;
  const pairs = toArray(input).map((item) => [item, path ? propertyPath(item, path) : item] as const);
  return pairs.sort((a, b) => compare(a[1], b[1])).map((pair) => pair[0]);
}

/** The items whose `property` (read with the item as the scope) is truthy, or equal to `expected` when given. */
function filterBy(input: Value, property: Value, expected: Value, include: boolean): Value[] {
  const path = str(property) === '' ? [] : str(property).split('.');
  return toArray(input).filter((item) => {
    const value = scopePath(item, path);
    return (expected !== undefined ? equals(value, expected) : isTruthy(value)) === include;
  });
}

function findIndex(input: Value, property: Value, expected: Value): number {
  const path = str(property) === '' ? [] : str(property).split('.');
  const list = toArray(input);
  for (let i = 0; i < list.length; i++) {
    const value = scopePath(list[i], path);
    if (expected !== undefined ? equals(value, expected) : isTruthy(value)) return i;
  }
  return -1;
}

function shiftDecimal(n: number, exponent: number): number {
  const [mantissa, power = '0'] = String(n).split('e');
  return Number(`${mantissa}e${Number(power) + exponent}`);
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8');

/** Returns the UTF-8 bytes of the text in base64, padded. */
export function base64Encode(text: string): string {
  const bytes = encoder.encode(text);
  let out = '';
  for (let i = 0; i < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | ((bytes[i + 1] ?? 0) << 8) | (bytes[i + 2] ?? 0);
    out += BASE64[n >> 18] + BASE64[(n >> 12) & 63];
    out += i + 1 < bytes.length ? BASE64[(n >> 6) & 63] : '=';
    out += i + 2 < bytes.length ? BASE64[n & 63] : '=';
  }
  return out;
}

/** Returns the text base64 stands for (invalid UTF-8 as U+FFFD), or null when it is not base64. */
export function base64Decode(text: string): string | null {
  let body = text.replace(/[\t\n\f\r ]/g, '');
  if (body.length % 4 === 0) body = body.replace(/==?$/, '');
  if (body.length % 4 === 1 || !/^[A-Za-z0-9+/]*$/.test(body)) return null;
  const bytes = new Uint8Array(Math.floor((body.length * 3) / 4));
  let bits = 0;
  let buffer = 0;
  let at = 0;
  for (const char of body) {
    buffer = (buffer << 6) | BASE64.indexOf(char);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      bytes[at++] = (buffer >> bits) & 255;
    }
  }
  return decoder.decode(bytes.subarray(0, at));
}

function stripHtml(text: string): string {
  const blocks = new Map([
    ['<script', '</script>'],
    ['<style', '</style>'],
    ['<!--', '-->'],
    ['<', '>'],
  ]);
  let out = '';
  let i = 0;
  while (i < text.length) {
    const lt = text.indexOf('<', i);
    if (lt < 0) return out + text.slice(i);
    out += text.slice(i, lt);
    for (const [opener, closer] of blocks) {
      if (!text.startsWith(opener, lt)) continue;
      const end = text.indexOf(closer, lt + opener.length);
      if (end >= 0) {
        i = end + closer.length;
        break;
      }
      blocks.delete(opener);
    }
    if (i <= lt) return out + text.slice(lt);
  }
  return out;
}

type Run = FilterDefinition['run'];
const f = (min: number, max: number, usage: string, run: Run, keywords?: readonly string[]): FilterDefinition => ({
  min,
  max,
  usage,
  run,
  keywords,
});
/** A filter on numbers: every value (input and arguments) read as a number, 0 when it is none. */
const math = (arity: 0 | 1, usage: string, op: (a: number, b: number) => number) =>
  f(arity, arity, usage, (input, args) => op(toNumber(input), arity ? toNumber(args[0]) : NaN));

export const FILTERS: Readonly<Record<string, FilterDefinition>> = {
  default: f(
    1,
    1,
    'default: "there"',
    (input, args, _c, keywords) => {
      const v = toValue(input);
      if (Array.isArray(v) || typeof v === 'string') return v.length ? input : args[0];
      if (v === false && keywords?.allow_false) return false;
      return isTruthy(v) ? input : args[0];
    },
    ['allow_false'],
  ),

  // Text
  append: f(1, 1, 'append: " and more"', (input, [a]) => str(input) + str(a)),
  prepend: f(1, 1, 'prepend: "Dear "', (input, [a]) => str(a) + str(input)),
  capitalize: f(0, 0, 'capitalize', (input) => {
    const s = str(input);
    return s.charAt(0).toUpperCase() + s.slice(1).toLowerCase();
  }),
  upcase: f(0, 0, 'upcase', (input) => str(input).toUpperCase()),
  downcase: f(0, 0, 'downcase', (input) => str(input).toLowerCase()),
  strip: f(0, 1, 'strip', (input, [chars]) => {
    const s = str(input);
    if (!chars) return s.trim();
    const set = new Set(str(chars));
    const start = trimStartOf(s, set);
    return s.slice(start, trimEndOf(s, set, start));
  }),
  lstrip: f(0, 1, 'lstrip', (input, [chars]) => {
    const s = str(input);
    return chars ? s.slice(trimStartOf(s, new Set(str(chars)))) : s.trimStart();
  }),
  rstrip: f(0, 1, 'rstrip', (input, [chars]) => {
    const s = str(input);
    return chars ? s.slice(0, trimEndOf(s, new Set(str(chars)))) : s.trimEnd();
  }),
  strip_html: f(0, 0, 'strip_html', (input) => stripHtml(str(input))),
  strip_newlines: f(0, 0, 'strip_newlines', (input) => str(input).replace(/\r?\n/g, '')),
  newline_to_br: f(0, 0, 'newline_to_br', (input) => str(input).replace(/\r?\n/g, '<br />\n')),
  truncate: f(0, 2, 'truncate: 20', (input, args) => {
    const s = str(input);
    const length = (args[0] === undefined ? 50 : toValue(args[0])) as number;
    const ellipsis = args[1] === undefined ? '...' : str(args[1]);
    if (s.length <= length || advanceCodePoints(s, 0, length) >= s.length) return input;
    return s.slice(0, advanceCodePoints(s, 0, Math.max(length - codePointLength(ellipsis), 0))) + ellipsis;
  }),
  truncatewords: f(0, 2, 'truncatewords: 5', (input, args) => {
    const s = str(input);
    let words = (args[0] === undefined ? 15 : toValue(args[0])) as number;
    const ellipsis = args[1] === undefined ? '...' : str(args[1]);
    const list = s.trimStart().split(/\s+/);
    if (words <= 0) words = 1;
    // As Shopify Liquid: the ellipsis only when words were left out (liquidjs adds it at exactly `words` words too).
    if (list.length <= words) return s;
    return list.slice(0, words).join(' ') + ellipsis;
  }),
  replace: f(1, 2, 'replace: "old", "new"', (input, [a, b]) => str(input).split(str(a)).join(str(b))),
  replace_first: f(1, 2, 'replace_first: "old", "new"', (input, [a, b]) => {
    const replacement = str(b);
    return str(input).replace(str(a), () => replacement);
  }),
  replace_last: f(1, 2, 'replace_last: "old", "new"', (input, [a, b]) => {
    const s = str(input);
    const pattern = str(a);
    const at = s.lastIndexOf(pattern);
    return at === -1 ? s : s.substring(0, at) + str(b) + s.substring(at + pattern.length);
  }),
  remove: f(1, 1, 'remove: "text"', (input, [a]) => str(input).split(str(a)).join('')),
  remove_first: f(1, 1, 'remove_first: "text"', (input, [a]) => str(input).replace(str(a), '')),
  remove_last: f(1, 1, 'remove_last: "text"', (input, [a]) => {
    const s = str(input);
    const pattern = str(a);
    const at = s.lastIndexOf(pattern);
    return at === -1 ? s : s.substring(0, at) + s.substring(at + pattern.length);
  }),
  split: f(1, 1, 'split: ","', (input, [a]) => {
    const parts: string[] = str(input).split(str(a));
    while (parts.length && parts[parts.length - 1] === '') parts.pop();
    return parts;
  }),
  escape: f(0, 0, 'escape', (input) => escapeHtml(str(input))),
  escape_once: f(0, 0, 'escape_once', (input) => escapeHtml(unescapeHtml(str(input)))),
  url_encode: f(0, 0, 'url_encode', (input) => encodeURIComponent(str(input)).replace(/%20/g, '+')),
  url_decode: f(0, 0, 'url_decode', (input) => {
    const s = str(input).replace(/\+/g, ' ');
    try {
      return decodeURIComponent(s);
    } catch {
      return s;
    }
  }),
  base64_encode: f(0, 0, 'base64_encode', (input) => base64Encode(str(input))),
  base64_decode: f(0, 0, 'base64_decode', (input) => base64Decode(str(input)) ?? ''),
  base64_url_safe_encode: f(0, 0, 'base64_url_safe_encode', (input) => base64Encode(str(input)).replace(/\+/g, '-').replace(/\//g, '_')),
  base64_url_safe_decode: f(0, 0, 'base64_url_safe_decode', (input) => {
    const s = str(input).replace(/-/g, '+').replace(/_/g, '/');
    return base64Decode(s.length % 4 ? s.padEnd(s.length + 4 - (s.length % 4), '=') : s) ?? '';
  }),

  // Lists (and text as a list of one)
  join: f(0, 1, 'join: ", "', (input, args) => {
    const separator = args.length === 0 || isNil(toValue(args[0])) ? ' ' : str(args[0]);
    return toArray(input)
      .map((item) => plain(item))
      .join(separator);
  }),
  first: f(0, 0, 'first', (input) => edge(input, 0)),
  last: f(0, 0, 'last', (input) => edge(input, -1)),
  size: f(0, 0, 'size', (input) => {
    const v = plain(input);
    if (typeof v === 'string' || Array.isArray(v)) return v.length;
    return v instanceof NilDrop || v === null || v === undefined ? 0 : ((v as { length?: number }).length ?? 0) || 0;
  }),
  reverse: f(0, 0, 'reverse', (input) => [...toArray(input)].reverse()),
  sort: f(0, 1, 'sort', (input, [property]) => sortBy(input, property, orderedCompare)),
  sort_natural: f(0, 1, 'sort_natural', (input, [property]) => sortBy(input, property, naturalCompare)),
  uniq: f(0, 0, 'uniq', (input) => [...new Set(toArray(input))]),
  compact: f(0, 0, 'compact', (input) => toArray(input).filter((item) => !isNil(toValue(item)))),
  concat: f(1, 1, 'concat: other_list', (input, [other]) => [...toArray(input), ...toArray(other)]),
  map: f(1, 1, 'map: "size"', (input, [property]) => toArray(input).map((item) => propertyPath(item, str(property).split('.')))),
  where: f(1, 2, 'where: "property", "value"', (input, args) => filterBy(input, args[0], args[1], true)),
  reject: f(1, 2, 'reject: "property", "value"', (input, args) => filterBy(input, args[0], args[1], false)),
  find: f(1, 2, 'find: "property", "value"', (input, args) => {
    const at = findIndex(input, args[0], args[1]);
    return at < 0 ? undefined : toArray(input)[at];
  }),
  find_index: f(1, 2, 'find_index: "property", "value"', (input, args) => {
    const at = findIndex(input, args[0], args[1]);
    return at < 0 ? undefined : at;
  }),
  has: f(1, 2, 'has: "property", "value"', (input, args) => findIndex(input, args[0], args[1]) >= 0),
  sum: f(0, 1, 'sum', (input, [property]) => {
    let total = 0;
    for (const item of toArray(input)) {
      const n = Number(toValue(toValue(property) ? propertyPath(item, str(property).split('.')) : item));
      total += Number.isNaN(n) ? 0 : n;
    }
    return total;
  }),
  slice: f(1, 2, 'slice: 0, 3', (input, args) => {
    const v = toValue(input);
    if (isNil(v)) return [];
    const list = Array.isArray(v) ? (v as Value[]) : str(v);
    const length = (args.length > 1 ? toValue(args[1]) : 1) as number;
    let begin = toValue(args[0]) as number;
    begin = begin < 0 ? (Array.isArray(list) ? list.length : codePointLength(list)) + begin : begin;
    if (begin < 0 || length < 0) return Array.isArray(list) ? [] : '';
    if (Array.isArray(list)) return list.slice(begin, begin + length);
    const text = list as string;
    const start = advanceCodePoints(text, 0, begin);
    return text.slice(start, advanceCodePoints(text, start, length));
  }),

  // Numbers
  plus: math(1, 'plus: 1', (a, b) => a + b),
  minus: math(1, 'minus: 1', (a, b) => a - b),
  times: math(1, 'times: 2', (a, b) => a * b),
  divided_by: math(1, 'divided_by: 2', (a, b) => a / b),
  modulo: math(1, 'modulo: 2', (a, b) => ((a % b) + b) % b),
  at_least: math(1, 'at_least: 0', (a, b) => Math.max(a, b)),
  at_most: math(1, 'at_most: 100', (a, b) => Math.min(a, b)),
  abs: math(0, 'abs', (a) => Math.abs(a)),
  ceil: math(0, 'ceil', (a) => Math.ceil(a)),
  floor: math(0, 'floor', (a) => Math.floor(a)),
  round: f(0, 1, 'round: 2', (input, args) => {
    const v = toNumber(input);
    const places = args.length ? toNumber(args[0]) : 0;
    // Shifting by 0 places gives the number itself: skip the text round trip.
    const scaled = places === 0 ? Math.abs(v) : shiftDecimal(Math.abs(v), places);
    if (places === 0 && scaled <= Number.MAX_SAFE_INTEGER) return v < 0 ? -Math.round(scaled) : Math.round(scaled);
    if (!(scaled <= Number.MAX_SAFE_INTEGER)) return v;
    const rounded = shiftDecimal(Math.round(scaled), -places);
    return v < 0 ? -rounded : rounded;
  }),

  // Dates
  date: f(0, 1, 'date: "%d %B %Y"', (input, args, context) => {
    const format = args.length ? toValue(args[0]) : undefined;
    return formatDate(toValue(input), isNil(format) ? format : str(format), context.now, context.locale) as Value;
  }),
};

/** Filters that write HTML themselves: in HTML, an output ending with one is not escaped again (see compile.ts). */
export const HTML_SAFE_FILTERS = new Set(['escape', 'escape_once']);

/** Returns the name of `names` closest to `name` (first one that begins with it or that it begins with, then the fewest edits), or null when none is close. */
export function nearestName(name: string, names: Iterable<string>): string | null {
  const list = [...names];
  const prefixed = list.filter((n) => n.startsWith(name) || name.startsWith(n)).sort((a, b) => a.length - b.length);
  if (prefixed.length && name.length >= 3) return prefixed[0];
  let best: string | null = null;
  let bestDistance = Math.max(2, Math.floor(name.length / 3)) + 1;
  for (const candidate of list) {
    const d = editDistance(name, candidate);
    if (d < bestDistance) [best, bestDistance] = [candidate, d];
  }
  return best;
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0]++;
    for (let j = 1; j <= b.length; j++) {
      const current = row[j];
      row[j] = Math.min(row[j] + 1, row[j - 1] + 1, previous + (a[i - 1] === b[j - 1] ? 0 : 1));
      previous = current;
    }
  }
  return row[b.length];
}
