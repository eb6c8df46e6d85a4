import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refusedFor } from '../../shared/roles';
import { createKit, handOver, newProfile, SAMPLE_DELIVERY, type Kit } from '../test-kit';

let kit: Kit;
let clock: Date;
beforeEach(async () => {
  kit = await createKit();
  clock = new Date('2026-12-01T10:00:00.000Z');
  kit.services.now = () => clock;
});
afterEach(() => kit.close());

const create = async (name: string, role: string, expiresAt: string | null = null) => {
  const response = await kit.request('/api/tokens', { json: { name, role, expiresAt } });
  expect(response.status).toBe(201);
  return (await response.json()) as { token: { id: string; name: string }; secret: string };
};

describe('API tokens', () => {
  it('makes a token whose secret is shown once and kept only as a digest, and which opens the API', async () => {
    const { token, secret } = await create('ci', 'viewer', '2027-01-01T00:00:00+01:00');
    expect(secret).toMatch(/^mr_[\w-]{43}$/);
    expect(token).toEqual({
      id: expect.any(String),
      name: 'ci',
      role: 'viewer',
      createdBy: 'admin',
      createdAt: '2026-12-01T10:00:00.000Z',
      expiresAt: '2026-12-31T23:00:00.000Z',
      revokedAt: null,
      lastUsedAt: null,
    });
    const stored = JSON.stringify(await kit.sql('SELECT * FROM api_tokens'));
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(secret.slice(3));
    const me = await kit.bearer(secret)('/api/session');
    expect(await me.json()).toMatchObject({ username: 'token:ci', role: 'viewer' });
    const { tokens } = await (await kit.request('/api/tokens')).json();
    expect(tokens).toEqual([{ ...token, lastUsedAt: '2026-12-01T10:00:00.000Z' }]);
    expect(JSON.stringify(tokens)).not.toContain(secret);
  });

  it('writes down a use at most once a minute', async () => {
    const { secret } = await create('ci', 'viewer');
    const lastUsed = () => kit.value<string>('SELECT last_used_at FROM api_tokens');
    await kit.bearer(secret)('/api/deliveries');
    clock = new Date('2026-12-01T10:00:59.000Z');
    await kit.bearer(secret)('/api/deliveries');
    expect(await lastUsed()).toBe('2026-12-01T10:00:00.000Z');
    clock = new Date('2026-12-01T10:01:01.000Z');
    await kit.bearer(secret)('/api/deliveries');
    expect(await lastUsed()).toBe('2026-12-01T10:01:01.000Z');
  });

  it('refuses a token that is unknown, revoked or expired with a sentence saying which', async () => {
    const unknown = await kit.bearer('mr_nothing')('/api/deliveries');
    expect(unknown.status).toBe(401);
    expect(await unknown.json()).toMatchObject({ error: 'token-unknown', message: expect.stringContaining('not known') });
    expect((await kit.bearer('')('/api/deliveries')).status).toBe(401);

    const revoked = await create('old', 'admin');
    expect((await kit.bearer(revoked.secret)('/api/deliveries')).status).toBe(200);
    const answer = await kit.request(`/api/tokens/${revoked.token.id}`, { method: 'DELETE' });
    expect(await answer.json()).toMatchObject({ token: { revokedAt: '2026-12-01T10:00:00.000Z' } });
    clock = new Date('2026-12-02T10:00:00.000Z');
    // Revoking twice answers the same.
    const again = await kit.request(`/api/tokens/${revoked.token.id}`, { method: 'DELETE' });
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ token: { revokedAt: '2026-12-01T10:00:00.000Z' } });
    const refused = await kit.bearer(revoked.secret)('/api/deliveries');
    expect(refused.status).toBe(401);
    expect(await refused.json()).toEqual({
      error: 'token-revoked',
      message: 'The API token "old" was revoked on 2026-12-01T10:00:00.000Z. Ask an admin for a new one.',
    });

    const expiring = await create('brief', 'admin', '2026-12-03T00:00:00Z');
    expect((await kit.bearer(expiring.secret)('/api/deliveries')).status).toBe(200);
    clock = new Date('2026-12-03T00:00:00.000Z');
    const expired = await kit.bearer(expiring.secret)('/api/deliveries');
    expect(expired.status).toBe(401);
    expect(await expired.json()).toEqual({
      error: 'token-expired',
      message: 'The API token "brief" expired on 2026-12-03T00:00:00.000Z. Ask an admin for a new one.',
    });
    expect((await kit.request('/api/tokens/nope', { method: 'DELETE' })).status).toBe(404);
  });

  it('refuses an expiry in the past, and a header that is not Bearer', async () => {
    const past = await kit.request('/api/tokens', { json: { name: 'x', role: 'viewer', expiresAt: '2026-11-30T00:00:00Z' } });
    expect(past.status).toBe(400);
    expect(await past.json()).toMatchObject({ error: 'expiry-in-past', message: expect.stringContaining('in the past') });
    const basic = await kit.app.request('/api/deliveries', { headers: { authorization: 'Basic YWRtaW46eA==', cookie: kit.cookie } });
    expect(basic.status).toBe(401);
    expect(await basic.json()).toMatchObject({ error: 'invalid-authorization' });
  });

  it("lets an admin token send, and refuses a viewer token's send with the sentence", async () => {
    await kit.services.audience.upsertMany([newProfile(), newProfile()], 'test', new Date());
    const { contentHash } = await handOver(kit, 'd1', SAMPLE_DELIVERY);
    const viewer = await create('dashboard', 'viewer');
    const admin = await create('scheduler', 'admin');
    const send = { json: { contentHash, scheduledAt: null } };
    const refused = await kit.bearer(viewer.secret)('/api/deliveries/d1/send', send);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({ error: 'forbidden', message: refusedFor('viewer', 'work') });
    expect((await kit.request('/api/deliveries/d1').then((r) => r.json())).status).toBe('prepared');
    const sent = await kit.bearer(admin.secret)('/api/deliveries/d1/send', send);
    expect(sent.status).toBe(200);
    expect((await sent.json()).status).toBe('sending');
    const { entries } = await (await kit.request('/api/audit?action=sent')).json();
    expect(entries).toMatchObject([{ actor: 'token:scheduler', objectId: 'd1' }]);
  });
});
