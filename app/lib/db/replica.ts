/**
 * Reading and writing the audience replica. Used by the page (sync, counts) and by the
 * worker (scans, lookups, compaction).
 *
 * Two places hold profiles: the packed blocks (replica-blocks.ts), and an overlay of recent
 * change pages. The initial pull writes straight into blocks; later pulls write each page
 * as one overlay record — a change page spread over the whole audience would otherwise
 * rewrite every block — and `compactReplica` folds the overlay into the blocks afterwards.
 * Readers see blocks with the overlay laid over them, so the two are always one replica.
 * A page and its cursor are always written in one transaction.
 */

import { historyStamp } from '$shared/content-hash';
import { NO_ENGAGEMENT, type EngagementSnapshot } from '$shared/engagement';
import { CORE_FIELDS, profilesView, type CoreField, type ProfileBlockView } from '$shared/profile-fields';
import type { AttributeDefinition, ContactHistoryEntry, Profile } from '$shared/types';
import {
  getMeta,
  REPLICA_COUNT,
  REPLICA_CURSOR,
  REPLICA_ENGAGED_DELIVERIES,
  REPLICA_ENGAGEMENT,
  REPLICA_HISTORY_STAMP,
  REPLICA_LOADED,
  REPLICA_SCHEMA,
  REPLICA_SYNCED_AT,
  REPLICA_TOTAL,
  replicaVersion,
  type MailroomDb,
  type OverlayRecord,
} from './db';
import { blockOf, ProfileBlock } from './replica-blocks';

export interface ChangePage {
  profiles: Profile[];
  deleted: number[];
  cursor: number;
  total: number;
  hasMore: boolean;
}

/** Blocks folded per transaction when compacting: small transactions keep readers and writers moving. */
const COMPACT_BLOCKS = 8;
/** Profiles the overlay may hold before a sync asks for compaction. */
export const OVERLAY_LIMIT = 30_000;

/**
 * Applies one page of changes and moves the cursor, all or nothing. `into` says where:
 * `blocks` until a first pull has completed (also when it resumes), `overlay` afterwards.
 * Returns the replica's profile count.
 */
export async function applyChangePage(
  db: MailroomDb,
  page: ChangePage,
  schema: AttributeDefinition[] | null,
  at: string,
  into: 'blocks' | 'overlay',
): Promise<number> {
  return db.transaction('rw', [db.blocks, db.blockDetails, db.overlay, db.meta], async () => {
    let count = (await getMeta<number>(db, REPLICA_COUNT)) ?? 0;
    if (into === 'blocks') count += await writeIntoBlocks(db, page.profiles, page.deleted);
    else if (page.profiles.length || page.deleted.length) await db.overlay.add({ profiles: page.profiles, deleted: page.deleted });
    // After the last page the replica holds exactly the audience of record.
    if (!page.hasMore) count = page.total;
    await db.meta.bulkPut([
      { key: REPLICA_CURSOR, value: page.cursor },
      { key: REPLICA_SYNCED_AT, value: at },
      { key: REPLICA_TOTAL, value: page.total },
      { key: REPLICA_COUNT, value: count },
      ...(page.hasMore ? [] : [{ key: REPLICA_LOADED, value: true }]),
      ...(schema ? [{ key: REPLICA_SCHEMA, value: schema }] : []),
    ]);
    return count;
  });
}

/** Writes profiles and deletions into their blocks (inside the caller's transaction); returns the change in count. */
async function writeIntoBlocks(db: MailroomDb, profiles: readonly Profile[], deleted: readonly number[]): Promise<number> {
  const keys = [...new Set<number>([...profiles.map((p) => blockOf(p.id)), ...deleted.map(blockOf)])];
  const [stored, details] = await Promise.all([db.blocks.bulkGet(keys), db.blockDetails.bulkGet(keys)]);
  const blocks = new Map(keys.map((n, i) => [n, new ProfileBlock(n, stored[i] ?? null, details[i] ?? null)]));
  let delta = 0;
  for (const profile of profiles) delta += blocks.get(blockOf(profile.id))!.put(profile);
  for (const id of deleted) delta -= blocks.get(blockOf(id))!.remove(id);
  const kept = [...blocks.values()].filter((b) => b.length > 0).map((b) => b.encode());
  const emptied = [...blocks.values()].filter((b) => b.length === 0).map((b) => b.n);
  await db.blocks.bulkPut(kept.map((k) => k.block));
  await db.blockDetails.bulkPut(kept.map((k) => k.details));
  if (emptied.length) {
    await db.blocks.bulkDelete(emptied);
    await db.blockDetails.bulkDelete(emptied);
  }
  return delta;
}

