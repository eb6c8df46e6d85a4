/**
 * The device's side of the team's documents (shared/work.ts). A delivery or typology record
 * in Dexie carries, beside its values, what sync needs: the stamps the server holds, the
 * edits made here and not yet acknowledged (`pending`, the outbox of work: it survives
 * reloads and days offline), the values of others that replaced ours, and a deletion
 * waiting to be pushed. Edits are made here at once; `applyDoc` lays what the server says
 * over a record without ever dropping an edit it has not acknowledged.
 */

import type Dexie from 'dexie';
import { encodeHlc, HybridClock, type ClockState } from '$shared/hlc';
import {
  fieldsOf,
  type Approval,
  type DocPush,
  type FieldStamp,
  type Overwritten,
  type PreparationSummary,
  type WorkDoc,
  type WorkKind,
} from '$shared/work';
import type { DeliveryStatus } from '$shared/types';
import { plain, type LocalDelivery, type MailroomDb, type StoredTemplate, type StoredTypology } from './db';

export interface SyncMeta {
  /** The stamp of each field's value as the server last said it. */
  stamps: Record<string, FieldStamp>;
  /** Edits made here, not yet acknowledged: the reading they were made at, and the stamp of the value they replaced. */
  pending: Record<string, { hlc: string; base: string | null }>;
  overwritten: Overwritten[];
  /** Overwritten entries let go here, to tell the server at the next push. */
  dismiss: string[];
  /** A deletion made here, waiting to be pushed (the record is hidden meanwhile). */
  deleteAt: string | null;
  /** The document this one was made as a copy of, until the server has it. */
  duplicateOf: string | null;
  /** The server's last refusal of this record's edits; pushes wait for the next edit. */
  refusal: string | null;
  createdBy: string | null;
  updatedBy: string | null;
  /** When the document last changed on the server (ISO). */
  changedAt: string | null;
  seq: number;
  version: number;
  approval: Approval | null;
  serverStatus: DeliveryStatus | null;
}

/** A record's synced part before the server has seen it. */
export function newSyncMeta(createdBy: string | null): SyncMeta {
  return {
    stamps: {},
    pending: {},
    overwritten: [],
    dismiss: [],
    deleteAt: null,
    duplicateOf: null,
    refusal: null,
    createdBy,
    updatedBy: createdBy,
    changedAt: null,
    seq: 0,
    version: 0,
    approval: null,
    serverStatus: null,
  };
}

export type WorkRecord = LocalDelivery | StoredTypology | StoredTemplate;

/** The table a kind of document lives in on the device. */
export function tableOf(db: MailroomDb, kind: WorkKind) {
  return (kind === 'delivery' ? db.deliveries : kind === 'typology' ? db.typologies : db.templates) as unknown as Dexie.Table<
    WorkRecord,
    string
  >;
}

/**
 * Returns the synced part of a new document made here by `by` (a copy of `duplicateOf`):
 * every field an edit of its own, at the readings given (`stampsFor`), pushed from the first
 * keystroke on.
 */
export function newDocSync(kind: WorkKind, by: string | null, duplicateOf: string | null, readings: readonly string[]): SyncMeta {
  const sync = { ...newSyncMeta(by), duplicateOf };
  fieldsOf(kind).forEach((field, i) => (sync.pending[field] = { hlc: readings[i], base: null }));
  return sync;
}

/** The tables writing documents from the server touches (a deleted delivery takes its preparation with it). */
export const workTables = (db: MailroomDb) => [
  db.deliveries,
  db.typologies,
  db.templates,
  db.meta,
  db.preparations,
  db.recipientChunks,
  db.exclusionChunks,
  db.outbox,
];

/** Meta keys of the work sync. */
export const WORK_CURSOR = 'work.cursor';
const WORK_CLOCK = 'work.clock';

/** Returns a field's value on a record (a delivery's `preparation` is kept as `prepared`). */
export function valueOf(record: WorkRecord, field: string): unknown {
  if (field === 'preparation') return (record as LocalDelivery).prepared ?? null;
  if (field === 'requiresApproval') return (record as StoredTypology).requiresApproval ?? false;
  return (record as unknown as Record<string, unknown>)[field];
}

function setValue(record: WorkRecord, field: string, value: unknown): void {
  if (field === 'preparation') (record as LocalDelivery).prepared = (value as PreparationSummary | null) ?? null;
  else (record as unknown as Record<string, unknown>)[field] = value;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);

/** This page's clock: its node is new for every page load, its readings follow the device's last one. */
let clock: HybridClock | null = null;

/** Returns this page's clock, carried forward to the device's last reading (kept in meta by every tab). */
function deviceClock(stored: ClockState | undefined): HybridClock {
  clock ??= new HybridClock(crypto.randomUUID().replaceAll('-', '').slice(0, 12), stored);
  if (stored) clock.observe(encodeHlc(stored, 'stored'));
  return clock;
}

