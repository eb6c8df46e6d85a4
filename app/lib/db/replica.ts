/**
 * Reading and writing the audience replica. Used by the page (sync, counts) and by the
 * worker (scans, lookups). A change page is applied with its cursor in one transaction.
 */

import type { AttributeDefinition, Profile } from '$shared/types';
import { getMeta, REPLICA_COUNT, REPLICA_CURSOR, REPLICA_SCHEMA, REPLICA_SYNCED_AT, REPLICA_TOTAL, type MailroomDb } from './db';
import { blockOf, emptyBlock, indexOf, profileAt, profilesOf, putProfile, removeProfile, type ProfileBlock } from './replica-blocks';

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
    const blocks = new Map<number, ProfileBlock>(keys.map((n, i) => [n, stored[i] ?? emptyBlock(n)]));
    let delta = 0;
    for (const profile of page.profiles) delta += putProfile(blocks.get(blockOf(profile.id))!, profile);
    for (const id of page.deleted) delta -= removeProfile(blocks.get(blockOf(id))!, id);
    const kept = [...blocks.values()].filter((b) => b.ids.length > 0);
    const emptied = [...blocks.values()].filter((b) => b.ids.length === 0).map((b) => b.n);
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
  const block = await db.blocks.get(blockOf(id));
  if (!block) return undefined;
  const at = indexOf(block, id);
  return at >= 0 ? profileAt(block, at) : undefined;
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
    for (const block of blocks) {
      const profiles = profilesOf(block);
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
