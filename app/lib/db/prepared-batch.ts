/**
 * A prepared batch in the browser database: recipients and exclusions packed in chunks of
 * CHUNK_SIZE, column by column (as the replica is), one record per chunk. A million
 * recipients are a thousand records, written in one transaction; a chunk is exactly what
 * the outbox uploads as one part (recipients first, then exclusions, so that the server's
 * delivery log lists who was excluded by which rule). Personalization values keep their
 * type (PackedColumn).
 */

import type { Exclusion, ExclusionCause, PreparedRecipient, TemplateValue } from '$shared/types';
import type { MailroomDb, StoredPreparation } from './db';
import type Dexie from 'dexie';

/** Recipients per chunk record, and per uploaded part. */
export const CHUNK_SIZE = 1_000;

const SEP = '\u001f';
/** Separates the tags of one recipient in a tags column. */
const TAG_SEP = '\u001e';
/** Stands for "no value" in a text or tags column. */
const NONE = '\u0000';
// eslint-disable-next-line no-control-regex -- the separators of a packed column
const SEPARATORS = /[\u0000\u001e\u001f]/;
// Testing is far cheaper than replacing: only a value holding a separator is cleaned.
// eslint-disable-next-line no-control-regex
const clean = (value: string) => (SEPARATORS.test(value) ? value.replace(/[\u0000\u001e\u001f]/g, '') : value);
const pack = (values: readonly string[]) => values.map(clean).join(SEP);
const unpack = (column: string, length: number) => (length === 0 ? [] : column.split(SEP));

/**
 * One field's values in a chunk, one per recipient: text (NONE where there is none), numbers
 * (NaN: none), yes/no (-1: none), tags, or JSON when the field holds values of several types.
 * A plain string is a column as batches were packed before values were typed: all text, ""
 * for none; it still reads back (as text, "" as none).
 */
export type PackedColumn =
  string | { t: 's'; v: string } | { t: 'n'; v: Float64Array } | { t: 'b'; v: Int8Array } | { t: 'g'; v: string } | { t: 'j'; v: string };

const kindOf = (v: TemplateValue) =>
  typeof v === 'string' ? 's' : typeof v === 'number' ? 'n' : typeof v === 'boolean' ? 'b' : Array.isArray(v) ? 'g' : 'j';

/** Returns one field's values packed as a column (undefined and null: no value). */
export function packColumn(values: readonly (TemplateValue | undefined)[]): PackedColumn {
  let kind: ReturnType<typeof kindOf> | null = null;
  for (const v of values) {
    if (v === undefined || v === null) continue;
    const k = kindOf(v);
    if (kind === null) kind = k;
    else if (kind !== k) kind = 'j';
  }
  switch (kind ?? 's') {
    case 's':
      // Cleaned first: the NONE that stands for no value must stay.
      return { t: 's', v: values.map((v) => (v === undefined || v === null ? NONE : clean(v as string))).join(SEP) };
    case 'n':
      return { t: 'n', v: Float64Array.from(values, (v) => (typeof v === 'number' ? v : NaN)) };
    case 'b':
      return { t: 'b', v: Int8Array.from(values, (v) => (v === undefined || v === null ? -1 : v ? 1 : 0)) };
    case 'g':
      return { t: 'g', v: values.map((v) => (Array.isArray(v) ? v.map(clean).join(TAG_SEP) : NONE)).join(SEP) };
    default:
      return { t: 'j', v: JSON.stringify(values.map((v) => (v === undefined ? null : v))) };
  }
}

/** Returns the values of a packed column, one per recipient (undefined: no value). */
export function unpackColumn(column: PackedColumn, length: number): (TemplateValue | undefined)[] {
  if (typeof column === 'string') return unpack(column, length).map((v) => (v === '' ? undefined : v));
  switch (column.t) {
    case 's':
      return unpack(column.v, length).map((v) => (v === NONE ? undefined : v));
    case 'n':
      return Array.from(column.v, (v) => (Number.isNaN(v) ? undefined : v));
    case 'b':
      return Array.from(column.v, (v) => (v < 0 ? undefined : v === 1));
    case 'g':
      return unpack(column.v, length).map((v) => (v === NONE ? undefined : v === '' ? [] : v.split(TAG_SEP)));
    case 'j':
      return (JSON.parse(column.v) as (TemplateValue | undefined)[]).map((v) => (v === null ? undefined : v));
  }
}