// Inside a transaction Dexie follows native awaits only a few functions deep: the functions
// below await Dexie directly, and callers await them directly, not through helpers of their own.

/** Returns a new clock reading, carrying the device's clock forward in meta (inside the caller's transaction when there is one). */
export async function stamp(db: MailroomDb): Promise<string> {
  const current = deviceClock((await db.meta.get(WORK_CLOCK))?.value as ClockState | undefined);
  const reading = current.now();
  await db.meta.put({ key: WORK_CLOCK, value: current.state });
  return reading;
}

/** Returns a new clock reading for every field of a document of this kind, with one read and one write of the clock. */
export const stampsFor = (db: MailroomDb, kind: WorkKind) => stamps(db, fieldsOf(kind).length);

async function stamps(db: MailroomDb, count: number): Promise<string[]> {
  const current = deviceClock((await db.meta.get(WORK_CLOCK))?.value as ClockState | undefined);
  const readings = Array.from({ length: count }, () => current.now());
  await db.meta.put({ key: WORK_CLOCK, value: current.state });
  return readings;
}

/**
 * Moves the device's clock past readings from other devices, and keeps it (whichever tab
 * pulled them), so that what this device writes next comes after everything it has seen.
 */
export async function observe(db: MailroomDb, readings: Iterable<string>): Promise<void> {
  const current = deviceClock((await db.meta.get(WORK_CLOCK))?.value as ClockState | undefined);
  const before = encodeHlc(current.state, 'x');
  for (const reading of readings) current.observe(reading);
  if (encodeHlc(current.state, 'x') !== before) await db.meta.put({ key: WORK_CLOCK, value: current.state });
}

/**
 * Records the fields of `next` that differ from `record` as edits made now: each keeps the
 * stamp of the value its author saw first (an edit not yet pushed, edited again, still
 * replaces what the server held). Returns the updated record, or the same one when nothing changed.
 */
export async function recordEdits<T extends WorkRecord>(
  db: MailroomDb,
  record: T,
  kind: WorkKind,
  next: Partial<T>,
  /** The stamps of the values the author saw, where the form knows them (a form edited while another's edit arrived). */
  bases: Record<string, string | null> = {},
): Promise<T> {
  const changed = fieldsOf(kind).filter((field) => field in next || (field === 'preparation' && 'prepared' in next));
  const edited = { ...record, sync: { ...record.sync, pending: { ...record.sync.pending } } };
  let any = false;
  for (const field of changed) {
    const value = field === 'preparation' ? (next as Partial<LocalDelivery>).prepared : (next as Record<string, unknown>)[field];
    if (same(value, valueOf(record, field))) continue;
    any = true;
    setValue(edited, field, plain(value ?? null));
    const base = record.sync.pending[field]?.base ?? (field in bases ? bases[field] : (record.sync.stamps[field]?.hlc ?? null));
    edited.sync.pending[field] = { hlc: await stamp(db), base };
  }
  if (!any) return record;
  edited.sync.refusal = null;
  return edited;
}

/** Returns the push of a record's waiting edits, or null when nothing waits (or the server refused them). */
export function pushOf(record: WorkRecord, kind: WorkKind): DocPush | null {
  const { sync } = record;
  if (sync.refusal) return null;
  const fields = Object.keys(sync.pending);
  if (fields.length === 0 && !sync.deleteAt && sync.dismiss.length === 0) return null;
  const edits = Object.fromEntries(fields.map((f) => [f, { value: valueOf(record, f) ?? null, ...sync.pending[f] }]));
  return {
    id: record.id,
    kind,
    edits,
    ...(sync.deleteAt ? { deleteAt: sync.deleteAt } : {}),
    ...(sync.dismiss.length ? { dismiss: sync.dismiss } : {}),
    ...(sync.duplicateOf ? { duplicateOf: sync.duplicateOf } : {}),
  } as DocPush;
}

/**
 * Returns the record as the server's document says, with the edits made here kept: a
 * pending field keeps its value, unless `pushed` (the stamps of a push this document answers)
 * shows the server took it (acknowledged) or kept a later value (ours is then in
 * `overwritten`, for us to take back). Returns null for a document deleted on the server.
 */
