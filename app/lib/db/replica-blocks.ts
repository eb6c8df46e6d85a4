/**
 * The audience replica, packed. One IndexedDB record per profile writes at a few thousand a
 * second; a million profiles would take minutes to load and seconds to scan. So profiles
 * live in blocks of consecutive ids (BLOCK_SPAN ids a block, about as many profiles),
 * column by column, and each column is stored as ONE value: text columns as a single
 * string with a separator, numbers and flags as typed arrays. IndexedDB then copies a
 * handful of large values per block instead of thousands of small ones, and a reader
 * decodes only the columns it uses.
 */

import { DENYLISTED, PENDING, profileFlags, QUARANTINED, UNSUBSCRIBED } from '$shared/profile-fields';
import type { AttributeValue, Profile } from '$shared/types';

/** Ids per block: profile `id` lives in block `Math.floor(id / BLOCK_SPAN)`. */
export const BLOCK_SPAN = 8192;

export const blockOf = (id: number) => Math.floor(id / BLOCK_SPAN);

/** Separates the values of a text column; never part of a value (control characters are dropped on write). */
const SEP = '\u001f';
/** Separates the tags of one value of a tags column. */
const TAG_SEP = '\u001e';
/** Stands for "no value" in a text column. */
const NONE = '\u0000';

/**
 * A text column as stored: one packed string, or — when it holds few distinct values (time
 * zones, locales, cities, a newsletter's first names) — a dictionary and a code per
 * profile, which IndexedDB copies in a fraction of the bytes and a reader decodes without
 * making a string per profile.
 */
type TextColumn = string | { d: string[]; c: Uint16Array };

/** Distinct values up to which a column is stored as a dictionary. */
const DICTIONARY_LIMIT = 2048;
/** An attribute column as stored: text (dates too), numbers (NaN: none), booleans (-1: none), tags. */
type AttributeColumn = { t: 's'; v: TextColumn } | { t: 'n'; v: Float64Array } | { t: 'b'; v: Int8Array } | { t: 'g'; v: TextColumn };

/** A block as IndexedDB stores it: what scans and preparation read. */
export interface StoredBlock {
  n: number;
  ids: Float64Array;
  text: Record<HotField, TextColumn>;
  /** Bit flags per profile (profileFlags): suppression, and whether the address is valid and its own mailbox. */
  flags: Uint8Array;
  attributes: Record<string, AttributeColumn>;
}

/** The rest of a block, stored apart because scans never read it: dates and where the status came from. */
export interface StoredBlockDetails {
  n: number;
  text: Record<ColdField, TextColumn>;
}

const HOT_FIELDS = ['email', 'firstName', 'lastName', 'locale', 'timeZone'] as const;
const COLD_FIELDS = ['statusChangedAt', 'statusSource', 'createdAt', 'updatedAt'] as const;
const TEXT_FIELDS = [...HOT_FIELDS, ...COLD_FIELDS] as const;
type HotField = (typeof HOT_FIELDS)[number];
type ColdField = (typeof COLD_FIELDS)[number];
type TextField = HotField | ColdField;

// eslint-disable-next-line no-control-regex -- these control characters are the separators of a packed column
const clean = (value: string) => value.replace(/[\u0000\u001e\u001f]/g, '');
const encodeText = (values: readonly (string | null)[], alreadyClean = false): TextColumn => {
  const cleaned = values.map((v) => (v === null ? NONE : alreadyClean ? v : clean(v)));
  const dictionary = new Map<string, number>();
  const codes = new Uint16Array(cleaned.length);
  for (let i = 0; i < cleaned.length; i++) {
    let code = dictionary.get(cleaned[i]);
    if (code === undefined) {
      if (dictionary.size === DICTIONARY_LIMIT) return cleaned.join(SEP);
      dictionary.set(cleaned[i], (code = dictionary.size));
    }
    codes[i] = code;
  }
  return { d: [...dictionary.keys()], c: codes };
};
const decodeText = (column: TextColumn, length: number): (string | null)[] => {
  if (length === 0) return [];
  if (typeof column !== 'string') {
    const dictionary = column.d.map((v) => (v === NONE ? null : v));
    const values = new Array<string | null>(column.c.length);
    for (let i = 0; i < values.length; i++) values[i] = dictionary[column.c[i]];
    return values;
  }
  // In place: a scan decodes millions of these, and a second array per column shows.
  const values: (string | null)[] = column.split(SEP);
  for (let i = 0; i < values.length; i++) if (values[i] === NONE) values[i] = null;
  return values;
};

