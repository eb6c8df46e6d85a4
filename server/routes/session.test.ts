import { randomBytes, scryptSync } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serve } from '@hono/node-server';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { SCRYPT } from '../store/operators';
import { createKit, eventually, PASSWORD, PUBLIC_URL, type Kit } from '../test-kit';

let kit: Kit;
beforeEach(async () => (kit = await createKit()));
afterEach(async () => {
  vi.restoreAllMocks();
  await kit.close();
});

const json = { 'content-type': 'application/json' };

/** Replaces the kit by one whose hashes are made with the real parameters, for the tests of hashing itself. */
async function withRealHashes() {
  await kit.close();
  kit = await createKit({ scrypt: SCRYPT });
}

const post = (body: unknown) =>
  kit.app.request('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

describe('signing in', () => {
  it.each(['/api/audience/changes', '/api/deliveries', '/api/deliveries/x', '/api/session'])(
    'answers 401 on %s without a session',
    async (path) => {
      const response = await kit.app.request(path);
      expect(response.status).toBe(401);
      expect(await response.json()).toEqual({ error: 'not-signed-in', message: 'Sign in to use Mailroom.' });
    },
  );

  it('sets an HttpOnly, SameSite=Strict session cookie that opens the API', async () => {
    const response = await post({ username: 'admin', password: PASSWORD });
    expect(response.status).toBe(200);
    const cookie = response.headers.get('set-cookie')!;
    expect(cookie).toMatch(/^mailroom_session=[\w-]{40,};/);
    expect(cookie).toContain('HttpOnly');
    expect(cookie).toContain('SameSite=Strict');
    const me = await kit.app.request('/api/session', { headers: { cookie: cookie.split(';')[0] } });
    expect(await me.json()).toEqual({ username: 'admin', role: 'admin', publicUrl: PUBLIC_URL });
  });

  it('refuses a wrong password and an unknown user alike', async () => {
    for (const body of [
      { username: 'admin', password: 'nope' },
      { username: 'root', password: PASSWORD },
    ]) {
      const response = await post(body);
      expect(response.status).toBe(401);
      expect(await response.json()).toMatchObject({ error: 'wrong-credentials' });
    }
  });

  it('refuses a malformed body with a sentence', async () => {
    const response = await post({ username: '' });
    expect(response.status).toBe(400);
    expect((await response.json()).message).toMatch(/^The request is not valid: username/);
  });

  it('ends the session on sign out', async () => {
    expect((await kit.request('/api/session', { method: 'DELETE' })).status).toBe(200);
    expect((await kit.request('/api/deliveries')).status).toBe(401);
  });

  it('does not accept a forged cookie', async () => {
    const response = await kit.app.request('/api/deliveries', { headers: { cookie: 'mailroom_session=forged' } });
    expect(response.status).toBe(401);
  });
});

/** Signs in from a given client address, in-process (the address a socket would have given). */
const postFrom = (address: string, body: unknown) =>
  kit.app.request(
    '/api/session',
    { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) },
    { incoming: { socket: { remoteAddress: address } } },
  );
const storedHash = () => kit.value<string>('SELECT password_hash FROM users WHERE username = ?', ['admin']);

