/**
 * Values as the template language sees them, with Liquid's rules (Shopify Liquid, as
 * liquidjs implements it) for truth, equality, order, text and property access.
 *
 * A profile's values arrive typed (text, number, yes/no, tags, nil); while a template runs,
 * values can also be lists of anything (split, map, ranges), the literals `nil`, `empty`
 * and `blank` (which compare in their own way), a loop's `forloop`, and captured text.
 *
 * Invariant: nothing here throws on any value, and nothing depends on the machine (locale,
 * time zone, ICU): the same value gives the same result in the browser and on the server.
 */

/** A literal or object that compares in its own way, and stands for a plain value elsewhere. */
export abstract class Drop {
  /** Returns the plain value the drop stands for in text, filters and truth tests. */
  abstract valueOf(): unknown;
}

/** The literal `nil` (or `null`): equal to any missing value, never less or greater than anything. */
export class NilDrop extends Drop {
  valueOf(): null {
    return null;
  }
}

/** The literal `empty`: equal to empty text and empty lists. */
export class EmptyDrop extends Drop {
  valueOf(): string {
    return '';
  }
  equals(value: Value): boolean {
    if (value instanceof EmptyDrop) return false;
    const v = toValue(value);
    if (typeof v === 'string' || Array.isArray(v)) return v.length === 0;
    if (v !== null && typeof v === 'object') return Object.keys(v).length === 0;
    return false;
  }
}

/** The literal `blank`: equal to nil, false, text of only whitespace, and empty lists. */
export class BlankDrop extends EmptyDrop {
  equals(value: Value): boolean {
    if (value === false) return true;
    const v = toValue(value);
    if (v === null || v === undefined) return true;
    // Text, not a drop that stands for text: `blank == blank` is false, as in liquidjs.
    if (typeof value === 'string') return /^\s*$/.test(value);
    return super.equals(value);
  }
}

/** `forloop` inside a `for`: where the loop is. The fields are in liquidjs's order, so `{{ forloop }}` reads the same. */
export class Forloop extends Drop {
  i = 0;
  constructor(
    readonly length: number,
    readonly name: string,
  ) {
    super();
  }
  valueOf(): string {
    return JSON.stringify({ i: this.i, length: this.length, name: this.name });
  }
  /** Returns the loop property `key`, or undefined when there is none. */
  property(key: unknown): Value {
    switch (key) {
      case 'index':
        return this.i + 1;
      case 'index0':
        return this.i;
      case 'first':
        return this.i === 0;
      case 'last':
        return this.i === this.length - 1;
      case 'rindex':
        return this.length - this.i;
      case 'rindex0':
        return this.length - this.i - 1;
      case 'length':
        return this.length;
      case 'name':
        return this.name;
      default:
        return undefined;
    }
  }
}

/**
 * Text captured in HTML or a header: `out` as it is written there (values escaped, or put
 * on one line, once), `raw` as the text itself (what filters, tests and comparisons see).
 * Written out again, it is written as `out`, so no value is ever escaped twice.
 */
export class Captured {
  constructor(
    readonly out: string,
    readonly raw: string,
  ) {}
}

export type Value = undefined | null | string | number | boolean | readonly Value[] | Drop | Captured;

export const NIL = new NilDrop();
export const EMPTY = new EmptyDrop();
export const BLANK = new BlankDrop();

const hasOwn = Object.prototype.hasOwnProperty;

/** Returns the plain value of `value`: what a drop stands for, captured text as text, anything else as is. */
export function toValue(value: Value): Exclude<Value, Drop | Captured> | unknown {
  if (typeof value !== 'object' || value === null) return value;
  if (value instanceof Drop) return value.valueOf();
  if (value instanceof Captured) return value.raw;
  return value;
}

/** Returns captured text as its text, anything else as is (drops stay drops: they compare in their own way). */
export function plain(value: Value): Exclude<Value, Captured> {
  return typeof value === 'object' && value instanceof Captured ? value.raw : value;
}

/** Returns the value as text, as Liquid writes it: nil as "", a list as its items written one after another. */
export function stringify(value: Value | unknown): string {
  if (typeof value === 'string') return value;
  const v = value instanceof Drop || value instanceof Captured ? toValue(value) : value;
  if (typeof v === 'string') return v;
  if (v === null || v === undefined) return '';
  if (Array.isArray(v)) {
    let out = '';
    for (const item of v) out += stringify(item);
    return out;
  }
  return String(v);
}

/** Returns true unless the value is false or nil: in Liquid, 0, "" and empty lists are true. */
export function isTruthy(value: Value | unknown): boolean {
  if (typeof value !== 'object') return value !== false && value !== undefined;
  const v = value instanceof Drop || value instanceof Captured ? toValue(value) : value;
  return v !== false && v !== undefined && v !== null;
}

/** Returns the value as a number for arithmetic: anything that is not a number reads as 0. */
export function toNumber(value: Value | unknown): number {
  if (typeof value === 'number') return value || 0;
  return +(toValue(value as Value) as number) || 0;
}

