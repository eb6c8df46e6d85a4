/**
 * The team's templates between two devices, through the server's merge (shared/work.ts) as
 * the sync sends it: saved from a delivery on one, offered on the other, a delivery made
 * from it there, deleted for both.
 */

import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mergeChanged, mergeEdits, type DocPush, type WorkDoc, type WorkKind } from '$shared/work';
import { MailroomDb } from './db';
import { createDelivery } from './deliveries';
import { deleteTemplate, listTemplates, saveAsTemplate } from './templates';
import { pushOf, storeDocs, tableOf, workTables } from './work';

let a: MailroomDb;
let b: MailroomDb;
let server: Map<string, WorkDoc>;
let seq = 0;

beforeEach(() => {
  a = new MailroomDb(`templates-a-${Math.random()}`);
  b = new MailroomDb(`templates-b-${Math.random()}`);
  server = new Map();
});
afterEach(() => {
  a.close();
  b.close();
});

/** One sync of a device as `by`: push what waits of every kind, lay the answer over it, then pull everything. */
async function sync(db: MailroomDb, by: string): Promise<void> {
  const pushes: DocPush[] = [];
  for (const kind of ['typology', 'delivery', 'template'] as WorkKind[]) {
    for (const record of await tableOf(db, kind).toArray()) {
      const push = pushOf(record, kind);
      if (push) pushes.push(push);
    }
  }
  const answer = pushes.map((push) => {
    const current = server.get(push.id);
    const outcome = mergeEdits(current, push, by, new Date().toISOString(), null);
    if (!mergeChanged(current, outcome)) return current!;
    const doc = { ...outcome.doc, seq: ++seq };
    server.set(doc.id, doc);
    return doc;
  });
  const pushed = Object.fromEntries(pushes.map((p) => [p.id, Object.fromEntries(Object.entries(p.edits).map(([f, e]) => [f, e.hlc]))]));
  await db.transaction('rw', workTables(db), async () => {
    await storeDocs(db, answer, pushed);
    await storeDocs(db, [...server.values()]);
  });
}

const MESSAGE = {
  subject: 'Hello {{ first_name }}',
  preheader: 'The week in short',
  html: '<p>Hi {{ first_name }}</p><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
  text: 'Hi {{ first_name }}',
};

describe('the team’s templates', () => {
  it('saves a delivery’s message on one device and offers it, whole, on the other', async () => {
    const id = await saveAsTemplate(a, MESSAGE, { name: ' Weekly news ', description: 'Every Monday' }, 'ann');
    await sync(a, 'ann');
    expect(server.get(id)).toMatchObject({ kind: 'template', createdBy: 'ann', fields: { name: 'Weekly news', ...MESSAGE } });
    await sync(b, 'bob');
    const [offered] = await listTemplates(b);
    expect(offered).toMatchObject({ id, name: 'Weekly news', description: 'Every Monday', ...MESSAGE });

    // A delivery made from it on the other device has its whole message.
    const delivery = await b.deliveries.get(await createDelivery(b, 'bob', new Date(), offered));
    expect(delivery).toMatchObject({ name: 'Weekly news (new)', ...MESSAGE });
  });

  it('refuses a template without a name', async () => {
    await expect(saveAsTemplate(a, MESSAGE, { name: '  ', description: '' }, 'ann')).rejects.toThrow(/Give the template a name/);
    expect(await a.templates.count()).toBe(0);
  });

  it('deletes a template on every device; what was made from it stays', async () => {
    const id = await saveAsTemplate(a, MESSAGE, { name: 'Old', description: '' }, 'ann');
    await sync(a, 'ann');
    await sync(b, 'bob');
    const made = await createDelivery(b, 'bob', new Date(), (await listTemplates(b))[0]);
    await deleteTemplate(b, id);
    expect(await listTemplates(b)).toEqual([]);
    await sync(b, 'bob');
    await sync(a, 'ann');
    expect(server.get(id)?.deleted).toBe(true);
    expect(await a.templates.count()).toBe(0);
    expect((await b.deliveries.get(made))?.html).toBe(MESSAGE.html);
  });
});
