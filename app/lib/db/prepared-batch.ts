/**
 * A prepared batch in the browser database: recipients and exclusions packed in chunks of
 * CHUNK_SIZE, column by column (as the replica is), one record per chunk. A million
 * recipients are a thousand records, written in one transaction; a chunk is exactly what
 * the outbox uploads as one part.
 */

import type { Exclusion, ExclusionCause, PreparedRecipient } from '$shared/types';
import type { MailroomDb, StoredPreparation } from './db';

/** Recipients per chunk record, and per uploaded part. */
export const CHUNK_SIZE = 1_000;

const SEP = '\u001f';
// eslint-disable-next-line no-control-regex -- the separator of a packed column
const clean = (value: string) => value.replace(/\u001f/g, '');
const pack = (values: readonly string[]) => {
  // Checking is far cheaper than replacing: only a value holding the separator is cleaned.
  let dirty = false;
  for (const value of values) if (value.includes(SEP)) dirty = true;
  return (dirty ? values.map(clean) : values).join(SEP);
};
const unpack = (column: string, length: number) => (length === 0 ? [] : column.split(SEP));

export interface RecipientChunk {
  deliveryId: string;
  /** 1-based; holds recipients with seq (chunk - 1) * CHUNK_SIZE + 1 … chunk * CHUNK_SIZE. */
  chunk: number;
  profileIds: Float64Array;
  emails: string;
  subjects: string;
  /** The personalization values, one packed column per field. */
  values: Record<string, string>;
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
    const fields = Object.keys(list[0].values);
    this.recipientChunks.push({
      deliveryId: this.deliveryId,
      chunk: this.recipientChunks.length + 1,
      profileIds: Float64Array.from(list, (r) => r.profileId),
      // A valid address (only valid ones are recipients) never holds the separator.
      emails: list.map((r) => r.email).join(SEP),
      subjects: pack(list.map((r) => r.subject)),
      values: Object.fromEntries(fields.map((f) => [f, pack(list.map((r) => r.values[f] ?? ''))])),
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
  const fields = Object.entries(record.values).map(([field, column]) => [field, unpack(column, length)] as const);
  const first = (record.chunk - 1) * CHUNK_SIZE + 1;
  return Array.from({ length }, (_, i) => ({
    seq: first + i,
    profileId: record.profileIds[i],
    email: emails[i],
    subject: subjects[i],
    values: Object.fromEntries(fields.map(([field, values]) => [field, values[i]])),
  }));
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

/** Returns the exclusion of this profile in the delivery's last preparation, or undefined. */
export async function exclusionOf(db: MailroomDb, deliveryId: string, profileId: number): Promise<Exclusion | undefined> {
  let found: Exclusion | undefined;
  await db.exclusionChunks
    .where('[deliveryId+chunk]')
    .between([deliveryId, -Infinity], [deliveryId, Infinity])
    .until(() => found !== undefined)
    .each((record) => {
      const at = record.profileIds.indexOf(profileId);
      if (at >= 0) found = unpackExclusions(record)[at];
    });
  return found;
}