/** The overlay as one map: the latest state of each changed id (null: deleted). */
async function readOverlay(db: MailroomDb): Promise<{ changes: Map<number, Profile | null>; lastKey: number }> {
  const records = await db.overlay.orderBy('key').toArray();
  const changes = new Map<number, Profile | null>();
  for (const record of records) {
    for (const profile of record.profiles) changes.set(profile.id, profile);
    for (const id of record.deleted) changes.set(id, null);
  }
  return { changes, lastKey: records.length ? records[records.length - 1].key! : 0 };
}

/** Returns how many profiles the overlay holds. */
export async function overlaySize(db: MailroomDb): Promise<number> {
  let size = 0;
  await db.overlay.each((record: OverlayRecord) => void (size += record.profiles.length + record.deleted.length));
  return size;
}

/**
 * Folds the overlay into the blocks, a few blocks per transaction, then drops the overlay
 * records it folded. Safe to interrupt: folding the same change twice changes nothing.
 */
export async function compactReplica(db: MailroomDb): Promise<void> {
  const { changes, lastKey } = await readOverlay(db);
  if (changes.size === 0) return;
  const byBlock = new Map<number, { profiles: Profile[]; deleted: number[] }>();
  for (const [id, profile] of changes) {
    const n = blockOf(id);
    let group = byBlock.get(n);
    if (!group) byBlock.set(n, (group = { profiles: [], deleted: [] }));
    if (profile) group.profiles.push(profile);
    else group.deleted.push(id);
  }
  const keys = [...byBlock.keys()].sort((a, b) => a - b);
  for (let i = 0; i < keys.length; i += COMPACT_BLOCKS) {
    const group = keys.slice(i, i + COMPACT_BLOCKS);
    await db.transaction('rw', [db.blocks, db.blockDetails], () =>
      writeIntoBlocks(
        db,
        group.flatMap((n) => byBlock.get(n)!.profiles),
        group.flatMap((n) => byBlock.get(n)!.deleted),
      ),
    );
  }
  await db.overlay.where('key').belowOrEqual(lastKey).delete();
}

/** Returns the profile with this id from the replica, or undefined. */
export async function getProfile(db: MailroomDb, id: number): Promise<Profile | undefined> {
  const { changes } = await readOverlay(db);
  if (changes.has(id)) return changes.get(id) ?? undefined;
  const [stored, details] = await Promise.all([db.blocks.get(blockOf(id)), db.blockDetails.get(blockOf(id))]);
  if (!stored) return undefined;
  const block = new ProfileBlock(stored.n, stored, details ?? null);
  const at = block.indexOf(id);
  return at >= 0 ? block.profileAt(at) : undefined;
}

/**
 * Calls `each` with the profiles of the replica in id order, block by block, with the
 * overlay laid over them. Stops early when `each` returns false. Dates and status sources
 * are not read (scans do not use them). Returns the number of profiles visited.
 */
/** A block of the replica as a scan hands it over: columns to filter on, profiles built on demand. */
export interface BlockView extends ProfileBlockView {
  profiles(): Profile[];
}

/**
 * Calls `each` with every block of the replica (the overlay's changes applied), in id
 * order, until it returns false; returns how many profiles were visited.
 */
export async function scanBlocks(db: MailroomDb, each: (block: BlockView) => boolean | void): Promise<number> {
  const { changes } = await readOverlay(db);
  const pending = groupByBlock(changes);
  let visited = 0;
  const emit = (block: BlockView) => {
    visited += block.length;
    return each(block) !== false;
  };
  // Overlay-only blocks (new ids in a block the replica does not have yet) come in block order too.
  const flushOverlayBefore = (n: number) => {
    for (const key of [...pending.keys()].sort((a, b) => a - b)) {
      if (key >= n) break;
      const inserted = [...pending.get(key)!.values()].filter((p): p is Profile => p !== null).sort((a, b) => a.id - b.id);
      pending.delete(key);
      if (inserted.length && !emit(listView(inserted))) return false;
    }
    return true;
  };
  const read = (after: number) => {
    const request = db.blocks.where('n').above(after).limit(4).toArray();
    request.catch(() => {}); // awaited below, or dropped when the scan stops early
    return request;
  };
  // The next blocks are read while these are processed: IndexedDB and the scan overlap.
  let next = read(-1);
  for (;;) {
    const stored = await next;
    if (stored.length > 0) next = read(stored[stored.length - 1].n);
    for (const data of stored) {
      if (!flushOverlayBefore(data.n)) return visited;
      const block = new ProfileBlock(data.n, data);
      const overlay = pending.get(data.n);
      if (overlay) pending.delete(data.n);
      if (!emit(overlay ? listView(merge(block.profiles(), overlay)) : blockView(block))) return visited;
    }
    if (stored.length === 0) {
      flushOverlayBefore(Infinity);
      return visited;
    }
  }
}

