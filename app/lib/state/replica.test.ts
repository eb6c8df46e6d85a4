/**
 * The replica against the real server app (in-process) and IndexedDB (fake-indexeddb):
 * pulling in pages, resuming after an interruption, deletions and suppression, and a full
 * disk.
 */

import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createKit, newProfile, type Kit } from '../../../server/test-kit';
import { getMeta, MailroomDb, REPLICA_COUNT, REPLICA_CURSOR } from '../db/db';
import { compactReplica, getProfile, overlaySize, scanBlocks, searchProfiles } from '../db/replica';
import { Replica } from './replica.svelte';

let kit: Kit;
let db: MailroomDb;
let failAfter = Infinity;

beforeEach(async () => {
  kit = await createKit();
  await kit.services.audience.upsertMany(
    Array.from({ length: 25_000 }, () => newProfile()),
    'test',
    new Date(),
  );
  db = new MailroomDb(`replica-test-${Math.random()}`);
  failAfter = Infinity;
  let requests = 0;
  // The app's fetch reaches the real server app in-process, with the operator's session.
  vi.stubGlobal('fetch', async (input: RequestInfo | URL, init?: RequestInit) => {
    const url = new URL(String(input instanceof Request ? input.url : input), 'http://mailroom.test');
    if (url.pathname === '/api/audience/changes' && ++requests > failAfter) throw new TypeError('Failed to fetch');
    return kit.app.request(url.pathname + url.search, {
      ...init,
      headers: { ...Object.fromEntries(new Headers(init?.headers)), cookie: kit.cookie },
    });
  });
  vi.stubGlobal('navigator', { onLine: true });
});

afterEach(async () => {
  vi.unstubAllGlobals();
  db.close();
  await kit.close();
});

const cursorOf = () => getMeta<number>(db, REPLICA_CURSOR);
const countOf = () => getMeta<number>(db, REPLICA_COUNT);

describe('the replica', () => {
  it('pulls the whole audience in pages into blocks, every profile once, in id order', async () => {
    const replica = new Replica(db);
    await replica.sync();
    expect(replica.error).toBeNull();
    expect(await countOf()).toBe(25_000);
    const ids: number[] = [];
    await scanBlocks(db, (block) => void ids.push(...block.profiles().map((p) => p.id)));
    expect(ids).toHaveLength(25_000);
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1])).toBe(true);
    expect(await db.blocks.count()).toBeLessThan(10);
    const some = (await kit.services.audience.get(12_345))!;
    expect(await getProfile(db, 12_345)).toEqual(some);
  });

  it('resumes where an interrupted pull stopped; the cursor never runs ahead of the data', async () => {
    failAfter = 1;
    const replica = new Replica(db);
    await replica.sync();
    expect(replica.error).toBe('The audience could not be updated: the server cannot be reached. Working from the local copy.');
    expect(await countOf()).toBe(10_000);
    const cursor = await cursorOf();
    expect((await kit.services.audience.changesSince(0, 10_000)).cursor).toBe(cursor);
    failAfter = Infinity;
    const asked: string[] = [];
    const realFetch = fetch;
    vi.stubGlobal('fetch', (input: RequestInfo | URL, init?: RequestInit) => {
      asked.push(new URL(String(input), 'http://mailroom.test').search);
      return realFetch(input, init);
    });
    await new Replica(db).sync();
    expect(asked.filter((q) => q.includes('since='))[0]).toContain(`since=${cursor}`);
    expect(await countOf()).toBe(25_000);
    let visited = 0;
    await scanBlocks(db, (block) => void (visited += block.profiles().length));
    expect(visited).toBe(25_000);
  });

  it('applies deletions and suppression changes from the server', async () => {
    const replica = new Replica(db);
    await replica.sync();
    const gone = (await kit.services.audience.get(100))!;
    const denied = (await kit.services.audience.get(200))!;
    const bounced = (await kit.services.audience.get(20_000))!;
    await kit.services.audience.delete(gone.id);
    await kit.services.audience.denylist(denied.email, 'asked', 'admin', new Date());
    await kit.services.audience.quarantine(bounced.email, 'complaint', null, null, new Date());
    await kit.services.audience.unsubscribe(300, 'link', new Date());
    await replica.sync();
    expect(await countOf()).toBe(24_999);
    expect(await getProfile(db, gone.id)).toBeUndefined();
    expect((await getProfile(db, denied.id))?.denylisted).toBe(true);
    expect((await getProfile(db, bounced.id))?.quarantined).toBe(true);
    expect((await getProfile(db, 300))?.status).toBe('unsubscribed');
  });

  it('says in plain words when the disk is full, and keeps the replica as it was', async () => {
    const replica = new Replica(db);
    failAfter = 1;
    await replica.sync();
    const cursor = await cursorOf();
    failAfter = Infinity;
    const bulkPut = db.blocks.bulkPut.bind(db.blocks);
    let calls = 0;
    db.blocks.bulkPut = ((...args: Parameters<typeof bulkPut>) => {
      if (++calls === 1) return Promise.reject(new DOMException('The quota has been exceeded.', 'QuotaExceededError'));
      return bulkPut(...args);
    }) as typeof bulkPut;
    await replica.sync();
    expect(replica.error).toMatch(
      /^The browser has no more room for the audience: free disk space or allow this site more storage, then sync again\./,
    );
    expect(await cursorOf()).toBe(cursor);
    expect(await countOf()).toBe(10_000);
  });

  it('lays later changes over the blocks, in id order, and folds them in without changing what readers see', async () => {
    const replica = new Replica(db, async () => {});
    await replica.sync();
    await kit.services.audience.delete(10);
    await kit.services.audience.upsertMany([{ email: 'person-new@example.com', firstName: 'Newcomer' }], 'test', new Date());
    await kit.services.audience.upsertMany(
      [{ email: (await kit.services.audience.get(20_000))!.email, firstName: 'Renamed' }],
      'test',
      new Date(),
    );
    await replica.sync();
    expect(await overlaySize(db)).toBe(3);
    const read = async () => {
      const profiles: { id: number; firstName: string }[] = [];
      await scanBlocks(db, (block) => void profiles.push(...block.profiles().map((p) => ({ id: p.id, firstName: p.firstName }))));
      return profiles;
    };
    const before = await read();
    expect(before).toHaveLength(25_000);
    expect(before.every((p, i) => i === 0 || p.id > before[i - 1].id)).toBe(true);
    expect(before.find((p) => p.id === 10)).toBeUndefined();
    expect(before.find((p) => p.id === 20_000)?.firstName).toBe('Renamed');
    expect(before.at(-1)?.firstName).toBe('Newcomer');
    expect((await searchProfiles(db, 'newcomer', 5)).map((p) => p.email)).toEqual(['person-new@example.com']);
    expect(await searchProfiles(db, (await kit.services.audience.get(11))!.email, 5)).toHaveLength(1);

    await compactReplica(db);
    expect(await overlaySize(db)).toBe(0);
    expect(await read()).toEqual(before);
    expect((await getProfile(db, 20_000))?.firstName).toBe('Renamed');
    expect(await countOf()).toBe(25_000);
  });
});
