import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKit, newProfile, type Kit } from '../test-kit';

let kit: Kit;
beforeEach(async () => {
  kit = await createKit();
  await kit.services.audience.upsertMany(
    Array.from({ length: 300 }, () => newProfile()),
    'test',
    new Date(),
  );
});
afterEach(() => kit.close());

describe('GET /api/audience/changes', () => {
  it('pages by cursor and compresses the page for a client that accepts gzip', async () => {
    const response = await kit.app.request('/api/audience/changes?since=0&limit=250', {
      headers: { cookie: kit.cookie, 'accept-encoding': 'gzip' },
    });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    const page = JSON.parse(gunzipSync(Buffer.from(await response.arrayBuffer())).toString());
    expect(page).toMatchObject({ hasMore: true, total: 300, deleted: [] });
    expect(page.profiles).toHaveLength(250);
    const rest = await (await kit.request(`/api/audience/changes?since=${page.cursor}&limit=250`)).json();
    expect(rest.profiles).toHaveLength(50);
    expect(rest.hasMore).toBe(false);
  });

  it('refuses a cursor that is not a number, saying so', async () => {
    const response = await kit.request('/api/audience/changes?since=yesterday');
    expect(response.status).toBe(400);
    expect((await response.json()).message).toMatch(/^The query is not valid: since/);
  });

  it('serves the schema of custom attributes', async () => {
    await kit.services.audience.declareAttribute({ name: 'vip', label: 'VIP', type: 'boolean' });
    expect(await (await kit.request('/api/audience/schema')).json()).toEqual({
      attributes: [{ name: 'vip', label: 'VIP', type: 'boolean' }],
    });
  });
});

describe('finding and deleting profiles', () => {
  beforeEach(async () => {
    await kit.services.audience.upsertMany(
      [
        { email: 'anna.dejong@example.com', firstName: 'Anna', lastName: 'de Jong' },
        { email: 'bram@example.com', firstName: 'Bram', lastName: 'Jongejan' },
        { email: 'zoe@example.com', firstName: 'Zoë', lastName: 'van Dam' },
        { email: 'jong.kees@example.org', firstName: 'Kees', lastName: 'Smit' },
      ],
      'test',
      new Date(),
    );
  });
  const search = async (q: string, limit = 25) =>
    (await (await kit.request(`/api/audience/profiles?search=${encodeURIComponent(q)}&limit=${limit}`)).json()) as {
      total: number;
      profiles: { email: string }[];
    };

  it('finds a word anywhere in the address or the name, ignoring case and accents; every word must be found', async () => {
    expect((await search('jong')).profiles.map((p) => p.email)).toEqual([
      'anna.dejong@example.com',
      'bram@example.com',
      'jong.kees@example.org',
    ]);
    expect((await search('JONG', 1)).total).toBe(3);
    expect((await search('zoe')).profiles.map((p) => p.email)).toEqual(['zoe@example.com']);
    expect((await search('Zoë')).total).toBe(1);
    expect((await search('anna jong')).profiles.map((p) => p.email)).toEqual(['anna.dejong@example.com']);
    expect((await search('example.org')).total).toBe(1);
  });

  it('deletes every profile matching a search when they are as many as confirmed, leaving tombstones for the replicas', async () => {
    const cursor = (await kit.services.audience.changesSince(0, 1_000)).cursor;
    const changed = await kit.request('/api/audience/profiles?search=jong&expected=2', { method: 'DELETE' });
    expect(changed.status).toBe(409);
    expect(await changed.json()).toEqual({
      error: 'search-changed',
      message:
        '"jong" now matches 3 profiles, not the 2 you confirmed: the audience changed meanwhile, and nothing was deleted. Check the list and delete again.',
    });
    expect(await kit.services.audience.count()).toBe(304);
    const deleted = await kit.request('/api/audience/profiles?search=jong&expected=3', { method: 'DELETE' });
    expect(await deleted.json()).toEqual({ deleted: 3 });
    expect((await search('jong')).total).toBe(0);
    expect(await kit.services.audience.count()).toBe(301);
    expect(await kit.services.audience.changesSince(cursor, 100)).toMatchObject({ profiles: [], deleted: expect.any(Array) });
    expect((await kit.services.audience.changesSince(cursor, 100)).deleted).toHaveLength(3);
    // An empty search deletes nothing.
    expect((await kit.request('/api/audience/profiles?search=%20&expected=301', { method: 'DELETE' })).status).toBe(400);
  });

  it('never gives a new profile the id of a deleted one: a replica pulling from the start keeps the new profile', async () => {
    const newest = (await kit.services.audience.findByEmail('jong.kees@example.org'))!;
    expect((await kit.request(`/api/audience/profiles/${newest.id}`, { method: 'DELETE' })).status).toBe(200);
    await kit.services.audience.upsertMany([{ email: 'newcomer@example.com' }], 'test', new Date());
    const newcomer = (await kit.services.audience.findByEmail('newcomer@example.com'))!;
    expect(newcomer.id).toBeGreaterThan(newest.id);
    const page = await kit.services.audience.changesSince(0, 1_000);
    expect(page.deleted).toEqual([newest.id]);
    expect(page.profiles.map((p) => p.id)).toContain(newcomer.id);
  });
});