export interface RecipientChunk {
  deliveryId: string;
  /** 1-based; holds recipients with seq (chunk - 1) * CHUNK_SIZE + 1 … chunk * CHUNK_SIZE. */
  chunk: number;
  profileIds: Float64Array;
  emails: string;
  subjects: string;
  /** The personalization values, one packed column per field. */
  values: Record<string, PackedColumn>;
  /** With an A/B test: each recipient's variant (0 for A), -1 for the rest, who wait for the winner. */
  variants?: Int8Array;
  /** With a local time: when each recipient's message is due (ms since the epoch). */
  dues?: Float64Array;
}

export interface ExclusionChunk {
  deliveryId: string;
  chunk: number;
  profileIds: Float64Array;
  emails: string;
  rules: string;
  causes: string;
}

/** Collects recipients and exclusions in order and packs them into chunk records. */
export class BatchWriter {
  readonly recipientChunks: RecipientChunk[] = [];
  readonly exclusionChunks: ExclusionChunk[] = [];
  private recipients: PreparedRecipient[] = [];
  private exclusions: Exclusion[] = [];

  constructor(private readonly deliveryId: string) {}

  addRecipient(recipient: PreparedRecipient): void {
    this.recipients.push(recipient);
    if (this.recipients.length === CHUNK_SIZE) this.packRecipients();
  }

  addExclusion(exclusion: Exclusion): void {
    this.exclusions.push(exclusion);
    if (this.exclusions.length === CHUNK_SIZE) this.packExclusions();
  }

  /** Packs what is left; call once, after the last recipient. */
  finish(): void {
    if (this.recipients.length) this.packRecipients();
    if (this.exclusions.length) this.packExclusions();
  }

  private packRecipients(): void {
    const list = this.recipients;
    // A recipient without a value for a field leaves it out: the fields are those of any recipient.
    const fields = new Set<string>();
    for (const r of list) for (const field in r.values) fields.add(field);
    this.recipientChunks.push({
      deliveryId: this.deliveryId,
      chunk: this.recipientChunks.length + 1,
      profileIds: Float64Array.from(list, (r) => r.profileId),
      // A valid address (only valid ones are recipients) never holds the separator.
      emails: list.map((r) => r.email).join(SEP),
      subjects: pack(list.map((r) => r.subject)),
      values: Object.fromEntries([...fields].map((f) => [f, packColumn(list.map((r) => r.values[f]))])),
      // A chunk holding none of an A/B test's population (all of it waits for the winner) needs none.
      ...(list.some((r) => r.variant !== undefined) ? { variants: Int8Array.from(list, (r) => r.variant ?? -1) } : {}),
      ...(list.some((r) => r.dueAt !== undefined) ? { dues: Float64Array.from(list, (r) => r.dueAt ?? NaN) } : {}),
    });
    this.recipients = [];
  }

  private packExclusions(): void {
    const list = this.exclusions;
    this.exclusionChunks.push({
      deliveryId: this.deliveryId,
      chunk: this.exclusionChunks.length + 1,
      profileIds: Float64Array.from(list, (e) => e.profileId),
      emails: pack(list.map((e) => e.email)),
      rules: pack(list.map((e) => e.rule)),
      causes: pack(list.map((e) => e.cause)),
    });
    this.exclusions = [];
  }
}

/** Returns the recipients of one chunk record, with their sequence numbers. */
export function unpackRecipients(record: RecipientChunk): PreparedRecipient[] {
  const length = record.profileIds.length;
  const emails = unpack(record.emails, length);
  const subjects = unpack(record.subjects, length);
  const fields = Object.entries(record.values).map(([field, column]) => [field, unpackColumn(column, length)] as const);
  const first = (record.chunk - 1) * CHUNK_SIZE + 1;
  return Array.from({ length }, (_, i) => {
    const values: Record<string, TemplateValue> = {};
    for (const [field, column] of fields) if (column[i] !== undefined) values[field] = column[i]!;
    const recipient: PreparedRecipient = {
      seq: first + i,
      profileId: record.profileIds[i],
      email: emails[i],
      subject: subjects[i],
      values,
    };
    const variant = record.variants?.[i];
    if (variant !== undefined && variant >= 0) recipient.variant = variant;
    const due = record.dues?.[i];
    if (due !== undefined && !Number.isNaN(due)) recipient.dueAt = due;
    return recipient;
  });
}

/** Returns the exclusions of one chunk record. */
export function unpackExclusions(record: ExclusionChunk): Exclusion[] {
  const length = record.profileIds.length;
  const emails = unpack(record.emails, length);
  const rules = unpack(record.rules, length);
  const causes = unpack(record.causes, length);
  return Array.from({ length }, (_, i) => ({
    profileId: record.profileIds[i],
    email: emails[i],
    rule: rules[i],
    cause: causes[i] as ExclusionCause,
  }));
}

