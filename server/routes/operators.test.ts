import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKit, PASSWORD, type Kit } from '../test-kit';

let kit: Kit;
beforeEach(async () => (kit = await createKit()));
afterEach(() => kit.close());

const signIn = (username: string, password: string) =>
  kit.app.request('/api/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });

describe('the team', () => {
  it('creates an operator with a role and a generated password shown once, who can then sign in', async () => {
    const created = await kit.request('/api/operators', { json: { username: 'ann.b-1', role: 'marketer' } });
    expect(created.status).toBe(201);
    const { operator, password } = await created.json();
    expect(operator).toEqual({ username: 'ann.b-1', role: 'marketer', disabled: false, createdAt: expect.any(String), createdBy: 'admin' });
    expect(password).toMatch(/^[\w-]{24}$/);
    expect((await signIn('ann.b-1', password)).status).toBe(200);
    const { operators } = await (await kit.request('/api/operators')).json();
    expect(operators.map((o: { username: string; role: string }) => [o.username, o.role])).toEqual([
      ['admin', 'admin'],
      ['ann.b-1', 'marketer'],
    ]);
  });

  it('takes a given password, refuses a short one, a bad username and a taken one', async () => {
    const given = await kit.request('/api/operators', { json: { username: 'bob', role: 'viewer', password: 'twelve chars' } });
    expect(await given.json()).toMatchObject({ password: 'twelve chars' });
    expect((await signIn('bob', 'twelve chars')).status).toBe(200);
    const short = await kit.request('/api/operators', { json: { username: 'cat', role: 'viewer', password: 'short' } });
    expect(short.status).toBe(400);
    expect((await short.json()).message).toContain('at least 12 characters');
    expect((await kit.request('/api/operators', { json: { username: 'a b', role: 'viewer' } })).status).toBe(400);
    const taken = await kit.request('/api/operators', { json: { username: 'bob', role: 'admin' } });
    expect(taken.status).toBe(409);
    expect(await taken.json()).toMatchObject({ error: 'operator-exists', message: expect.stringContaining('already an operator "bob"') });
  });

  it('changes a role, which the operator has at once', async () => {
    const ann = await kit.signInAs('ann', 'viewer');
    expect((await ann('/api/audience/denylist', { method: 'PUT', json: { email: 'x@example.com', reason: 'r' } })).status).toBe(403);
    const changed = await kit.request('/api/operators/ann', { method: 'PATCH', json: { role: 'marketer' } });
    expect(await changed.json()).toMatchObject({ operator: { username: 'ann', role: 'marketer', disabled: false } });
    expect((await ann('/api/audience/denylist', { method: 'PUT', json: { email: 'x@example.com', reason: 'r' } })).status).toBe(200);
    expect((await kit.request('/api/operators/nobody', { method: 'PATCH', json: { role: 'viewer' } })).status).toBe(404);
  });

  it("ends a disabled operator's sessions and refuses their sign-in with a sentence; enabled again, they sign in", async () => {
    const ann = await kit.signInAs('ann', 'marketer');
    expect((await ann('/api/deliveries')).status).toBe(200);
    const disabled = await kit.request('/api/operators/ann', { method: 'PATCH', json: { disabled: true } });
    expect(await disabled.json()).toMatchObject({ operator: { disabled: true } });
    expect((await ann('/api/deliveries')).status).toBe(401);
    expect(await kit.value('SELECT COUNT(*) FROM sessions WHERE username = ?', ['ann'])).toBe(0);
    const refused = await signIn('ann', PASSWORD);
    expect(refused.status).toBe(403);
    expect(await refused.json()).toEqual({
      error: 'account-disabled',
      message: 'This account is disabled. Ask an admin to enable it again.',
    });
    expect(refused.headers.get('set-cookie')).toBeNull();
    // A wrong password for a disabled account is only wrong: the answer tells nothing more.
    expect((await signIn('ann', 'wrong')).status).toBe(401);
    await kit.request('/api/operators/ann', { method: 'PATCH', json: { disabled: false } });
    expect((await signIn('ann', PASSWORD)).status).toBe(200);
  });

  it('gives no working session to an operator disabled meanwhile, even before the sessions are closed (another node)', async () => {
    const ann = await kit.signInAs('ann', 'marketer');
    await kit.sql('UPDATE users SET disabled = 1 WHERE username = ?', ['ann']);
    expect(await kit.value('SELECT COUNT(*) FROM sessions WHERE username = ?', ['ann'])).toBe(1);
    expect((await ann('/api/deliveries')).status).toBe(401);
  });

  it('refuses to demote or disable the last enabled admin, and allows it once there is another', async () => {
    for (const change of [{ role: 'marketer' }, { disabled: true }]) {
      const refused = await kit.request('/api/operators/admin', { method: 'PATCH', json: change });
      expect(refused.status).toBe(409);
      expect(await refused.json()).toMatchObject({ error: 'last-admin', message: expect.stringContaining('last enabled admin') });
    }
    // A disabled admin does not count.
    await kit.signInAs('eve', 'admin');
    await kit.request('/api/operators/eve', { method: 'PATCH', json: { disabled: true } });
    expect((await kit.request('/api/operators/admin', { method: 'PATCH', json: { role: 'viewer' } })).status).toBe(409);
    await kit.request('/api/operators/eve', { method: 'PATCH', json: { disabled: false } });
    const demoted = await kit.request('/api/operators/admin', { method: 'PATCH', json: { role: 'viewer' } });
    expect(demoted.status).toBe(200);
    expect((await kit.request('/api/session').then((r) => r.json())).role).toBe('viewer');
  });

  it('leaves one admin when the only two step down at once', async () => {
    const eve = await kit.signInAs('eve', 'admin');
    // Each demotes itself, so both pass the role check whatever the order: the store must refuse one.
    const answers = await Promise.all([
      kit.request('/api/operators/admin', { method: 'PATCH', json: { role: 'viewer' } }),
      eve('/api/operators/eve', { method: 'PATCH', json: { role: 'viewer' } }),
    ]);
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409]);
    expect(await kit.value("SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled = 0")).toBe(1);
  });

  it('sets a new password (generated, or given), ending the sessions the operator had', async () => {
    const ann = await kit.signInAs('ann', 'marketer');
    const reset = await kit.request('/api/operators/ann/password', { json: {} });
    const { password } = await reset.json();
    expect(password).toMatch(/^[\w-]{24}$/);
    expect((await ann('/api/deliveries')).status).toBe(401);
    expect((await signIn('ann', PASSWORD)).status).toBe(401);
    expect((await signIn('ann', password)).status).toBe(200);
    const given = await kit.request('/api/operators/ann/password', { json: { password: 'a new long password' } });
    expect(await given.json()).toEqual({ password: 'a new long password' });
    expect((await kit.request('/api/operators/nobody/password', { json: {} })).status).toBe(404);
    // No operator is made by resetting the password of one that does not exist.
    expect(await kit.value('SELECT COUNT(*) FROM users WHERE username = ?', ['nobody'])).toBe(0);
  });
});
