/**
 * The preparation worker's API over IndexedDB (fake-indexeddb): a replica of real blocks
 * and an overlay, typologies and contact history as the app stores them. Prepare, cancel,
 * the failed status, what-if and why, exactly as the page calls them over comlink.
 */

import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { makeProfile } from '$shared/test-profile';
import { DEFAULT_TYPOLOGY } from '$shared/typology';
import type { Profile } from '$shared/types';
import { MailroomDb } from '../db/db';
import { createDelivery, saveContent } from '../db/deliveries';
import { recipientsOfChunk } from '../db/prepared-batch';
import { applyChangePage, storeContactHistory } from '../db/replica';
import { copyTypology, saveTypology } from '../db/typologies';
import { createPreparationApi } from './preparation-api';

const schema = [{ name: 'city', label: 'City', type: 'text' as const }];
let db: MailroomDb;
let api: ReturnType<typeof createPreparationApi>;

/** 20,000 profiles in blocks, a few later changes in the overlay. */
async function loadReplica(): Promise<Profile[]> {
  const profiles = Array.from({ length: 20_000 }, (_, i) =>
    makeProfile({
      id: i + 1,
      email: `p${i + 1}@example.com`,
      firstName: `P${i + 1}`,
      status: i % 10 === 0 ? 'unsubscribed' : 'subscribed',
      attributes: { city: i % 2 ? 'Gent' : 'Leiden' },
    }),
  );
  await applyChangePage(
    db,
    { profiles, deleted: [], cursor: 20_000, total: 20_000, hasMore: false },
    schema,
    '2026-11-28T00:00:00Z',
    'blocks',
  );
  // Later: profile 2 moves to Leiden (out of a Gent audience) and a new Gent profile arrives.
  const moved = { ...profiles[1], attributes: { city: 'Leiden' } };
  const added = makeProfile({ id: 20_001, email: 'new@example.com', attributes: { city: 'Gent' } });
  await applyChangePage(
    db,
    { profiles: [moved, added], deleted: [], cursor: 20_002, total: 20_001, hasMore: false },
    null,
    '2026-11-28T01:00:00Z',
    'overlay',
  );
  return profiles;
}

async function gentDelivery(): Promise<string> {
  const id = await createDelivery(db);
  const delivery = (await db.deliveries.get(id))!;
  await saveContent(db, id, { ...delivery, audience: { kind: 'condition', field: 'city', operator: 'equals', value: 'Gent' } });
  return id;
}

beforeEach(async () => {
  db = new MailroomDb(`worker-test-${Math.random()}`);
  api = createPreparationApi(db);
  await loadReplica();
});
afterEach(() => db.close());

describe('the preparation worker', () => {
  it('prepares from blocks and overlay, reports progress, and writes the batch to Dexie', async () => {
    const id = await gentDelivery();
    const progress: number[] = [];
    const outcome = await api.prepare(id, (p) => progress.push(p.scanned));
    // Gent: the 10,000 even ids, minus profile 2 (moved), plus the new one; every tenth (ids 1, 11, …) is unsubscribed: none in Gent.
    expect(outcome).toEqual({
      ok: true,
      status: 'prepared',
      kpis: { targeted: 10_000, toDeliver: 10_000, excluded: 0, excludedByCause: {}, excludedByRule: {} },
    });
    expect(progress.at(-1)).toBe(20_001);
    const stored = await db.preparations.get(id);
    expect(stored?.status).toBe('prepared');
    const first = await recipientsOfChunk(db, id, 1);
    expect(first[0]).toMatchObject({ seq: 1, profileId: 4, email: 'p4@example.com' });
    expect((await recipientsOfChunk(db, id, 10)).at(-1)).toMatchObject({ seq: 10_000, email: 'new@example.com' });
  });

  it('stops when cancelled mid-scan and leaves the previous preparation as it was', async () => {
    const id = await gentDelivery();
    await api.prepare(id, () => {});
    const before = await db.preparations.get(id);
    await saveContent(db, id, { ...(await db.deliveries.get(id))!, subject: 'Changed' });
    const outcome = await api.prepare(id, (p) => {
      if (p.scanned > 0) api.cancel(id);
    });
    expect(outcome).toEqual({ ok: false, code: 'cancelled', message: 'Preparation stopped; the delivery is as it was.' });
    expect(await db.preparations.get(id)).toEqual(before);
    expect((await recipientsOfChunk(db, id, 1))[0].subject).not.toBe('Changed');
  });

  it('refuses a second preparation while one runs', async () => {
    const id = await gentDelivery();
    const running = api.prepare(id, () => {});
    expect(await api.prepare(id, () => {})).toMatchObject({ ok: false, code: 'busy' });
    await running;
  });

  it('stores a failed preparation with the template error, and no recipients', async () => {
    const id = await gentDelivery();
    await saveContent(db, id, { ...(await db.deliveries.get(id))!, html: '<p>{% if city %}no end</p>' });
    const outcome = await api.prepare(id, () => {});
    expect(outcome).toMatchObject({ ok: true, status: 'failed' });
    const stored = await db.preparations.get(id);
    expect(stored?.log.at(-1)?.message).toBe('Preparation failed: 1 error, 0 warnings.');
    expect(stored?.log.some((l) => l.level === 'error' && /Template error in the HTML body at line 1/.test(l.message))).toBe(true);
    expect(await recipientsOfChunk(db, id, 1)).toEqual([]);
  });

  it("applies the delivery's own typology and the contact history, and its what-if and why agree", async () => {
    const id = await gentDelivery();
    const typologyId = await copyTypology(db, DEFAULT_TYPOLOGY, 'Strict');
    const strict = (await db.typologies.get(typologyId))!;
    const pressure = strict.rules.find((r) => r.kind === 'pressure')!;
    if (pressure.kind === 'pressure') pressure.maxMessages = 1;
    await saveTypology(db, strict, schema);
    await saveContent(db, id, { ...(await db.deliveries.get(id))!, typologyId });
    // Profiles 1–1,000 got a message yesterday: the even ones (Gent) are over the limit of one.
    await storeContactHistory(db, [
      {
        deliveryId: 'yesterday',
        at: new Date(Date.now() - 86_400_000).toISOString(),
        profileIds: Array.from({ length: 1000 }, (_, i) => i + 1),
      },
    ]);

    const outcome = await api.prepare(id, () => {});
    expect(outcome).toMatchObject({
      ok: true,
      status: 'prepared',
      kpis: { targeted: 10_000, excluded: 499, excludedByCause: { pressure: 499 } },
    });
    const rules = {
      enabled: strict.rules.filter((r) => r.kind !== 'control' && r.enabled).map((r) => r.id),
      limits: [['pressure', 1]] as [string, number][],
    };
    expect(await api.whatIf(id, rules)).toEqual((outcome as { kpis: unknown }).kpis);
    expect(await api.whatIf(id, { ...rules, limits: [['pressure', 2]] })).toMatchObject({ toDeliver: 10_000, excluded: 0 });

    const trace = await api.explain(id, 4);
    expect(trace?.outcome).toBe('Excluded by the rule "At most 5 messages in 7 days".');
    expect(trace?.rules.find((r) => r.cause === 'pressure')?.detail).toBe('1 other message within 7 days (at most 1 with this one)');
  });

  it('marks the typology gone instead of preparing with another', async () => {
    const id = await gentDelivery();
    await saveContent(db, id, { ...(await db.deliveries.get(id))!, typologyId: 'deleted' });
    expect(await api.prepare(id, () => {})).toMatchObject({ ok: false, code: 'not-found', message: expect.stringContaining('typology') });
  });
});
