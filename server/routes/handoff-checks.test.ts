/**
 * The hand-off trusts a batch no further than the server can check it: ids that could reach
 * a header, recipients that are not who they claim to be, and figures that cannot be.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PreparedRecipient } from '../../shared/types';
import { batchHeader, createKit, eventually, handOver, newProfile, prepareOnServerAudience, SAMPLE_DELIVERY, type Kit } from '../test-kit';

let kit: Kit;
beforeEach(async () => {
  kit = await createKit();
  await kit.services.audience.upsertMany(
    Array.from({ length: 20 }, () => newProfile()),
    'test',
    new Date(),
  );
});
afterEach(() => kit.close());

const journalCount = () => kit.value('SELECT COUNT(*) FROM journal');
/** What the hand-off keeps of batches not committed: the parts it received, their staged recipients and exclusions. */
const stagedCount = () =>
  kit.value(
    "SELECT (SELECT COUNT(*) FROM batch_parts) + (SELECT COUNT(*) FROM journal WHERE status = 'staged') + (SELECT COUNT(*) FROM exclusions WHERE staged = 1)",
  );

/**
 * Hands over `recipients` (as prepared, then altered) in one part under the preparation's own
 * header; resolves the answer that ended the hand-over, and where: the part's when the server
 * refused it (the outbox then stops, and commits nothing), else the commit's.
 */
async function handOverAltered(id: string, alter: (recipients: PreparedRecipient[]) => PreparedRecipient[]) {
  const { recipients, kpis } = await prepareOnServerAudience(kit, { ...SAMPLE_DELIVERY, id });
  const altered = alter(recipients.map((r) => ({ ...r })));
  const contentHash = 'a1a1a1a1';
  const begin = await kit.request(`/api/deliveries/${id}/batch`, {
    method: 'PUT',
    json: batchHeader(SAMPLE_DELIVERY, kpis, contentHash, 1),
  });
  expect(begin.status).toBe(200);
  const chunk = await kit.request(`/api/deliveries/${id}/batch/chunks/1`, { method: 'PUT', json: { contentHash, recipients: altered } });
  const answer = chunk.ok ? await kit.request(`/api/deliveries/${id}/batch/commit`, { json: { contentHash } }) : chunk;
  return { at: chunk.ok ? 'commit' : 'chunk', status: answer.status, body: (await answer.json()) as { error: string; message: string } };
}

describe('recipients of a batch are checked against the audience of record', () => {
  it('refuses an unsubscribed address put under another profile’s id, and keeps nothing', async () => {
    await kit.services.audience.upsertMany([newProfile({ email: 'gone@example.com', status: 'unsubscribed' })], 'test', new Date());
    const { at, status, body } = await handOverAltered('swap', (rs) => {
      rs[0].email = 'gone@example.com';
      return rs;
    });
    // The part is checked as it arrives: the server refuses it there.
    expect(at).toBe('chunk');
    expect(status).toBe(422);
    expect(body.error).toBe('batch-mismatch');
    expect(body.message).toMatch(/recipient 1 \("gone@example\.com"\) is not the address of profile \d+ in the audience of record/);
    expect(await journalCount()).toBe(0);
    expect(await stagedCount()).toBe(0);
  });

  it('refuses an address outside the audience, and a profile id that never existed', async () => {
    const outside = await handOverAltered('outside', (rs) => {
      rs[3].email = 'stranger@example.org';
      return rs;
    });
    expect(outside).toMatchObject({ at: 'chunk', status: 422 });
    expect(outside.body.message).toMatch(/recipient 4 \("stranger@example\.org"\) is not the address of profile/);
    const invented = await handOverAltered('invented', (rs) => {
      rs[3].profileId = 99_999;
      rs[3].email = 'stranger@example.org';
      return rs;
    });
    expect(invented).toMatchObject({ at: 'chunk', status: 422 });
    expect(invented.body.message).toMatch(/names profile 99999, which is not in the audience of record/);
    expect(await journalCount()).toBe(0);
  });

  it.each([
    [
      'the same address twice',
      (rs: PreparedRecipient[]) => ((rs[1].email = rs[0].email), rs),
      /the address "person\d+@example\.com" appears twice/,
    ],
    ['the same profile twice', (rs: PreparedRecipient[]) => ((rs[1].profileId = rs[0].profileId), rs), /profile \d+ appears twice/],
    ['the same number twice', (rs: PreparedRecipient[]) => ((rs[1].seq = rs[0].seq), rs), /recipient number 1 appears twice/],
    [
      'an address that is not valid',
      (rs: PreparedRecipient[]) => ((rs[2].email = 'not an address'), rs),
      /recipient 3 \("not an address"\) is not a valid address/,
    ],
    [
      'an address not in normal form',
      (rs: PreparedRecipient[]) => ((rs[2].email = rs[2].email.toUpperCase()), rs),
      /recipient 3 .* is not a valid address/,
    ],
  ])('refuses a batch with %s, with the reason', async (_, alter, reason) => {
    const { at, status, body } = await handOverAltered('twice', alter);
    expect(at).toBe('chunk');
    expect(status).toBe(422);
    expect(body.message).toMatch(/^The batch was refused and nothing of it was kept: /);
    expect(body.message).toMatch(reason);
    expect(await journalCount()).toBe(0);
    expect(await stagedCount()).toBe(0);
  });

  it('accepts addresses at international domain names as the audience holds them, not another form of them', async () => {
    await kit.services.audience.upsertMany(
      [newProfile({ email: 'anna@пример.рф' }), newProfile({ email: 'boris@example.xn--p1ai' })],
      'test',
      new Date(),
    );
    await handOver(kit, 'idn', SAMPLE_DELIVERY);
    expect(await journalCount()).toBe(22);
    const punycode = await handOverAltered('idn2', (rs) => {
      const anna = rs.find((r) => r.email === 'anna@пример.рф')!;
      anna.email = 'anna@xn--e1afmkfd.xn--p1ai';
      return rs;
    });
    expect(punycode).toMatchObject({ at: 'chunk', status: 422 });
    expect(punycode.body.message).toMatch(/\("anna@xn--e1afmkfd\.xn--p1ai"\) is not the address of profile \d+ in the audience of record/);
  });

  it('accepts a profile deleted since preparation, and late suppression skips it', async () => {
    const { recipients } = await prepareOnServerAudience(kit, { ...SAMPLE_DELIVERY, id: 'late' });
    await kit.services.audience.delete(recipients[0].profileId);
    const { contentHash } = await handOver(kit, 'late', SAMPLE_DELIVERY);
    expect(await journalCount()).toBe(19);
    await kit.request('/api/deliveries/late/send', { json: { contentHash, scheduledAt: null } });
    await eventually(async () => (await (await kit.request('/api/deliveries/late')).json()).status === 'completed');
  });

  it('suppresses by address as well as by id at send time (rows committed before these checks existed)', async () => {
    const { contentHash, recipients } = await handOver(kit, 'byaddress', SAMPLE_DELIVERY);
    // A journal row naming one profile's address under another profile's id, as an older server accepted it.
    const [victim, other] = recipients;
    const move = 'UPDATE journal SET profile_id = ? WHERE delivery_id = ? AND profile_id = ?';
    await kit.sql(move, [-1, 'byaddress', other.profileId]);
    await kit.sql(move, [other.profileId, 'byaddress', victim.profileId]);
    await kit.services.audience.unsubscribe(victim.profileId, 'test', new Date());
    await kit.request('/api/deliveries/byaddress/send', { json: { contentHash, scheduledAt: null } });
    await eventually(async () => (await (await kit.request('/api/deliveries/byaddress')).json()).status === 'completed');
    const rows = await kit.sql('SELECT email, status, smtp_reply AS reply FROM journal WHERE delivery_id = ? AND email = ?', [
      'byaddress',
      victim.email,
    ]);
    expect(rows).toEqual([{ email: victim.email, status: 'excluded', reply: 'suppressed after preparation (unsubscribed)' }]);
  });
});