describe("a profile's recent sends", () => {
  it('name the delivery', async () => {
    const { handOver, SAMPLE_DELIVERY, eventually } = await import('../test-kit');
    const { contentHash } = await handOver(kit, 'autumn-1', { ...SAMPLE_DELIVERY, name: 'Autumn sale' });
    expect((await kit.request('/api/deliveries/autumn-1/send', { json: { contentHash, scheduledAt: null } })).status).toBe(200);
    await eventually(async () => (await (await kit.request('/api/deliveries/autumn-1')).json()).status === 'completed');
    const detail = await (await kit.request('/api/audience/profiles/1')).json();
    expect(detail.recentSends).toEqual([{ deliveryId: 'autumn-1', deliveryName: 'Autumn sale', at: expect.any(String) }]);
  });
});

describe('removing the demo audience', () => {
  beforeEach(async () => {
    const { seedDemoAudience } = await import('../seed');
    // The demo is seeded into an empty audience.
    for (const p of await kit.services.audience.pageById(0, 1_000)) await kit.services.audience.delete(p.id);
    await seedDemoAudience(kit.services.audience, new Date());
  });
  const importCsv = (csv: string) =>
    kit.app.request('/api/audience/imports?fileName=own.csv', {
      method: 'POST',
      headers: { cookie: kit.cookie, 'content-type': 'text/csv' },
      body: csv,
    });

  it("removes the demo's profiles, its suppression and the fields no remaining profile uses; the operator's profiles stay", async () => {
    expect(await (await importCsv('email,city\nown@example.com,Zwolle\n')).json()).toMatchObject({ inserted: 1 });
    const cursor = (await kit.services.audience.changesSince(0, 20_000)).cursor;
    expect(await (await kit.request('/api/audience/demo')).json()).toMatchObject({ profiles: 10_000 });
    const removal = await (await kit.request('/api/audience/demo', { method: 'DELETE' })).json();
    expect(removal).toEqual({
      deleted: 10_000,
      kept: 0,
      removedAttributes: ['loyalty_points', 'vip', 'birth_date', 'interests'],
      keptAttributes: ['city'],
    });
    expect(await kit.services.audience.count()).toBe(1);
    expect((await kit.services.audience.findByEmail('own@example.com'))?.attributes).toEqual({ city: 'Zwolle' });
    expect(await (await kit.request('/api/audience/schema')).json()).toEqual({
      attributes: [{ name: 'city', label: 'City', type: 'text' }],
    });
    expect(await (await kit.request('/api/audience/demo')).json()).toEqual({
      profiles: 0,
      attributes: [{ name: 'city', label: 'City', type: 'text' }],
    });
    expect(await kit.value('SELECT COUNT(*) FROM denylist')).toBe(0);
    expect(await kit.value('SELECT COUNT(*) FROM quarantine')).toBe(0);
    // Every replica hears of it: a tombstone per demo profile.
    const page = await kit.services.audience.changesSince(cursor, 20_000);
    expect(page.deleted).toHaveLength(10_000);
    expect(page.total).toBe(1);
  });

  it('keeps a demo profile an import of the operator updated, and the fields it has values for, also in a database seeded before the demo was marked', async () => {
    // Seeded by an earlier Mailroom: its profiles carry no mark.
    await kit.sql('UPDATE profiles SET imported_by = NULL WHERE imported_by = ?', ['demo']);
    const demoProfile = (await kit.services.audience.pageById(0, 50))[41];
    await importCsv(`email,first_name\n${demoProfile.email},Annemarie\n`);
    expect(await (await kit.request('/api/audience/demo')).json()).toMatchObject({ profiles: 9_999 });
    const removal = await (await kit.request('/api/audience/demo', { method: 'DELETE' })).json();
    expect(removal).toMatchObject({ deleted: 9_999, kept: 1, removedAttributes: [] });
    expect(await kit.services.audience.findByEmail(demoProfile.email)).toMatchObject({
      firstName: 'Annemarie',
      attributes: demoProfile.attributes,
    });
  });
});
