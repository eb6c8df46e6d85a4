/**
 * Reading and writing the audience replica. Used by the page (sync, counts) and by the
 * worker (scans, lookups). A change page is applied with its cursor in one transaction.
 */

import type { AttributeDefinition, Profile } from '$shared/types';
import { getMeta, REPLICA_COUNT, REPLICA_CURSOR, REPLICA_SCHEMA, REPLICA_SYNCED_AT, REPLICA_TOTAL, type MailroomDb } from './db';
import { blockOf, ProfileBlock } from './replica-blocks';

export interface ChangePage {
  profiles: Profile[];
  deleted: number[];
  cursor: number;
  total: number;
}

/** Applies one page of changes and moves the cursor, all or nothing. Returns the replica's new profile count. */
export async function applyChangePage(db: MailroomDb, page: ChangePage, schema: AttributeDefinition[] | null, at: string): Promise<number> {
  const touched = new Set<number>([...page.profiles.map((p) => blockOf(p.id)), ...page.deleted.map(blockOf)]);
  return db.transaction('rw', [db.blocks, db.meta], async () => {
    const keys = [...touched];
    const stored = await db.blocks.bulkGet(keys);
    const blocks = new Map<number, ProfileBlock>(keys.map((n, i) => [n, new ProfileBlock(n, stored[i] ?? null)]));
    let delta = 0;
    for (const profile of page.profiles) delta += blocks.get(blockOf(profile.id))!.put(profile);
    for (const id of page.deleted) delta -= blocks.get(blockOf(id))!.remove(id);
    const kept = [...blocks.values()].filter((b) => b.length > 0).map((b) => b.encode());
    const emptied = [...blocks.values()].filter((b) => b.length === 0).map((b) => b.n);
    await db.blocks.bulkPut(kept);
    if (emptied.length) await db.blocks.bulkDelete(emptied);
    const count = ((await getMeta<number>(db, REPLICA_COUNT)) ?? 0) + delta;
    await db.meta.bulkPut([
      { key: REPLICA_CURSOR, value: page.cursor },
      { key: REPLICA_SYNCED_AT, value: at },
      { key: REPLICA_TOTAL, value: page.total },
      { key: REPLICA_COUNT, value: count },
      ...(schema ? [{ key: REPLICA_SCHEMA, value: schema }] : []),
    ]);
    return count;
  });
}

/** Returns the profile with this id from the replica, or undefined. */
export async function getProfile(db: MailroomDb, id: number): Promise<Profile | undefined> {
  const stored = await db.blocks.get(blockOf(id));
  if (!stored) return undefined;
  const block = new ProfileBlock(stored.n, stored);
  const at = block.indexOf(id);
  return at >= 0 ? block.profileAt(at) : undefined;
}

/**
 * Calls `each` with the profiles of every block, in id order, a few blocks per read.
 * Stops early when `each` returns false. Returns the number of profiles visited.
 */
export async function scanProfiles(db: MailroomDb, each: (profiles: Profile[]) => boolean | void): Promise<number> {
  let last = -1;
  let visited = 0;
  for (;;) {
    const blocks = await db.blocks.where('n').above(last).limit(4).toArray();
    if (blocks.length === 0) return visited;
    for (const stored of blocks) {
      const profiles = new ProfileBlock(stored.n, stored).profiles();
      visited += profiles.length;
      if (each(profiles) === false) return visited;
    }
    last = blocks[blocks.length - 1].n;
  }
}

/** Returns the audience schema the replica was pulled with (empty before the first pull). */
export async function replicaSchema(db: MailroomDb): Promise<AttributeDefinition[]> {
  return (await getMeta<AttributeDefinition[]>(db, REPLICA_SCHEMA)) ?? [];
}

/**
 * Returns up to `limit` profiles whose email, first name, last name or full name starts with
 * the query (case-insensitive). Reads only the name columns of each block until enough match.
 */
export async function searchProfiles(db: MailroomDb, query: string, limit: number): Promise<Profile[]> {
  const needle = query.trim().toLowerCase();
  const found: Profile[] = [];
  if (!needle) return found;
  let last = -1;
  for (;;) {
    const stored = await db.blocks.where('n').above(last).limit(4).toArray();
    if (stored.length === 0) return found;
    for (const data of stored) {
      const block = new ProfileBlock(data.n, data);
      const emails = block.textColumn('email');
      const first = block.textColumn('firstName');
      const lastNames = block.textColumn('lastName');
      for (let i = 0; i < block.length; i++) {
        const firstName = (first[i] ?? '').toLowerCase();
        const lastName = (lastNames[i] ?? '').toLowerCase();
        if (
          (emails[i] ?? '').startsWith(needle) ||
          firstName.startsWith(needle) ||
          lastName.startsWith(needle) ||
          `${firstName} ${lastName}`.startsWith(needle)
        ) {
          found.push(block.profileAt(i));
          if (found.length >= limit) return found;
        }
      }
    }
    last = stored[stored.length - 1].n;
  }
}
