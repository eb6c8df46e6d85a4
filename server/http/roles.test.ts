import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { refusedFor } from '../../shared/roles';
import { createKit, handOver, newProfile, SAMPLE_DELIVERY, type Kit, type RequestAs } from '../test-kit';
import { permissionFor } from './roles';

describe('permissionFor', () => {
  it.each([
    ['GET', '/api/deliveries', 'read'],
    ['HEAD', '/api/audience/export', 'read'],
    ['GET', '/api/settings', 'read'],
    ['GET', '/api/operators', 'read'],
    ['GET', '/api/audit/export.csv', 'read'],
    ['GET', '/api/tokens', 'admin'],
    ['PUT', '/api/settings', 'admin'],
    ['POST', '/api/settings/test-connection', 'admin'],
    ['POST', '/api/operators', 'admin'],
    ['PATCH', '/api/operators/ann', 'admin'],
    ['POST', '/api/tokens', 'admin'],
    ['DELETE', '/api/tokens/x', 'admin'],
    ['POST', '/api/deliveries/d/send', 'work'],
    ['PUT', '/api/audience/denylist', 'work'],
    ['POST', '/api/proofs', 'work'],
    // A path that only begins like an admin area is not one.
    ['POST', '/api/settingsx', 'work'],
  ] as const)('%s %s needs %s', (method, path, permission) => {
    expect(permissionFor(method, path)).toBe(permission);
  });
});

let kit: Kit;
beforeEach(async () => {
  kit = await createKit();
  await kit.services.audience.upsertMany([newProfile(), newProfile()], 'test', new Date());
});
afterEach(() => kit.close());

const SETTINGS = { relayUrl: null, connections: 5, messagesPerConnection: 100, ratePerSecond: 0, dkim: null };

/** The writes each role may not make: what they would do, and the permission they need. */
const WRITES = {
  send: ['/api/deliveries/d1/send', { method: 'POST', json: { contentHash: 'abcdef0123456789', scheduledAt: null } }, 'work'],
  pause: ['/api/deliveries/d1/pause', { method: 'POST' }, 'work'],
  import: ['/api/audience/imports?fileName=a.csv', { method: 'POST', json: 'email\na@example.com\n' }, 'work'],
  denylist: ['/api/audience/denylist', { method: 'PUT', json: { email: 'x@example.com', reason: 'asked' } }, 'work'],
  settings: ['/api/settings', { method: 'PUT', json: SETTINGS }, 'admin'],
  operators: ['/api/operators', { method: 'POST', json: { username: 'zoe', role: 'viewer' } }, 'admin'],
  tokens: ['/api/tokens', { method: 'POST', json: { name: 'ci', role: 'viewer', expiresAt: null } }, 'admin'],
} as const;

async function expectForbidden(request: RequestAs, role: 'viewer' | 'marketer', name: keyof typeof WRITES) {
  const [path, init, permission] = WRITES[name];
  const response = await request(path, init);
  expect(response.status, name).toBe(403);
  expect(await response.json()).toEqual({ error: 'forbidden', message: refusedFor(role, permission) });
}

describe('roles over the API', () => {
  it('lets a viewer read everything and refuses every change with the sentence, changing nothing', async () => {
    await handOver(kit, 'd1', SAMPLE_DELIVERY);
    const viewer = await kit.signInAs('vera', 'viewer');
    for (const path of ['/api/deliveries', '/api/deliveries/d1', '/api/audience/count', '/api/settings', '/api/operators', '/api/audit']) {
      expect((await viewer(path)).status, path).toBe(200);
    }
    expect((await (await viewer('/api/session')).json()).role).toBe('viewer');
    for (const name of Object.keys(WRITES) as (keyof typeof WRITES)[]) await expectForbidden(viewer, 'viewer', name);
    expect((await viewer('/api/tokens')).status).toBe(403);
    // Nothing happened: the delivery is still prepared, nobody is denylisted, no operator or token was made.
    expect((await (await kit.request('/api/deliveries/d1')).json()).status).toBe('prepared');
    expect(await kit.value('SELECT COUNT(*) FROM denylist')).toBe(0);
    expect(await kit.value('SELECT COUNT(*) FROM users')).toBe(2);
    expect(await kit.value('SELECT COUNT(*) FROM api_tokens')).toBe(0);
  });

  it('lets a marketer work but not change the settings, the operators or the tokens', async () => {
    const marketer = await kit.signInAs('mark', 'marketer');
    for (const name of ['settings', 'operators', 'tokens'] as const) await expectForbidden(marketer, 'marketer', name);
    expect((await marketer('/api/tokens')).status).toBe(403);
    expect((await marketer('/api/settings/test-connection', { json: { relayUrl: null } })).status).toBe(403);
    expect((await marketer('/api/operators/admin', { method: 'PATCH', json: { role: 'viewer' } })).status).toBe(403);
    const denied = await marketer('/api/audience/denylist', { method: 'PUT', json: { email: 'x@example.com', reason: 'asked' } });
    expect(denied.status).toBe(200);
    expect((await marketer('/api/settings')).status).toBe(200);
  });

  it('refuses before the body is looked at: a body an admin would be told is invalid gets a viewer the 403', async () => {
    const viewer = await kit.signInAs('vera', 'viewer');
    expect((await kit.request('/api/settings', { method: 'PUT', json: 'not settings' })).status).toBe(400);
    expect((await viewer('/api/settings', { method: 'PUT', json: 'not settings' })).status).toBe(403);
  });
});
