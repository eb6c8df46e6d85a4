/**
 * The team's documents over HTTP, on the run's engine: pushes merged field by field, pulls
 * by change number in pages, conflicts kept for their authors, approvals.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { encodeHlc } from '../../shared/hlc';
import { DELIVERY_FIELDS, TYPOLOGY_FIELDS, type DocPush, type FieldEdit, type WorkDoc } from '../../shared/work';
import { createKit, handOver, newProfile, PASSWORD, SAMPLE_DELIVERY, type Kit } from '../test-kit';

let kit: Kit;
type Request = Kit['request'];
let ana: Request;
let bea: Request;

/** Signs in another operator and returns requests made as them. */
async function operator(username: string): Promise<Request> {
  await kit.services.operators.addUser(username, PASSWORD);
  const login = await kit.app.request('/api/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password: PASSWORD }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  return (path, init = {}) =>
    Promise.resolve(
      kit.app.request(path, {
        method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
        headers: { cookie, ...(init.json === undefined ? {} : { 'content-type': 'application/json' }) },
        body: init.json === undefined ? undefined : JSON.stringify(init.json),
      }),
    );
}

/** A clock reading at `ms` on device `node`. */
const at = (ms: number, node = 'dev-a', counter = 0) => encodeHlc({ wall: Date.parse('2026-12-01T10:00:00Z') + ms, counter }, node);
const edit = (value: unknown, hlc: string, base: string | null = null): FieldEdit => ({ value, hlc, base });

async function push(as: Request, ...pushes: DocPush[]) {
  const response = await as('/api/work/push', { json: { pushes } });
  expect(response.status).toBe(200);
  return (await response.json()) as { docs: WorkDoc[]; refused: { id: string; message: string }[] };
}

async function pullAll(as: Request, since = 0, limit = 100) {
  const docs: WorkDoc[] = [];
  for (;;) {
    const page = (await (await as(`/api/work/changes?since=${since}&limit=${limit}`)).json()) as {
      docs: WorkDoc[];
      cursor: number;
      hasMore: boolean;
    };
    docs.push(...page.docs);
    since = page.cursor;
    if (!page.hasMore) return { docs, cursor: since };
  }
}

const draft = (id: string, hlc: string, fields: Record<string, unknown> = {}): DocPush => ({
  id,
  kind: 'delivery',
  edits: Object.fromEntries(
    Object.entries({ name: 'Autumn', subject: 'Hello', html: '<p>Hi</p>', typologyId: 'default', ...fields }).map(([f, v]) => [
      f,
      edit(v, hlc),
    ]),
  ),
});

beforeEach(async () => {
  kit = await createKit();
  await kit.services.audience.upsertMany([newProfile(), newProfile(), newProfile()], 'test', new Date());
  ana = kit.request; // admin
  bea = await operator('bea');
});
afterEach(() => kit.close());

describe('pushing and pulling the team’s documents', () => {
  it('takes a new draft and a new typology with the fields not set as null, as the app sends them', async () => {
    // The fields a draft may have left unset, which a new document sends as null (those added later too).
    const unset = Object.fromEntries(
      ['source', 'scheduledAt', 'relayId', 'experiment', 'seeds', 'localTime', 'waves', 'preparation'].map((f) => [f, null]),
    );
    expect(Object.keys(unset).every((f) => (DELIVERY_FIELDS as readonly string[]).includes(f))).toBe(true);
    const answer = await push(ana, draft('d9', at(10), unset));
    expect(answer.refused).toEqual([]);
    const typology: DocPush = {
      id: 't9',
      kind: 'typology',
      edits: Object.fromEntries(
        TYPOLOGY_FIELDS.map((f) => [
          f,
          edit(f === 'name' ? 'Team rules' : f === 'rules' ? [] : f === 'requiresApproval' ? false : null, at(11)),
        ]),
      ),
    };
    expect((await push(ana, typology)).refused).toEqual([]);
    const seeded = await push(ana, draft('d8', at(12), { seeds: ['inbox@seeds.example.com'], waves: { sizes: [1000], everyHours: 24 } }));
    expect(seeded.refused).toEqual([]);
    expect(seeded.docs[0].fields).toMatchObject({ seeds: ['inbox@seeds.example.com'], waves: { sizes: [1000], everyHours: 24 } });
  });

  it('merges edits of different fields by different people, and every device pulls the result', async () => {
    await push(ana, draft('d1', at(0)));
    const created = (await pullAll(bea)).docs[0];
    expect(created).toMatchObject({ id: 'd1', createdBy: 'admin', fields: { name: 'Autumn', subject: 'Hello' } });
    // Ana renames it; Bea, who saw the first version, changes the body.
    await push(ana, { id: 'd1', kind: 'delivery', edits: { name: edit('Autumn sale', at(10), created.stamps.name.hlc) } });
    await push(bea, { id: 'd1', kind: 'delivery', edits: { html: edit('<p>New</p>', at(20, 'dev-b'), created.stamps.html.hlc) } });
    const { docs } = await pullAll(ana);
    expect(docs).toHaveLength(1);
    expect(docs[0].fields).toMatchObject({ name: 'Autumn sale', html: '<p>New</p>', subject: 'Hello' });
    expect(docs[0]).toMatchObject({ createdBy: 'admin', updatedBy: 'bea', overwritten: [] });
    expect(docs[0].stamps.name.by).toBe('admin');
    expect(docs[0].stamps.html.by).toBe('bea');
  });

  it('keeps the later of two concurrent edits of one field, and the other for its author to take back', async () => {
    await push(ana, draft('d1', at(0)));
    const base = (await pullAll(bea)).docs[0].stamps.subject.hlc;
    // Bea edits later by the clock but pushes first; Ana (offline) pushes her earlier edit afterwards.
    await push(bea, { id: 'd1', kind: 'delivery', edits: { subject: edit('Bea’s subject', at(50, 'dev-b'), base) } });
    const answer = await push(ana, { id: 'd1', kind: 'delivery', edits: { subject: edit('Ana’s subject', at(30), base) } });
    const doc = answer.docs[0];
    expect(doc.fields.subject).toBe('Bea’s subject');
    expect(doc.overwritten).toEqual([
      expect.objectContaining({ field: 'subject', value: 'Ana’s subject', by: 'admin', replacedBy: 'bea' }),
    ]);

    // Ana takes hers back, having seen Bea's: it wins, and her kept value is let go.
    const taken = await push(ana, {
      id: 'd1',
      kind: 'delivery',
      edits: { subject: edit('Ana’s subject', at(60), doc.stamps.subject.hlc) },
      dismiss: [doc.overwritten[0].id],
    });
    expect(taken.docs[0].fields.subject).toBe('Ana’s subject');
    expect(taken.docs[0].overwritten).toEqual([]);
  });

  it('tells the earlier writer when a later concurrent edit replaced an accepted one', async () => {
    await push(ana, draft('d1', at(0)));
    const base = (await pullAll(ana)).docs[0].stamps.subject.hlc;
    await push(ana, { id: 'd1', kind: 'delivery', edits: { subject: edit('Ana first', at(10), base) } });
    // Bea had not seen Ana's edit (her base is the first value) and writes later.
    await push(bea, { id: 'd1', kind: 'delivery', edits: { subject: edit('Bea later', at(20, 'dev-b'), base) } });
    const doc = (await pullAll(ana)).docs[0];
    expect(doc.fields.subject).toBe('Bea later');
    expect(doc.overwritten).toEqual([expect.objectContaining({ field: 'subject', value: 'Ana first', by: 'admin', replacedBy: 'bea' })]);
  });

  it('applies a push retried after a lost answer once: no new change number, no second audit entry', async () => {
    const first = await push(ana, draft('d1', at(0)));
    const again = await push(ana, draft('d1', at(0)));
    expect(again.docs[0].seq).toBe(first.docs[0].seq);
    expect(again.docs[0].version).toBe(1);
    expect((await pullAll(ana)).cursor).toBe(first.docs[0].seq);
    const audit = await kit.sql("SELECT action FROM audit_log WHERE object_id = 'd1'");
    expect(audit).toEqual([{ action: 'created' }]);
  });

  it('pages by change number, so a pull cut between pages resumes where it stopped and misses nothing', async () => {
    for (let i = 0; i < 7; i++) await push(ana, draft(`d${i}`, at(i)));
    const first = (await (await bea('/api/work/changes?since=0&limit=3')).json()) as { docs: WorkDoc[]; cursor: number; hasMore: boolean };
    expect(first.docs.map((d) => d.id)).toEqual(['d0', 'd1', 'd2']);
    expect(first.hasMore).toBe(true);
    // Meanwhile d1 changes again: it moves to the end of the log and comes once more.
    await push(ana, { id: 'd1', kind: 'delivery', edits: { name: edit('Renamed', at(100), first.docs[1].stamps.name.hlc) } });
    const rest = await pullAll(bea, first.cursor, 3);
    expect(rest.docs.map((d) => d.id)).toEqual(['d3', 'd4', 'd5', 'd6', 'd1']);
    expect(rest.docs.at(-1)!.fields.name).toBe('Renamed');
  });

  it('deletes a draft as a tombstone every device pulls, and keeps a delivery handed to the server', async () => {
    await push(ana, draft('d1', at(0)), draft('d2', at(1)));
    const { cursor } = await pullAll(bea);
    await push(bea, { id: 'd1', kind: 'delivery', edits: {}, deleteAt: at(5, 'dev-b') });
    const after = await pullAll(ana, cursor);
    expect(after.docs).toEqual([expect.objectContaining({ id: 'd1', deleted: true })]);
    expect(await kit.value("SELECT count(*) FROM audit_log WHERE action = 'deleted' AND object_id = 'd1'")).toBe(1);

    await handOver(kit, 'd2', SAMPLE_DELIVERY);
    expect((await kit.request('/api/deliveries/d2/send', { json: { contentHash: await hashOf('d2'), scheduledAt: null } })).status).toBe(
      200,
    );
    const refused = await push(bea, {
      id: 'd2',
      kind: 'delivery',
      edits: { subject: edit('Too late', at(9, 'dev-b')) },
      deleteAt: at(9, 'dev-b'),
    });
    expect(refused.refused[0].message).toMatch(/handed to the server/);
  });

  it('refuses content edits of a delivery on its way, keeping the text for its author', async () => {
    await push(ana, draft('d1', at(0)));
    await handOver(kit, 'd1', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/d1/send', { json: { contentHash: await hashOf('d1'), scheduledAt: null } });
    const answer = await push(bea, { id: 'd1', kind: 'delivery', edits: { subject: edit('Changed', at(10, 'dev-b')) } });
    expect(answer.docs[0].serverStatus).not.toBeNull();
    expect(answer.docs[0].fields.subject).toBe('Hello');
    expect(answer.docs[0].overwritten).toEqual([
      expect.objectContaining({ field: 'subject', value: 'Changed', by: 'bea', replacedBy: 'the server' }),
    ]);
  });

  it('refuses what is not a document: a field it has not, a bad value, the default typology, a clock far ahead', async () => {
    const bad = await push(
      ana,
      { id: 'x1', kind: 'delivery', edits: { colour: edit('red', at(0)) } },
      { id: 'x2', kind: 'delivery', edits: { scheduledAt: edit('tomorrow', at(0)) } },
      { id: 'default', kind: 'typology', edits: { name: edit('Mine', at(0)) } },
      { id: 'x3', kind: 'delivery', edits: { name: edit('Future', encodeHlc({ wall: Date.now() + 3 * 3_600_000, counter: 0 }, 'dev-a')) } },
    );
    expect(bad.docs).toEqual([]);
    expect(bad.refused.map((r) => r.message)).toEqual([
      expect.stringMatching(/no field "colour"/),
      expect.stringMatching(/The schedule is not valid/),
      expect.stringMatching(/default typology is built in/),
      expect.stringMatching(/clock is more than an hour ahead/),
    ]);
    const malformed = await ana('/api/work/push', {
      json: { pushes: [{ id: 'x', kind: 'delivery', edits: { name: { value: 'a', hlc: 'now' } } }] },
    });
    expect(malformed.status).toBe(400);
    expect((await malformed.json()).message).toMatch(/clock reading/);
  });

  it('takes many pushes at once, each checked, each with a change number of its own', async () => {
    const ids = Array.from({ length: 25 }, (_, i) => `t${i}`);
    for (const id of ids) {
      await push(ana, {
        id,
        kind: 'typology',
        edits: { name: edit(id, at(0)), rules: edit([], at(0)), requiresApproval: edit(false, at(0)) },
      });
    }
    // Deleting a typology asks which drafts use it: checks that read while others wait for the change log.
    const answers = await Promise.all(
      ids.map((id, i) => push(i % 2 ? ana : bea, { id, kind: 'typology', edits: {}, deleteAt: at(10 + i) })),
    );
    expect(answers.every((a) => a.refused.length === 0)).toBe(true);
    const { docs } = await pullAll(ana);
    expect(
      docs
        .filter((d) => d.deleted)
        .map((d) => d.id)
        .sort(),
    ).toEqual([...ids].sort());
    expect(new Set(docs.map((d) => d.seq)).size).toBe(docs.length);
  });

  it('keeps a typology a draft uses, and counts its versions', async () => {
    await push(ana, {
      id: 't1',
      kind: 'typology',
      edits: { name: edit('Strict', at(0)), rules: edit([], at(0)), requiresApproval: edit(false, at(0)) },
    });
    await push(ana, draft('d1', at(1), { typologyId: 't1', name: 'Winter' }));
    const t = (await push(bea, { id: 't1', kind: 'typology', edits: { requiresApproval: edit(true, at(5, 'dev-b'), at(0)) } })).docs[0];
    expect(t.version).toBe(2);
    const refused = await push(bea, { id: 't1', kind: 'typology', edits: {}, deleteAt: at(6, 'dev-b') });
    expect(refused.refused[0].message).toBe('This typology is used by "Winter": pick another typology there first.');
    const entries = await kit.sql<{ action: string; detail: string }>(
      "SELECT action, detail FROM audit_log WHERE object_id = 't1' ORDER BY id",
    );
    expect(entries).toEqual([
      { action: 'created', detail: '' },
      { action: 'edited', detail: 'version 2: the approval setting' },
    ]);
  });

  it('keeps the team’s templates as documents: named, every field of a message, audited, deleted as tombstones', async () => {
    const fields = {
      name: 'Weekly',
      description: 'Mondays',
      subject: 'Hi {{ first_name }}',
      preheader: 'In short',
      html: '<p>Hi</p>',
      text: 'Hi',
    };
    const edits = Object.fromEntries(Object.entries(fields).map(([f, v]) => [f, edit(v, at(0))]));
    const created = (await push(ana, { id: 'tpl1', kind: 'template', edits })).docs[0];
    expect(created).toMatchObject({ kind: 'template', fields, createdBy: 'admin' });
    // Bea's device pulls it.
    expect((await pullAll(bea)).docs.find((d) => d.id === 'tpl1')?.fields).toEqual(fields);
    const refused = await push(
      bea,
      { id: 'tpl2', kind: 'template', edits: { name: edit('  ', at(1, 'dev-b')) } },
      { id: 'tpl3', kind: 'template', edits: { audience: edit({ kind: 'all' }, at(1, 'dev-b')) } },
    );
    expect(refused.refused.map((r) => r.message)).toEqual([
      'The name is not valid: it is empty — give it one.',
      'A template has no field "audience".',
    ]);
    await push(bea, { id: 'tpl1', kind: 'template', edits: { subject: edit('Hello', at(2, 'dev-b'), created.stamps.subject.hlc) } });
    await push(bea, { id: 'tpl1', kind: 'template', edits: {}, deleteAt: at(3, 'dev-b') });
    expect((await pullAll(ana)).docs.find((d) => d.id === 'tpl1')?.deleted).toBe(true);
    const entries = await kit.sql<{ action: string; object_kind: string; actor: string }>(
      "SELECT action, object_kind, actor FROM audit_log WHERE object_id = 'tpl1' ORDER BY id",
    );
    expect(entries).toEqual([
      { action: 'created', object_kind: 'template', actor: 'admin' },
      { action: 'edited', object_kind: 'template', actor: 'bea' },
      { action: 'deleted', object_kind: 'template', actor: 'bea' },
    ]);
  });
});

/** The content hash the kit's hand-over used for a delivery (what the server holds). */
async function hashOf(id: string): Promise<string> {
  return kit.value<string>('SELECT content_hash FROM deliveries WHERE id = ?', [id]);
}

describe('approval', () => {
  async function preparedDraft(hash: string) {
    await push(ana, {
      id: 't1',
      kind: 'typology',
      edits: { name: edit('Approved first', at(0)), rules: edit([], at(0)), requiresApproval: edit(true, at(0)) },
    });
    await push(ana, draft('d1', at(1), { typologyId: 't1' }));
    const preparation = { contentHash: hash, preparedAt: '2026-12-01T10:00:05.000Z', targeted: 3, toDeliver: 3, excluded: 0 };
    await push(ana, { id: 'd1', kind: 'delivery', edits: { preparation: edit(preparation, at(5)) } });
  }

  it('waits for another operator than the preparer, and an approval covers one preparation only', async () => {
    await handOver(kit, 'd1', SAMPLE_DELIVERY);
    const hash = await hashOf('d1');
    await preparedDraft(hash);

    const early = await ana('/api/deliveries/d1/send', { json: { contentHash: hash, scheduledAt: null } });
    expect(early.status).toBe(409);
    expect((await early.json()).message).toMatch(/asks for approval: another operator than admin, who prepared it,/);

    const own = await ana('/api/work/d1/approve', { json: { contentHash: hash } });
    expect(own.status).toBe(403);
    expect((await own.json()).message).toBe('You prepared this delivery: another operator must approve it.');

    const other = await bea('/api/work/d1/approve', { json: { contentHash: hash } });
    expect(other.status).toBe(200);
    expect(((await other.json()) as { doc: WorkDoc }).doc.approval).toMatchObject({ contentHash: hash, by: 'bea' });
    expect(await kit.value("SELECT actor FROM audit_log WHERE action = 'approved'")).toBe('bea');

    // An edit and a new preparation: the approval was of the earlier one.
    const newer = 'fedcba9876543210';
    const preparation = { contentHash: newer, preparedAt: '2026-12-01T10:01:00.000Z', targeted: 3, toDeliver: 3, excluded: 0 };
    await push(ana, { id: 'd1', kind: 'delivery', edits: { preparation: edit(preparation, at(60)) } });
    await kit.sql('UPDATE deliveries SET content_hash = ? WHERE id = ?', [newer, 'd1']);
    const stale = await ana('/api/deliveries/d1/send', { json: { contentHash: newer, scheduledAt: null } });
    expect(stale.status).toBe(409);
    expect((await stale.json()).message).toMatch(/bea approved an earlier preparation; this one needs a new approval/);
    const oldHash = await bea('/api/work/d1/approve', { json: { contentHash: hash } });
    expect((await oldHash.json()).error).toBe('stale-preparation');

    expect((await bea('/api/work/d1/approve', { json: { contentHash: newer } })).status).toBe(200);
    expect((await ana('/api/deliveries/d1/send', { json: { contentHash: newer, scheduledAt: null } })).status).toBe(200);
  });

  it('is not asked for by a typology that does not require it', async () => {
    await push(ana, draft('d1', at(1)));
    const answer = await bea('/api/work/d1/approve', { json: { contentHash: 'abcdef0123456789' } });
    expect(answer.status).toBe(409);
    expect((await answer.json()).error).toBe('approval-not-needed');
  });
});
