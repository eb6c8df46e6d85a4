/**
 * Two devices' databases and the server's merge (shared/work.ts), with what travels between
 * them as the sync sends it: edits made here survive pulls, are acknowledged by the push
 * answer, and a value that lost comes back as this operator's to take back.
 */

import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mergeChanged, mergeEdits, type DocPush, type WorkDoc } from '$shared/work';
import { MailroomDb } from './db';
import { createDelivery, deleteDraft, saveContent, takeBack } from './deliveries';
import { copyTypology, saveTypology } from './typologies';
import { DEFAULT_TYPOLOGY } from '$shared/typology';
import { encodeHlc } from '$shared/hlc';
import { pushOf, storeDocs } from './work';

let a: MailroomDb;
let b: MailroomDb;
/** The server: documents by id, and change numbers. */
let server: Map<string, WorkDoc>;
let seq = 0;

beforeEach(() => {
  a = new MailroomDb(`work-a-${Math.random()}`);
  b = new MailroomDb(`work-b-${Math.random()}`);
  server = new Map();
});
afterEach(() => {
  a.close();
  b.close();
});

/** What the server does with a push: merge, number the change, answer the documents. */
function serve(pushes: DocPush[], by: string): WorkDoc[] {
  return pushes.map((push) => {
    const current = server.get(push.id);
    const outcome = mergeEdits(current, push, by, new Date().toISOString(), null);
    if (!mergeChanged(current, outcome)) return current!;
    const doc = { ...outcome.doc, seq: ++seq };
    server.set(doc.id, doc);
    return doc;
  });
}

/** A pull alone (a push that could not go, a change heard of): every document laid over the device's records. */
async function pull(db: MailroomDb): Promise<void> {
  await db.transaction('rw', [db.deliveries, db.meta, db.preparations, db.recipientChunks, db.exclusionChunks, db.outbox], () =>
    storeDocs(db, [...server.values()]),
  );
}

/** One sync of a device as `by`: push what waits, lay the answer over it, then pull everything. */
async function sync(db: MailroomDb, by: string): Promise<void> {
  const pushes = (await db.deliveries.toArray()).map((d) => pushOf(d, 'delivery')).filter((p): p is DocPush => p !== null);
  const answer = serve(pushes, by);
  const pushed = Object.fromEntries(pushes.map((p) => [p.id, Object.fromEntries(Object.entries(p.edits).map(([f, e]) => [f, e.hlc]))]));
  await db.transaction('rw', [db.deliveries, db.meta, db.preparations, db.recipientChunks, db.exclusionChunks, db.outbox], async () => {
    await storeDocs(db, answer, pushed);
    await storeDocs(db, [...server.values()]);
  });
}

const contentOf = async (db: MailroomDb, id: string) => (await db.deliveries.get(id))!;