describe('the figures of a batch header must add up and fit the audience', () => {
  const header = (change: Partial<{ targeted: number; toDeliver: number; excluded: number; excludedByCause: Record<string, number> }>) =>
    batchHeader(
      SAMPLE_DELIVERY,
      { targeted: 10, toDeliver: 8, excluded: 2, excludedByCause: { unsubscribed: 2 }, excludedByRule: {}, ...change },
      'b2b2b2b2',
      1,
    );

  it.each([
    [
      'exclusions by cause that do not add up',
      { excludedByCause: { unsubscribed: 1 } },
      /the exclusions by cause add up to 1, not to the 2 excluded/,
    ],
    ['to deliver and excluded that are not targeted', { targeted: 11 }, /to deliver \(8\) plus excluded \(2\) is not targeted \(11\)/],
    [
      'more targeted than the audience ever held',
      { targeted: 1_000_000, toDeliver: 999_998 },
      /targets 1000000 profiles, more than the audience of record has ever held \(20\)/,
    ],
  ])('refuses %s', async (_, change, reason) => {
    const response = await kit.request('/api/deliveries/figures/batch', { method: 'PUT', json: header(change) });
    expect(response.status).toBe(422);
    const body = await response.json();
    expect(body.error).toBe('batch-refused');
    expect(body.message).toMatch(reason);
    expect((await kit.request('/api/deliveries/figures')).status).toBe(404);
  });
});

describe('delivery ids are checked where they enter', () => {
  it.each(['mid%0D%0ABcc:victim@example.com', 'a.b', 'x'.repeat(65), '%20'])('answers 400 to the id %s on every route', async (id) => {
    for (const [path, method] of [
      [`/api/deliveries/${id}/batch`, 'PUT'],
      [`/api/deliveries/${id}/batch/chunks/1`, 'PUT'],
      [`/api/deliveries/${id}/batch/commit`, 'POST'],
      [`/api/deliveries/${id}/send`, 'POST'],
      [`/api/deliveries/${id}/pause`, 'POST'],
      [`/api/deliveries/${id}`, 'GET'],
      [`/api/deliveries/${id}/recipients.csv`, 'GET'],
    ] as const) {
      const response = await kit.request(path, { method, json: method === 'GET' ? undefined : {} });
      expect(response.status, `${method} ${path}`).toBe(400);
      expect((await response.json()).message).toMatch(/a delivery id of at most 64 letters, digits/);
    }
  });
});
