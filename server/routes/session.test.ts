import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKit, PASSWORD, type Kit } from '../test-kit';

let kit: Kit;
beforeEach(async () => (kit = await createKit()));
afterEach(() => kit.close());

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
    expect(await me.json()).toEqual({ username: 'admin' });
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