/**
 * A block being read or changed: columns are decoded on first use and kept; `encode()`
 * packs it again for storage.
 */
export class ProfileBlock {
  readonly n: number;
  ids: number[];
  private readonly stored: StoredBlock | null;
  private readonly details: StoredBlockDetails | null;
  private readonly text = new Map<TextField, (string | null)[]>();
  private flagList: number[] | null = null;
  private readonly attributeValues = new Map<string, AttributeValue[]>();
  private readonly attributeTypes = new Map<string, AttributeColumn['t']>();
  private read: ((i: number) => Profile) | null = null;

  /**
   * `details` may be left out by readers that do not need dates and status sources: those
   * fields then read as empty.
   */
  constructor(n: number, stored: StoredBlock | null = null, details: StoredBlockDetails | null = null) {
    this.n = n;
    this.stored = stored;
    this.details = details;
    this.ids = stored ? Array.from(stored.ids) : [];
    if (stored) for (const [name, column] of Object.entries(stored.attributes)) this.attributeTypes.set(name, column.t);
  }

  get length(): number {
    return this.ids.length;
  }

  /** The decoded values of a text column. */
  textColumn(field: TextField): (string | null)[] {
    let values = this.text.get(field);
    if (!values) {
      const column = (COLD_FIELDS as readonly string[]).includes(field)
        ? this.details?.text[field as ColdField]
        : this.stored?.text[field as HotField];
      values = column !== undefined ? decodeText(column, this.ids.length) : new Array<string | null>(this.ids.length).fill(null);
      this.text.set(field, values);
    }
    return values;
  }

  flags(): number[] {
    this.flagList ??= this.stored ? Array.from(this.stored.flags) : [];
    return this.flagList;
  }

  /** The attribute names this block has values for. */
  attributeNames(): string[] {
    return [...new Set([...this.attributeTypes.keys(), ...this.attributeValues.keys()])];
  }

  /** The decoded values of an attribute column (nulls where a profile has none). */
  attributeColumn(name: string): AttributeValue[] {
    let values = this.attributeValues.get(name);
    if (!values) {
      const column = this.stored?.attributes[name];
      values = column ? decodeAttribute(column, this.ids.length) : new Array<AttributeValue>(this.ids.length).fill(null);
      this.attributeValues.set(name, values);
    }
    return values;
  }

