/**
 * Several nodes on one PostgreSQL database, at the level of the stores: claims never overlap
 * (FOR UPDATE SKIP LOCKED), a dead node's rows — and only its rows — become unknown, the
 * change log's numbers commit in order under concurrent writers, and a change on one node is
 * heard by the others (LISTEN/NOTIFY). Only in the unit-pg project.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { TEST_SCRYPT, testDatabaseUrl } from '../test-kit';
import { Operators } from './operators';
import { openStores, type Stores } from './stores';

const open: Stores[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((s) => s.close()));
});

async function nodes(count: number): Promise<Stores[]> {
  const url = await testDatabaseUrl();
  const first = await openStores({ databaseUrl: url, nodeId: 'node-1', liveIntervalMs: 10 });
  const rest = await Promise.all(
    Array.from({ length: count - 1 }, (_, i) => openStores({ databaseUrl: url, nodeId: `node-${i + 2}`, liveIntervalMs: 10 })),
  );
  open.push(first, ...rest);
  return [first, ...rest];
}

/** Hands a delivery of `n` recipients to the stores directly and makes it sending. */
async function sendingDelivery(stores: Stores, n: number) {
  const profiles = Array.from({ length: n }, (_, i) => ({ email: `p${i}@example.com` }));
  await stores.audience.upsertMany(profiles, 'test', new Date());
  const ids = (await stores.audience.pageById(0, n)).map((p) => ({ id: p.id, email: p.email }));
  const header = {
    id: 'd1',
    version: 1,
    contentHash: 'abcdef01',
    name: 'D',
    fromName: 'Shop',
    fromAddress: 'news@shop.example.com',
    subject: 'Hi',
    html: '<p>Hi</p>',
    targeted: n,
    toDeliver: n,
    excluded: 0,
    excludedByCause: {},
    chunkCount: 1,
  };
  expect(await stores.deliveries.beginBatch(header, new Date())).toEqual({ ok: true });
  const recipients = ids.map((p, i) => ({ seq: i + 1, profileId: p.id, email: p.email, subject: 'Hi', values: {} }));
  expect((await stores.deliveries.putChunk('d1', 'abcdef01', 1, { recipients })).ok).toBe(true);
  expect((await stores.deliveries.commitBatch('d1', 'abcdef01', new Date())).ok).toBe(true);
  expect((await stores.deliveries.transition('d1', 'sending', new Date())).ok).toBe(true);
}