function blockView(block: ProfileBlock): BlockView {
  return {
    length: block.length,
    ids: block.ids,
    flags: () => block.flags(),
    column: (field) => {
      const core = CORE_FIELDS[field as CoreField];
      return core ? block.textColumn(core) : block.attributeColumn(field);
    },
    profileAt: (i) => block.profileAt(i),
    profiles: () => block.profiles(),
  };
}

function listView(profiles: Profile[]): BlockView {
  return { ...profilesView(profiles), profiles: () => profiles };
}

function groupByBlock(changes: Map<number, Profile | null>): Map<number, Map<number, Profile | null>> {
  const groups = new Map<number, Map<number, Profile | null>>();
  for (const [id, profile] of changes) {
    const n = blockOf(id);
    let group = groups.get(n);
    if (!group) groups.set(n, (group = new Map()));
    group.set(id, profile);
  }
  return groups;
}

/** Returns the block's profiles with the overlay's changes applied, in id order. */
function merge(profiles: Profile[], overlay: Map<number, Profile | null>): Profile[] {
  const out: Profile[] = [];
  for (const profile of profiles) {
    if (!overlay.has(profile.id)) out.push(profile);
    else {
      const changed = overlay.get(profile.id);
      if (changed) out.push(changed);
      overlay.delete(profile.id);
    }
  }
  const inserted = [...overlay.values()].filter((p): p is Profile => p !== null);
  if (inserted.length === 0) return out;
  return [...out, ...inserted].sort((a, b) => a.id - b.id);
}

/**
 * Returns up to `limit` profiles in which every word of the query is found somewhere in the
 * address, the first name or the last name, ignoring case and, in names, accents ("jong"
 * finds "de Jong" and "jongejan@…", "zoe" finds "Zoë", "anna jong" finds Anna de Jong): the
 * overlay's changes first, then the blocks in id order. The server's search (audience-store's
 * matchingIds) follows the same rule, so deleting "every profile matching" there deletes what
 * this finds. Reads only the address and name columns of each block until enough match.
 */
export async function searchProfiles(db: MailroomDb, query: string, limit: number): Promise<Profile[]> {
  const words = foldForSearch(query).split(/\s+/).filter(Boolean);
  const found: Profile[] = [];
  if (words.length === 0) return found;
  // Names repeat (a dictionary column holds few distinct ones): each is folded once.
  const folded = new Map<string | null, string>();
  const fold = (name: string | null) => {
    let f = folded.get(name);
    if (f === undefined) {
      f = name ? foldForSearch(name) : '';
      if (folded.size < 100_000) folded.set(name, f);
    }
    return f;
  };
  // Addresses are stored lower-cased (and a valid one is ASCII): compared as they are, unfolded.
  const [word] = words;
  const matches =
    words.length === 1
      ? (email: string, first: string | null, last: string | null) =>
          email.includes(word) || fold(first).includes(word) || fold(last).includes(word)
      : (email: string, first: string | null, last: string | null) =>
          words.every((w) => email.includes(w) || fold(first).includes(w) || fold(last).includes(w));
  const { changes } = await readOverlay(db);
  for (const profile of changes.values()) {
    if (profile && matches(profile.email, profile.firstName, profile.lastName)) {
      found.push(profile);
      if (found.length >= limit) return found;
    }
  }
  let last = -1;
  for (;;) {
    const stored = await db.blocks.where('n').above(last).limit(4).toArray();
    if (stored.length === 0) return found;
    for (const data of stored) {
      const block = new ProfileBlock(data.n, data);
      const emails = block.textColumn('email');
      const firstNames = block.textColumn('firstName');
      const lastNames = block.textColumn('lastName');
      for (let i = 0; i < block.length; i++) {
        if (changes.has(block.ids[i])) continue;
        if (matches(emails[i] ?? '', firstNames[i], lastNames[i])) {
          found.push(block.profileAt(i));
          if (found.length >= limit) return found;
        }
      }
    }
    last = stored[stored.length - 1].n;
  }
}

// eslint-disable-next-line no-control-regex
const ASCII = /^[\u0000-\u007f]*$/;