export function applyDoc<T extends WorkRecord>(local: T | undefined, doc: WorkDoc, base: T, pushed: Record<string, string> = {}): T | null {
  if (doc.deleted) return null;
  const record = { ...(local ?? base) } as T;
  const pending = { ...(local?.sync.pending ?? {}) };
  let changed = !local;
  for (const field of fieldsOf(doc.kind)) {
    const held = doc.stamps[field];
    const mine = pending[field];
    if (mine) {
      const sent = pushed[field];
      if (sent === undefined || !held) continue; // not pushed yet: the push will carry it
      if (mine.hlc !== sent) {
        // Edited again while the push was out: that edit goes next, and saw ours if ours was taken.
        if (held.hlc === sent) pending[field] = { ...mine, base: held.hlc };
        continue;
      }
      delete pending[field];
      if (held.hlc === sent) continue; // acknowledged: the value is ours
      // Lost to a later writer, or refused (a delivery on its way): ours is in `overwritten`.
    }
    if (!held) continue;
    if (!same(valueOf(record, field), doc.fields[field])) {
      setValue(record, field, doc.fields[field] ?? null);
      changed = true;
    }
  }
  const dismissed = new Set(local?.sync.dismiss ?? []);
  record.sync = {
    ...(local?.sync ?? base.sync),
    stamps: doc.stamps,
    pending,
    overwritten: doc.overwritten.filter((o) => !dismissed.has(o.id)),
    // What the server has heard of is no longer ours to tell.
    dismiss: (local?.sync.dismiss ?? []).filter((id) => doc.overwritten.some((o) => o.id === id)),
    duplicateOf: Object.keys(pending).length ? (local?.sync.duplicateOf ?? null) : null,
    createdBy: doc.createdBy,
    updatedBy: doc.updatedBy,
    changedAt: doc.updatedAt,
    seq: doc.seq,
    version: doc.version,
    approval: doc.approval,
    serverStatus: doc.serverStatus,
  };
  if (changed && 'version' in record) (record as LocalDelivery).version = ((local as LocalDelivery | undefined)?.version ?? 0) + 1;
  if (changed) (record as { updatedAt: string }).updatedAt = doc.updatedAt;
  return record;
}

/** A record for a document this device has never had: its values come from the document. */
export function blankRecord(doc: WorkDoc): WorkRecord {
  const sync = newSyncMeta(doc.createdBy);
  if (doc.kind === 'typology') return { id: doc.id, name: '', rules: [], requiresApproval: false, updatedAt: doc.updatedAt, sync };
  if (doc.kind === 'template') {
    return {
      id: doc.id,
      name: '',
      description: '',
      subject: '',
      preheader: '',
      html: '',
      text: '',
      source: null,
      updatedAt: doc.updatedAt,
      sync,
    };
  }
  return {
    id: doc.id,
    version: 0,
    name: '',
    fromName: '',
    fromAddress: '',
    subject: '',
    html: '',
    audience: { kind: 'all' } as LocalDelivery['audience'],
    scheduledAt: null,
    typologyId: 'default',
    createdAt: doc.createdAt,
    updatedAt: doc.updatedAt,
    server: null,
    prepared: null,
    sync,
  } as LocalDelivery;
}

/** Returns true when the record is waiting for a deletion to be pushed (lists leave it out). */
export const isDeleting = (record: WorkRecord) => record.sync.deleteAt !== null;

/** Writes documents from the server into the device, each laid over its record; `pushed` maps ids to the stamps their push sent. */
export async function storeDocs(
  db: MailroomDb,
  docs: readonly WorkDoc[],
  pushed: Record<string, Record<string, string>> = {},
): Promise<void> {
  await observe(
    db,
    docs.flatMap((d) => Object.values(d.stamps).map((s) => s.hlc)),
  );
  for (const doc of docs) {
    const table = tableOf(db, doc.kind);
    const local = await table.get(doc.id);
    const next = applyDoc(local, doc, blankRecord(doc), pushed[doc.id]);
    if (next === null) {
      await table.delete(doc.id);
      if (doc.kind === 'delivery') await forgetPreparation(db, doc.id);
      if (local && !local.sync.deleteAt && Object.keys(local.sync.pending).length > 0) await keepOrphanedEdits(db, doc, local);
    } else await table.put(next);
  }
}

/**
 * Keeps, as a new document, a record someone deleted while this device had edits of it the
 * server never took: nothing made here is lost without a trace. The copy is named for what
 * happened, and every field of it is pushed as new.
 */
async function keepOrphanedEdits(db: MailroomDb, doc: WorkDoc, local: WorkRecord): Promise<void> {
  const id = crypto.randomUUID();
  const sync = newDocSync(doc.kind, local.sync.createdBy, doc.id, await stampsFor(db, doc.kind));
  const name = `${valueOf(local, 'name') || 'Untitled'} (kept: deleted by ${doc.updatedBy})`.slice(0, 200);
  if (doc.kind === 'delivery') {
    await db.deliveries.put({ ...(local as LocalDelivery), id, name, version: 1, server: null, prepared: null, sync });
  } else await tableOf(db, doc.kind).put({ ...local, id, name, sync } as WorkRecord);
}

/** Drops what this device prepared for a delivery that is gone. */
async function forgetPreparation(db: MailroomDb, id: string): Promise<void> {
  await db.preparations.delete(id);
  await db.recipientChunks.where('[deliveryId+chunk]').between([id, -Infinity], [id, Infinity]).delete();
  await db.exclusionChunks.where('[deliveryId+chunk]').between([id, -Infinity], [id, Infinity]).delete();
  await db.outbox.where('deliveryId').equals(id).delete();
}