describe('several nodes on one PostgreSQL database', () => {
  it('never claim one row twice, however they race', async () => {
    const [a, b, c] = await nodes(3);
    await sendingDelivery(a, 600);
    const claimed = new Map<number, string>();
    await Promise.all(
      [a, b, c].map(async (node) => {
        for (;;) {
          const { entries } = await node.journal.claim('d1', 0, 7, new Date());
          if (entries.length === 0) return;
          for (const e of entries) {
            expect(claimed.has(e.id), `row ${e.id} claimed twice`).toBe(false);
            claimed.set(e.id, node.nodeId);
          }
        }
      }),
    );
    expect(claimed.size).toBe(600);
    // The work spread: every node claimed some.
    expect(new Set(claimed.values()).size).toBe(3);
  });

  it('leave only a dead node’s rows in flight to become unknown, never another’s', async () => {
    const [a, b] = await nodes(2);
    await sendingDelivery(a, 20);
    const now = new Date();
    await a.nodes.join({ id: 'node-1', host: 'a', pid: 1, startedAt: now.toISOString() }, now);
    await b.nodes.join({ id: 'node-2', host: 'b', pid: 2, startedAt: now.toISOString() }, now);
    const ofA = (await a.journal.claim('d1', 0, 5, now)).entries;
    const ofB = (await b.journal.claim('d1', 0, 5, now)).entries;
    // node-2 keeps saying it is alive; node-1 stopped 20 s ago.
    const later = new Date(now.getTime() + 20_000);
    await b.nodes.heartbeat('node-2', later);
    expect(await b.journal.markInFlightUnknown(later)).toBe(5);
    const unknown = await a.query<{ id: number }>("SELECT id FROM journal WHERE status = 'unknown' ORDER BY id");
    expect(unknown.map((r) => r.id)).toEqual(ofA.map((e) => e.id));
    const stillB = await a.query<{ id: number }>("SELECT id FROM journal WHERE status = 'sending' ORDER BY id");
    expect(stillB.map((r) => r.id)).toEqual(ofB.map((e) => e.id));
    // node-2's late answer is written; node-1's rows are the operator's to settle.
    await b.journal.record([{ id: ofB[0].id, outcome: { kind: 'sent', reply: '250 OK' } }], later);
    await a.journal.record([{ id: ofA[0].id, outcome: { kind: 'sent', reply: '250 OK' } }], later);
    expect(await a.query('SELECT status FROM journal WHERE id = ?', [ofB[0].id])).toEqual([{ status: 'sent' }]);
  });

  it('commit the change log in number order under concurrent writers, so a replica’s cursor never skips a change', async () => {
    const [a, b] = await nodes(2);
    await a.audience.upsertMany(
      Array.from({ length: 400 }, (_, i) => ({ email: `w${i}@example.com` })),
      'test',
      new Date(),
    );
    const ids = (await a.audience.pageById(0, 400)).map((p) => p.id);
    // A replica's view, pulled by cursor while two nodes write at once.
    const view = new Map<number, string>();
    let cursor = 0;
    const pull = async () => {
      const page = await b.audience.changesSince(cursor, 1000);
      for (const p of page.profiles) view.set(p.id, `${p.status}/${p.denylisted}`);
      cursor = page.cursor;
    };
    let writing = true;
    const reader = (async () => {
      while (writing) await pull();
    })();
    await Promise.all([
      ...ids.slice(0, 200).map((id) => a.audience.unsubscribe(id, 'test', new Date())),
      ...ids.slice(200).map((_, i) => b.audience.denylist(`w${i + 200}@example.com`, 'test', 'test', new Date())),
    ]);
    writing = false;
    await reader;
    await pull();
    // Had a change committed behind the cursor, the view would still show the profile as it was before it.
    const truth = await a.audience.pageById(0, 400);
    expect(new Map(truth.map((p) => [p.id, `${p.status}/${p.denylisted}`]))).toEqual(view);
  });

  it('hear each other’s changes and signals', async () => {
    const [a, b] = await nodes(2);
    const heard: string[][] = [];
    const signals: string[] = [];
    b.bus.subscribe('*', (ids) => heard.push([...ids]));
    b.bus.onSignal('settings', () => signals.push('settings'));
    a.bus.changed('x1');
    a.bus.changed('x2');
    a.bus.signal('settings');
    await expect.poll(() => heard.flat().sort(), { timeout: 5_000 }).toEqual(['x1', 'x2']);
    await expect.poll(() => signals, { timeout: 5_000 }).toEqual(['settings']);
  });

  it('give one link one id when messages on several nodes add it at the same moment', async () => {
    const all = await nodes(3);
    await sendingDelivery(all[0], 1);
    // Many links at once from each node, so inserts of one link overlap across connections.
    const urls = Array.from({ length: 40 }, (_, i) => `https://shop.example.com/p/${i}`);
    const ids = await Promise.all(all.map((node) => Promise.all(urls.map((url) => node.tracking.linkId('d1', url)))));
    for (const id of ids[0]) expect(typeof id).toBe('number');
    expect(ids[1]).toEqual(ids[0]);
    expect(ids[2]).toEqual(ids[0]);
    expect(new Set(ids[0]).size).toBe(urls.length);
  });

  it('agree on one generated admin password when they start together on a new database', async () => {
    const all = await nodes(3);
    const passwords = all.map((_, i) => `generated-by-node-${i + 1}`);
    const added = await Promise.all(all.map((node, i) => new Operators(node.operators, TEST_SCRYPT).addUser('admin', passwords[i])));
    expect(added.filter(Boolean)).toHaveLength(1);
    // The one node that says it stored its password (and prints it) is right: that password signs in.
    const winner = passwords[added.indexOf(true)];
    const operators = new Operators(all[0].operators, TEST_SCRYPT);
    expect(await operators.verify('admin', winner)).toBe(true);
    for (const other of passwords.filter((p) => p !== winner)) expect(await operators.verify('admin', other)).toBe(false);
  });
});