describe('limits on signing in', () => {
  it('checks a burst of wrong passwords off the main thread: the pixel is answered first, and past the limit no hash is made', async () => {
    // Hashes as costly as in production: the pixel must not wait behind them (ten of them, one
    // after the other, take seconds on a busy machine: hence the longer timeout).
    await withRealHashes();
    const verify = vi.spyOn(kit.services.operators, 'verify');
    const server = serve({ fetch: kit.app.fetch, port: 0, hostname: '127.0.0.1' }) as Server;
    await new Promise((resolve) => server.once('listening', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const order: string[] = [];
      const signIns = Array.from({ length: 16 }, () =>
        fetch(`${url}/api/session`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ username: 'admin', password: 'wrong' }),
        }).then(async (response) => {
          order.push(String(response.status));
          return { status: response.status, retryAfter: response.headers.get('retry-after'), body: await response.json() };
        }),
      );
      await eventually(() => verify.mock.calls.length > 0); // the password checks have begun
      const pixel = await fetch(`${url}/t/o/not-a-token`);
      order.push('pixel');
      const answers = await Promise.all(signIns);

      expect(pixel.status).toBe(200);
      expect(order.indexOf('pixel')).toBeLessThan(order.indexOf('401'));
      expect(answers.filter((a) => a.status === 401)).toHaveLength(10);
      const limited = answers.filter((a) => a.status === 429);
      expect(limited).toHaveLength(6);
      expect(verify).toHaveBeenCalledTimes(10);
      for (const answer of limited) {
        expect(answer.body).toEqual({ error: 'too-many-attempts', message: 'Too many attempts; try again in 15 minutes.' });
        expect(Number(answer.retryAfter)).toBeGreaterThan(14 * 60);
        expect(Number(answer.retryAfter)).toBeLessThanOrEqual(15 * 60);
      }
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  }, 30_000);

  it('refuses even the right password from an address over its limit, without checking it, until the window has passed', async () => {
    await kit.close();
    kit = await createKit({ signInLimits: { perAddress: 3 } });
    for (let i = 0; i < 3; i++) expect((await postFrom('198.51.100.7', { username: 'admin', password: 'nope' })).status).toBe(401);
    const verify = vi.spyOn(kit.services.operators, 'verify');
    const limited = await postFrom('198.51.100.7', { username: 'admin', password: PASSWORD });
    expect(limited.status).toBe(429);
    expect(limited.headers.get('set-cookie')).toBeNull();
    expect(verify).not.toHaveBeenCalled();
    // Another address is not held back by this one.
    expect((await postFrom('198.51.100.8', { username: 'admin', password: PASSWORD })).status).toBe(200);
    // An IPv6 client is counted by its /64: another address of the same network is the same client.
    for (let i = 0; i < 3; i++) await postFrom('2001:db8:1:2::a', { username: 'admin', password: 'nope' });
    expect((await postFrom('2001:db8:1:2:ffff::b', { username: 'admin', password: PASSWORD })).status).toBe(429);

    const later = Date.now() + 15 * 60_000 + 1_000;
    kit.services.now = () => new Date(later);
    expect((await postFrom('198.51.100.7', { username: 'admin', password: PASSWORD })).status).toBe(200);
  });

  it('limits the attempts at one account from all addresses together, and at that account only', async () => {
    await kit.close();
    kit = await createKit({ signInLimits: { perAccount: 3 } });
    for (const address of ['192.0.2.1', '192.0.2.2', '192.0.2.3'])
      expect((await postFrom(address, { username: 'admin', password: 'nope' })).status).toBe(401);
    const limited = await postFrom('192.0.2.4', { username: 'admin', password: PASSWORD });
    expect(limited.status).toBe(429);
    expect((await limited.json()).message).toBe('Too many attempts; try again in 15 minutes.');
    expect((await postFrom('192.0.2.4', { username: 'root', password: 'nope' })).status).toBe(401);
  });

  it('takes back only its own attempt on a good sign-in: the failures before it still count', async () => {
    await kit.close();
    kit = await createKit({ signInLimits: { perAddress: 3 } });
    for (let i = 0; i < 2; i++) await postFrom('203.0.113.9', { username: 'admin', password: 'nope' });
    expect((await postFrom('203.0.113.9', { username: 'admin', password: PASSWORD })).status).toBe(200);
    expect((await postFrom('203.0.113.9', { username: 'admin', password: 'nope' })).status).toBe(401);
    expect((await postFrom('203.0.113.9', { username: 'admin', password: PASSWORD })).status).toBe(429);
  });
});

describe('password hashes', () => {
  beforeEach(withRealHashes);

  it('are scrypt with N=2^15, r=8, p=3, the parameters written in the hash', async () => {
    expect(await storedHash()).toMatch(/^scrypt\$N=32768,r=8,p=3\$[\w-]{22}\$[\w-]{43}$/);
  });

  it('of the old form (Node defaults, no parameters) still verify, and a good sign-in replaces them', async () => {
    const salt = randomBytes(16);
    const legacy = `scrypt$${salt.toString('base64url')}$${scryptSync(PASSWORD, salt, 32).toString('base64url')}`;
    await kit.sql('UPDATE users SET password_hash = ? WHERE username = ?', [legacy, 'admin']);
    expect((await post({ username: 'admin', password: 'nope' })).status).toBe(401);
    expect(await storedHash()).toBe(legacy);
    expect((await post({ username: 'admin', password: PASSWORD })).status).toBe(200);
    expect(await storedHash()).toMatch(/^scrypt\$N=32768,r=8,p=3\$/);
    expect((await post({ username: 'admin', password: PASSWORD })).status).toBe(200);
  });
});

describe('bodies that are not JSON', () => {
  it.each([
    ['signing in, without a session', () => kit.app.request('/api/session', { method: 'POST', headers: json, body: '{"username":' })],
    [
      'a signed-in route',
      () => kit.app.request('/api/audience/denylist', { method: 'PUT', headers: { ...json, cookie: kit.cookie }, body: "{ email: 'x' }" }),
    ],
  ])('are answered 400 with a sentence and no stack in the log: %s', async (_, send) => {
    const log = vi.spyOn(console, 'error').mockImplementation(() => {});
    const response = await send();
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error).toBe('invalid-json');
    expect(body.message).toMatch(/^The request body is not valid JSON: \S.*\.$/);
    expect(log).not.toHaveBeenCalled();
  });
});