  /** Returns the position of `id`, or -(insertion point) - 1 when it is not there. */
  indexOf(id: number): number {
    let low = 0;
    let high = this.ids.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const value = this.ids[mid];
      if (value === id) return mid;
      if (value < id) low = mid + 1;
      else high = mid - 1;
    }
    return -low - 1;
  }

  /** Returns the profile at position `i` (of a block that is only read: the columns are decoded once). */
  profileAt(i: number): Profile {
    this.read ??= this.reader();
    return this.read(i);
  }

  /** Returns every profile of the block, in id order. */
  profiles(): Profile[] {
    const read = this.reader();
    const out = new Array<Profile>(this.ids.length);
    for (let i = 0; i < this.ids.length; i++) out[i] = read(i);
    return out;
  }

  /** Returns a function that builds the profile at a position, with every column decoded once. */
  private reader(): (i: number) => Profile {
    const names = this.attributeNames();
    const columns = names.map((name) => this.attributeColumn(name));
    const [email, firstName, lastName, locale, timeZone, statusChangedAt, statusSource, createdAt, updatedAt] = TEXT_FIELDS.map((f) =>
      this.textColumn(f),
    );
    const flags = this.flags();
    const ids = this.ids;
    return (i) => {
      const attributes: Record<string, AttributeValue> = {};
      for (let a = 0; a < names.length; a++) {
        const value = columns[a][i];
        if (value !== null && value !== undefined) attributes[names[a]] = value;
      }
      const f = flags[i];
      return {
        id: ids[i],
        email: email[i] ?? '',
        firstName: firstName[i] ?? '',
        lastName: lastName[i] ?? '',
        locale: locale[i] ?? '',
        timeZone: timeZone[i] ?? '',
        status: f & UNSUBSCRIBED ? 'unsubscribed' : 'subscribed',
        statusChangedAt: statusChangedAt[i],
        statusSource: statusSource[i],
        denylisted: (f & DENYLISTED) !== 0,
        quarantined: (f & QUARANTINED) !== 0,
        ...(f & PENDING ? { pending: true } : {}),
        attributes,
        createdAt: createdAt[i] ?? '',
        updatedAt: updatedAt[i] ?? '',
      };
    };
  }

  /** Writes the profile (replacing the one with its id); returns +1 when it was added. */
  put(profile: Profile): number {
    this.read = null;
    this.decodeAll();
    const found = this.indexOf(profile.id);
    const at = found >= 0 ? found : -found - 1;
    const place = <T>(values: T[], value: T) => (found >= 0 ? (values[at] = value) : values.splice(at, 0, value));
    for (const field of TEXT_FIELDS) place(this.textColumn(field), profile[field]);
    place(this.flags(), profileFlags(profile));
    for (const name of new Set([...this.attributeNames(), ...Object.keys(profile.attributes)])) {
      const value = profile.attributes[name] ?? null;
      if (!this.attributeTypes.has(name) && value !== null) this.attributeTypes.set(name, typeOf(value));
      place(this.attributeColumn(name), value);
    }
    if (found < 0) this.ids.splice(at, 0, profile.id);
    return found >= 0 ? 0 : 1;
  }

  /** Removes the profile with this id; returns 1 when it was there. */
  remove(id: number): number {
    const at = this.indexOf(id);
    if (at < 0) return 0;
    this.read = null;
    this.decodeAll();
    for (const field of TEXT_FIELDS) this.textColumn(field).splice(at, 1);
    this.flags().splice(at, 1);
    for (const name of this.attributeNames()) this.attributeColumn(name).splice(at, 1);
    this.ids.splice(at, 1);
    return 1;
  }

  /** Returns the block packed for storage: what scans read, and the details apart. */
  encode(): { block: StoredBlock; details: StoredBlockDetails } {
    this.decodeAll();
    const attributes: Record<string, AttributeColumn> = {};
    for (const name of this.attributeNames()) {
      const values = this.attributeColumn(name);
      if (values.some((v) => v !== null)) attributes[name] = encodeAttribute(values, this.attributeTypes.get(name) ?? 's');
    }
    return {
      block: {
        n: this.n,
        ids: Float64Array.from(this.ids),
        text: Object.fromEntries(HOT_FIELDS.map((f) => [f, encodeText(this.textColumn(f))])) as Record<HotField, TextColumn>,
        flags: Uint8Array.from(this.flags()),
        attributes,
      },
      details: {
        n: this.n,
        text: Object.fromEntries(COLD_FIELDS.map((f) => [f, encodeText(this.textColumn(f))])) as Record<ColdField, TextColumn>,
      },
    };
  }

  private decodeAll(): void {
    for (const field of TEXT_FIELDS) this.textColumn(field);
    this.flags();
    for (const name of this.attributeNames()) this.attributeColumn(name);
  }
}

function typeOf(value: AttributeValue): AttributeColumn['t'] {
  if (typeof value === 'number') return 'n';
  if (typeof value === 'boolean') return 'b';
  if (Array.isArray(value)) return 'g';
  return 's';
}

function encodeAttribute(values: AttributeValue[], type: AttributeColumn['t']): AttributeColumn {
  switch (type) {
    case 'n':
      return { t: 'n', v: Float64Array.from(values, (v) => (typeof v === 'number' ? v : NaN)) };
    case 'b':
      return { t: 'b', v: Int8Array.from(values, (v) => (v === null ? -1 : v ? 1 : 0)) };
    case 'g':
      return {
        t: 'g',
        v: encodeText(
          values.map((v) => (Array.isArray(v) ? v.map(clean).join(TAG_SEP) : null)),
          true,
        ),
      };
    case 's':
      return { t: 's', v: encodeText(values.map((v) => (v === null ? null : String(v)))) };
  }
}

function decodeAttribute(column: AttributeColumn, length: number): AttributeValue[] {
  switch (column.t) {
    case 'n':
      return Array.from(column.v, (v) => (Number.isNaN(v) ? null : v));
    case 'b':
      return Array.from(column.v, (v) => (v < 0 ? null : v === 1));
    case 'g': {
      const tags = (v: string | null) => (v === null ? null : v === '' ? [] : v.split(TAG_SEP));
      if (typeof column.v !== 'string' && length > 0) {
        // Each distinct list of tags is split once; profiles with the same tags share it (read only).
        const dictionary = column.v.d.map((v) => tags(v === NONE ? null : v));
        return Array.from(column.v.c, (code) => dictionary[code]);
      }
      const values: AttributeValue[] = decodeText(column.v, length);
      for (let i = 0; i < values.length; i++) values[i] = tags(values[i] as string | null);
      return values;
    }
    case 's':
      return decodeText(column.v, length);
  }
}