/** Returns text as searches compare it: lower case, accents removed (Zoë → zoe); the server's foldForSearch is the same. */
export function foldForSearch(text: string): string {
  return ASCII.test(text) ? text.toLowerCase() : text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/** Returns the audience schema the replica was pulled with (empty before the first pull). */
export async function replicaSchema(db: MailroomDb): Promise<AttributeDefinition[]> {
  return (await getMeta<AttributeDefinition[]>(db, REPLICA_SCHEMA)) ?? [];
}

/** A delivery engagement conditions can name, as the builder lists it. */
export interface EngagedDelivery {
  deliveryId: string;
  name: string;
  sentAt: string;
  received: number;
  opened: number;
  clicked: number;
}

/**
 * Replaces the replica's engagement in one transaction: the ids as typed arrays (a million
 * of them take 4 MB), and beside them the list of deliveries alone with a stamp, which is
 * what the page reads, and the server's ETag of it (the next pull asks whether it changed).
 */
export async function storeEngagement(
  db: MailroomDb,
  snapshot: EngagementSnapshot,
  pulledAt: string,
  etag: string | null = null,
): Promise<void> {
  const stored: EngagementSnapshot = {
    deliveries: snapshot.deliveries.map((d) => ({
      ...d,
      received: Int32Array.from(d.received),
      opened: Int32Array.from(d.opened),
      clicked: Int32Array.from(d.clicked),
    })),
    lastOpen: { ids: Int32Array.from(snapshot.lastOpen.ids), at: Float64Array.from(snapshot.lastOpen.at) },
    lastClick: { ids: Int32Array.from(snapshot.lastClick.ids), at: Float64Array.from(snapshot.lastClick.at) },
  };
  const listed: EngagedDelivery[] = snapshot.deliveries.map((d) => ({
    deliveryId: d.deliveryId,
    name: d.name,
    sentAt: d.sentAt,
    received: d.received.length,
    opened: d.opened.length,
    clicked: d.clicked.length,
  }));
  await db.transaction('rw', [db.meta], async () => {
    await db.meta.put({ key: REPLICA_ENGAGEMENT, value: stored });
    await db.meta.put({ key: REPLICA_ENGAGED_DELIVERIES, value: { pulledAt, deliveries: listed, etag } });
  });
}

/** Returns the replica's engagement (none before the first pull). */
export async function replicaEngagement(db: MailroomDb): Promise<{ snapshot: EngagementSnapshot; pulledAt: string }> {
  return db.transaction('r', [db.meta], async () => {
    const snapshot = await getMeta<EngagementSnapshot>(db, REPLICA_ENGAGEMENT);
    const listed = await getMeta<{ pulledAt: string }>(db, REPLICA_ENGAGED_DELIVERIES);
    return { snapshot: snapshot ?? NO_ENGAGEMENT, pulledAt: listed?.pulledAt ?? '' };
  });
}

/** Replaces the replica's contact history (what pressure and capacity rules count) in one transaction. */
export async function storeContactHistory(db: MailroomDb, entries: readonly ContactHistoryEntry[]): Promise<void> {
  await db.transaction('rw', [db.contactHistory, db.meta], async () => {
    await db.contactHistory.clear();
    await db.contactHistory.bulkPut(
      entries.map((e) => ({ deliveryId: e.deliveryId, at: e.at, profileIds: Int32Array.from(e.profileIds) })),
    );
    await db.meta.put({ key: REPLICA_HISTORY_STAMP, value: historyStamp(entries) });
  });
}

/** Returns the contact history and the version of the replica (cursor and history stamp) it goes with. */
export async function replicaState(db: MailroomDb): Promise<{ history: ContactHistoryEntry[]; version: string; engagementStamp: string }> {
  return db.transaction('r', [db.contactHistory, db.meta], async () => {
    const history = await db.contactHistory.toArray();
    const cursor = (await getMeta<number>(db, REPLICA_CURSOR)) ?? 0;
    const stamp = (await getMeta<string>(db, REPLICA_HISTORY_STAMP)) ?? '';
    const engaged = await getMeta<{ pulledAt: string; etag?: string | null }>(db, REPLICA_ENGAGED_DELIVERIES);
    return { history, version: replicaVersion(cursor, stamp), engagementStamp: engagementStampOf(engaged) };
  });
}

/** What identifies the replica's engagement: the server's ETag of it, or when it was pulled. */
export const engagementStampOf = (engaged: { pulledAt: string; etag?: string | null } | undefined) =>
  engaged ? (engaged.etag ?? engaged.pulledAt) : '';