/** Replaces the delivery's prepared batch and preparation in one transaction. */
export async function savePreparedBatch(db: MailroomDb, preparation: StoredPreparation, writer: BatchWriter): Promise<void> {
  const { deliveryId } = preparation;
  await db.transaction('rw', [db.preparations, db.recipientChunks, db.exclusionChunks], async () => {
    await db.recipientChunks.where('[deliveryId+chunk]').between([deliveryId, -Infinity], [deliveryId, Infinity]).delete();
    await db.exclusionChunks.where('[deliveryId+chunk]').between([deliveryId, -Infinity], [deliveryId, Infinity]).delete();
    await db.recipientChunks.bulkAdd(writer.recipientChunks);
    await db.exclusionChunks.bulkAdd(writer.exclusionChunks);
    await db.preparations.put(preparation);
  });
}

/** Returns the recipients of the `chunk`-th part of the delivery's prepared batch (1-based). */
export async function recipientsOfChunk(db: MailroomDb, deliveryId: string, chunk: number): Promise<PreparedRecipient[]> {
  const record = await db.recipientChunks.get([deliveryId, chunk]);
  return record ? unpackRecipients(record) : [];
}

/** Returns how many exclusion records (of at most CHUNK_SIZE exclusions each) the delivery's prepared batch has. */
export function exclusionChunkCount(db: MailroomDb, deliveryId: string): Promise<number> {
  return db.exclusionChunks.where('[deliveryId+chunk]').between([deliveryId, -Infinity], [deliveryId, Infinity]).count();
}

/** Returns the exclusions of the `chunk`-th exclusion record of the delivery's prepared batch (1-based): what the outbox uploads as one part. */
export async function exclusionsOfChunk(db: MailroomDb, deliveryId: string, chunk: number): Promise<Exclusion[]> {
  const record = await db.exclusionChunks.get([deliveryId, chunk]);
  return record ? unpackExclusions(record) : [];
}

/** Returns the recipient with this sequence number, or undefined. */
export async function recipientAt(db: MailroomDb, deliveryId: string, seq: number): Promise<PreparedRecipient | undefined> {
  const chunk = Math.floor((seq - 1) / CHUNK_SIZE) + 1;
  return (await recipientsOfChunk(db, deliveryId, chunk))[(seq - 1) % CHUNK_SIZE];
}

/** Returns the first recipient whose address is or contains `query` (case-insensitive), or undefined. */
export async function findRecipient(db: MailroomDb, deliveryId: string, query: string): Promise<PreparedRecipient | undefined> {
  const needle = query.trim().toLowerCase();
  let contains: PreparedRecipient | undefined;
  let found: PreparedRecipient | undefined;
  await db.recipientChunks
    .where('[deliveryId+chunk]')
    .between([deliveryId, -Infinity], [deliveryId, Infinity])
    .until(() => found !== undefined)
    .each((record) => {
      const emails = unpack(record.emails, record.profileIds.length);
      const exact = emails.findIndex((e) => e.toLowerCase() === needle);
      if (exact >= 0) found = unpackRecipients(record)[exact];
      else if (!contains) {
        const partial = emails.findIndex((e) => e.toLowerCase().includes(needle));
        if (partial >= 0) contains = unpackRecipients(record)[partial];
      }
    });
  return found ?? contains;
}

/** Returns the variant of an A/B test the profile's message is (null: it is of the rest, who get the winner), or undefined when it is no recipient. */
export function variantOf(db: MailroomDb, deliveryId: string, profileId: number): Promise<number | null | undefined> {
  return findInChunks(db.recipientChunks, deliveryId, profileId, (record, at) =>
    record.variants && record.variants[at] >= 0 ? record.variants[at] : null,
  );
}

/** Returns what `pick` reads of the profile from the first of the delivery's chunk records that holds it, or undefined. */
async function findInChunks<R extends { profileIds: Float64Array }, T>(
  table: Dexie.Table<R, [string, number]>,
  deliveryId: string,
  profileId: number,
  pick: (record: R, at: number) => T,
): Promise<T | undefined> {
  let found: T | undefined;
  let seen = false;
  await table
    .where('[deliveryId+chunk]')
    .between([deliveryId, -Infinity], [deliveryId, Infinity])
    .until(() => seen)
    .each((record) => {
      const at = record.profileIds.indexOf(profileId);
      if (at < 0) return;
      seen = true;
      found = pick(record, at);
    });
  return found;
}

/** Returns the exclusion of this profile in the delivery's last preparation, or undefined. */
export function exclusionOf(db: MailroomDb, deliveryId: string, profileId: number): Promise<Exclusion | undefined> {
  return findInChunks(db.exclusionChunks, deliveryId, profileId, (record, at) => unpackExclusions(record)[at]);
}