describe('a draft between two devices', () => {
  it('reaches the other device with who made it, and nothing waits once pushed', async () => {
    const id = await createDelivery(a, 'ana');
    expect(pushOf(await contentOf(a, id), 'delivery')!.edits).toHaveProperty('subject');
    await sync(a, 'ana');
    expect(pushOf(await contentOf(a, id), 'delivery')).toBeNull();
    await sync(b, 'bea');
    expect(await contentOf(b, id)).toMatchObject({ name: 'New delivery', sync: { createdBy: 'ana', seq: 1 } });
  });

  it('keeps an edit made offline through a pull of another field, then both are everywhere', async () => {
    const id = await createDelivery(a, 'ana');
    await sync(a, 'ana');
    await sync(b, 'bea');
    // Ana edits offline; Bea edits another field online.
    await saveContent(a, id, { ...(await contentOf(a, id)), subject: 'Ana offline' });
    await saveContent(b, id, { ...(await contentOf(b, id)), name: 'Bea named it' });
    await sync(b, 'bea');
    // Ana is back: her pull would bring Bea's name, and must not undo her subject.
    await sync(a, 'ana');
    await sync(b, 'bea');
    for (const db of [a, b]) expect(await contentOf(db, id)).toMatchObject({ subject: 'Ana offline', name: 'Bea named it' });
  });

  it('keeps an edit waiting to be pushed through pulls that bring another value of the field', async () => {
    const id = await createDelivery(a, 'ana');
    await sync(a, 'ana');
    await sync(b, 'bea');
    await saveContent(a, id, { ...(await contentOf(a, id)), subject: 'Ana waiting' });
    await saveContent(b, id, { ...(await contentOf(b, id)), subject: 'Bea earlier?' });
    await sync(b, 'bea');
    await pull(a);
    expect((await contentOf(a, id)).subject).toBe('Ana waiting');
    expect(pushOf(await contentOf(a, id), 'delivery')!.edits).toHaveProperty('subject');
  });

  it('gives the later of two edits of one field, and the other operator their text back in one action', async () => {
    const id = await createDelivery(a, 'ana');
    await sync(a, 'ana');
    await sync(b, 'bea');
    await saveContent(a, id, { ...(await contentOf(a, id)), subject: 'Ana first' });
    await saveContent(b, id, { ...(await contentOf(b, id)), subject: 'Bea later' });
    await sync(a, 'ana');
    await sync(b, 'bea');
    await sync(a, 'ana');
    const ana = await contentOf(a, id);
    expect(ana.subject).toBe('Bea later');
    const replaced = ana.sync.overwritten.filter((o) => o.by === 'ana');
    expect(replaced).toEqual([expect.objectContaining({ field: 'subject', value: 'Ana first', replacedBy: 'bea' })]);
    expect((await contentOf(b, id)).sync.overwritten.filter((o) => o.by === 'bea')).toEqual([]);

    await takeBack(a, id, replaced[0].id);
    await sync(a, 'ana');
    await sync(b, 'bea');
    for (const db of [a, b]) {
      const delivery = await contentOf(db, id);
      expect(delivery.subject).toBe('Ana first');
      expect(delivery.sync.overwritten).toEqual([]);
    }
  });

  it('deletes a draft on every device', async () => {
    const id = await createDelivery(a, 'ana');
    await sync(a, 'ana');
    await sync(b, 'bea');
    await deleteDraft(b, id);
    await sync(b, 'bea');
    await sync(a, 'ana');
    expect(await a.deliveries.get(id)).toBeUndefined();
    expect(await b.deliveries.get(id)).toBeUndefined();
  });

  it('keeps edits made here of a draft someone deleted meanwhile, as a copy named for what happened', async () => {
    const id = await createDelivery(a, 'ana');
    await sync(a, 'ana');
    await sync(b, 'bea');
    await saveContent(a, id, { ...(await contentOf(a, id)), subject: 'Written offline' });
    await deleteDraft(b, id);
    await sync(b, 'bea');
    await pull(a);
    expect(await a.deliveries.get(id)).toBeUndefined();
    const kept = (await a.deliveries.toArray()).filter((d) => d.id !== id);
    expect(kept).toEqual([expect.objectContaining({ name: 'New delivery (kept: deleted by bea)', subject: 'Written offline' })]);
    await sync(a, 'ana');
    expect(server.get(kept[0].id)?.fields).toMatchObject({ subject: 'Written offline' });
  });

  it('writes after what it pulled, even when its own clock is behind the writer’s', async () => {
    const id = await createDelivery(a, 'ana');
    await sync(a, 'ana');
    // A device whose clock runs ten minutes ahead wrote the subject.
    const ahead = encodeHlc({ wall: Date.now() + 10 * 60_000, counter: 0 }, 'fast');
    const doc = server.get(id)!;
    server.set(id, {
      ...doc,
      fields: { ...doc.fields, subject: 'From the fast clock' },
      stamps: { ...doc.stamps, subject: { hlc: ahead, by: 'bea' } },
      seq: ++seq,
    });
    await pull(a);
    await saveContent(a, id, { ...(await contentOf(a, id)), subject: 'Ana, having read it' });
    await sync(a, 'ana');
    expect(server.get(id)!.fields.subject).toBe('Ana, having read it');
    expect(server.get(id)!.overwritten).toEqual([]);
  });

  it('saves only the fields of a typology its editor changed, leaving another’s change of the others', async () => {
    const id = await copyTypology(a, DEFAULT_TYPOLOGY, 'Shared', 'ana');
    const loaded = (await a.typologies.get(id))!;
    // Someone else's rules arrive while the name is being edited.
    await a.typologies.put({ ...loaded, rules: loaded.rules.filter((r) => r.id !== 'pressure') });
    await saveTypology(a, { ...loaded, name: 'Shared, renamed' }, [], loaded);
    const saved = (await a.typologies.get(id))!;
    expect(saved.name).toBe('Shared, renamed');
    expect(saved.rules.some((r) => r.id === 'pressure')).toBe(false);
  });
});