/** Returns the value as a list: nil as none, a list as itself, anything else as a list of one. */
export function toArray(value: Value | unknown): readonly Value[] {
  const v = toValue(value as Value);
  if (v === null || v === undefined) return [];
  if (Array.isArray(v)) return v;
  return [v as Value];
}

/** Returns what a `for` loop runs over: a list, or text that is not empty as a list of one; anything else as none. */
export function toEnumerable(value: Value): readonly Value[] {
  const v = toValue(value);
  if (Array.isArray(v)) return v;
  if (typeof v === 'string' && v.length > 0) return [v];
  return [];
}

const isComparable = (v: unknown): v is NilDrop | EmptyDrop => v instanceof NilDrop || v instanceof EmptyDrop;

function dropEquals(drop: NilDrop | EmptyDrop, other: Value): boolean {
  if (drop instanceof NilDrop) {
    const v = toValue(other);
    return v === null || v === undefined;
  }
  return drop.equals(other);
}

/** Returns true when the values are equal as `==` has it: lists item by item, drops in their own way, anything else strictly. */
export function equals(left: Value, right: Value): boolean {
  if (typeof left !== 'object' && typeof right !== 'object') return left === right;
  const l = plain(left);
  const r = plain(right);
  if (isComparable(l)) return dropEquals(l, r);
  if (isComparable(r)) return dropEquals(r, l);
  const a = toValue(l);
  const b = toValue(r);
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!equals(a[i], b[i])) return false;
    return true;
  }
  return a === b;
}

export type Comparison = '<' | '>' | '<=' | '>=';

/** Returns the outcome of `<`, `>`, `<=` or `>=`: false against a drop, JavaScript's order otherwise (as liquidjs). */
export function compare(op: Comparison, left: Value, right: Value): boolean {
  let a: number;
  let b: number;
  // Liquid orders values as JavaScript does; the casts only let TypeScript allow it.
  if (typeof left !== 'object' && typeof right !== 'object') {
    a = left as number;
    b = right as number;
  } else {
    const l = plain(left);
    const r = plain(right);
    if (isComparable(l) || isComparable(r)) return false;
    a = toValue(l) as number;
    b = toValue(r) as number;
  }
  switch (op) {
    case '<':
      return a < b;
    case '>':
      return a > b;
    case '<=':
      return a <= b;
    case '>=':
      return a >= b;
  }
}

/** Returns true when the list holds an item equal to `item`, or the text holds `item` as text. */
export function contains(left: Value, right: Value): boolean {
  const l = toValue(left);
  if (Array.isArray(l)) {
    for (const item of l) if (equals(item, right)) return true;
    return false;
  }
  if (typeof l === 'string') return l.indexOf(toValue(right) as string) > -1;
  return false;
}

/** Returns the item at `index` of a list or text (negative from the end), or undefined. */
function itemAt(list: readonly Value[] | string, index: number): Value {
  const at = index < 0 ? list.length + index : index;
  return hasOwn.call(list, at) ? list[at] : undefined;
}

/**
 * Returns `value.key` or `value[key]`: an item of a list or a character of text by
 * position, `size`, `first` and `last`, `length`; forloop's properties; undefined otherwise.
 */
export function property(value: Value, key: Value): Value {
  const obj = plain(value);
  const k = toValue(key);
  if (obj === null || obj === undefined) return obj;
  if (obj instanceof Forloop) return obj.property(k);
  if (obj instanceof Drop) return undefined;
  if (Array.isArray(obj) && typeof k === 'number') return itemAt(obj, k);
  if (typeof k !== 'symbol' && hasOwn.call(obj, k as PropertyKey)) return (obj as unknown as Record<string, Value>)[k as string];
  if (k === 'size') return Array.isArray(obj) || typeof obj === 'string' ? obj.length : undefined;
  if (k === 'first') return Array.isArray(obj) ? itemAt(obj, 0) : undefined;
  if (k === 'last') return Array.isArray(obj) ? itemAt(obj, -1) : undefined;
  return undefined;
}

/** Returns the value at a path of properties (`a.b.c`). */
export function propertyPath(value: Value, path: readonly Value[]): Value {
  let v = value;
  for (const key of path) v = property(v, key);
  return v;
}

/**
 * Returns the property path read with the item as the scope, as liquidjs's `where`, `find`,
 * `has` and `reject` do: a name the item does not hold reads as the empty scope's (`size` 0).
 */
export function scopePath(item: Value, path: readonly string[]): Value {
  if (path.length === 0) return undefined;
  const scope = plain(item);
  const holder = scope === null || scope === undefined ? {} : Object(toValue(scope));
  const root = path[0] in holder ? property(scope, path[0]) : path[0] === 'size' ? 0 : undefined;
  return propertyPath(root, path.slice(1));
}

/** Returns a list of the numbers from `low` to `high`, as a range `(low..high)` has them; at most `limit` long. */
export function range(low: Value, high: Value, limit: number): number[] {
  const start = +(toValue(low) as number);
  const stop = +(toValue(high) as number) + 1;
  const out: number[] = [];
  for (let i = start; i < stop && out.length < limit; i++) out.push(i);
  return out;
}
