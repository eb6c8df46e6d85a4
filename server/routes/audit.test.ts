import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditEntry } from '../store/audit';
import { createKit, handOver, newProfile, recordingMessenger, SAMPLE_DELIVERY, type Kit, type RequestAs } from '../test-kit';

let kit: Kit;
/** Holds every message until released, so a delivery stays "sending" while the test pauses and stops it. */
let release: () => void;
beforeEach(async () => {
  const gate = new Promise<void>((resolve) => (release = resolve));
  kit = await createKit({ messenger: recordingMessenger(() => gate).messenger });
  await kit.services.audience.upsertMany([newProfile(), newProfile(), newProfile()], 'test', new Date());
});
afterEach(async () => {
  release();
  await kit.close();
});

const entries = async (query = '', as: RequestAs = kit.request): Promise<AuditEntry[]> => {
  const response = await as(`/api/audit${query}`);
  expect(response.status).toBe(200);
  return (await response.json()).entries;
};

/** Returns the entries as [actor, action, objectKind, objectId, objectName], oldest first. */
const trail = async (query = '') =>
  (await entries(query)).reverse().map((e) => [e.actor, e.action, e.objectKind, e.objectId, e.objectName]);

describe('the audit log', () => {
  it("records a delivery's commands with who gave them and the delivery's name", async () => {
    const mark = await kit.signInAs('mark', 'marketer');
    const { contentHash } = await handOver(kit, 'd1', { ...SAMPLE_DELIVERY, name: 'Winter sale' });
    const later = new Date(Date.now() + 86_400_000).toISOString();
    const ok = async (path: string, json?: unknown) =>
      expect((await mark(`/api/deliveries/d1/${path}`, { method: 'POST', json })).status, path).toBe(200);
    await ok('send', { contentHash, scheduledAt: later });
    await ok('unschedule');
    await ok('send', { contentHash, scheduledAt: null });
    await ok('pause');
    await ok('resume');
    await ok('stop');
    await ok('unknown', { resend: false });
    // A refused command is no action: nothing is recorded for it.
    expect((await mark('/api/deliveries/d1/pause', { method: 'POST' })).status).toBe(409);
    expect(await trail('?object=d1')).toEqual(
      ['scheduled', 'unscheduled', 'sent', 'paused', 'resumed', 'stopped', 'settled-unknown'].map((action) => [
        'mark',
        action,
        'delivery',
        'd1',
        'Winter sale',
      ]),
    );
    const [settled, , , , , , scheduled] = await entries('?object=d1');
    expect(scheduled.detail).toBe(`scheduled for ${later}`);
    expect(settled.detail).toBe('0 recipients of unknown outcome cancelled, not sent again');
  });

  it('records imports, the denylist and deletions of profiles, never keeping a deleted profile’s address', async () => {
    const imported = await kit.app.request('/api/audience/imports?fileName=spring.csv', {
      method: 'POST',
      headers: { cookie: kit.cookie, 'content-type': 'text/csv' },
      body: 'email\nnew@example.com\nnot-an-address\n',
    });
    const summary = await imported.json();
    await kit.request('/api/audience/denylist', { method: 'PUT', json: { email: ' Gone@Example.com', reason: 'asked us' } });
    await kit.request('/api/audience/denylist', { method: 'DELETE', json: { email: 'gone@example.com' } });
    const [profile] = await kit.services.audience.pageById(0, 1);
    await kit.request(`/api/audience/profiles/${profile.id}`, { method: 'DELETE' });
    await kit.request('/api/audience/profiles?search=new%40example.com&expected=1', { method: 'DELETE' });
    await kit.request('/api/audience/demo', { method: 'DELETE' });
    expect(await trail()).toEqual([
      ['admin', 'imported', 'audience', summary.id, 'spring.csv'],
      ['admin', 'denylisted', 'audience', 'gone@example.com', 'gone@example.com'],
      ['admin', 'undenylisted', 'audience', 'gone@example.com', 'gone@example.com'],
      ['admin', 'profiles-deleted', 'audience', `profile-${profile.id}`, `Profile ${profile.id}`],
      ['admin', 'profiles-deleted', 'audience', 'search', 'Audience'],
      ['admin', 'profiles-deleted', 'audience', 'demo', 'Demo audience'],
    ]);
    const details = (await entries()).reverse().map((e) => e.detail);
    expect(details[0]).toBe('"spring.csv", 2 rows: 1 new, 0 updated, 1 rejected');
    expect(details[1]).toBe('asked us');
    expect(details[4]).toBe('1 profiles matching "new@example.com"');
    expect(details[5]).toMatch(/^0 demo profiles deleted/);
    expect(JSON.stringify(await entries('?object=' + `profile-${profile.id}`))).not.toContain(profile.email);
  });

  it('records a settings change as a sentence of what changed, without the password or the key', async () => {
    const key = '-----BEGIN PRIVATE KEY-----\nMIIEsecretkeymaterial\n-----END PRIVATE KEY-----';
    const body = {
      relayUrl: 'smtp://mailer:hunter2-secret@relay.example.com:587',
      connections: 7,
      messagesPerConnection: 100,
      ratePerSecond: 0,
      dkim: { domainName: 'shop.example.com', keySelector: 'mr', privateKey: key },
    };
    expect((await kit.request('/api/settings', { method: 'PUT', json: body })).status).toBe(200);
    // Saved again as the page shows it (password masked, no key): nothing changed, nothing recorded.
    const shown = await (await kit.request('/api/settings')).json();
    const again = { ...body, relayUrl: shown.relayUrl, dkim: { ...body.dkim, privateKey: '' } };
    expect((await kit.request('/api/settings', { method: 'PUT', json: again })).status).toBe(200);
    const [entry, ...others] = await entries('?action=settings-changed');
    expect(others).toEqual([]);
    expect(entry).toMatchObject({ actor: 'admin', objectKind: 'settings', objectId: 'sending' });
    expect(entry.detail).toBe(
      'Changed the relay (now relay.example.com:587), connections 5 → 7, DKIM (now mr._domainkey.shop.example.com).',
    );
    expect(JSON.stringify(await entries())).not.toMatch(/hunter2|secretkey|BEGIN/);
  });

  it('records the team and its tokens, and any role can read the log, filtered by actor and action', async () => {
    await kit.request('/api/operators', { json: { username: 'vera', role: 'viewer', password: 'twelve chars' } });
    await kit.request('/api/operators/vera', { method: 'PATCH', json: { role: 'marketer' } });
    await kit.request('/api/operators/vera/password', { json: {} });
    const { token } = await (await kit.request('/api/tokens', { json: { name: 'ci', role: 'viewer', expiresAt: null } })).json();
    await kit.request(`/api/tokens/${token.id}`, { method: 'DELETE' });
    await kit.request(`/api/tokens/${token.id}`, { method: 'DELETE' });
    expect(await trail()).toEqual([
      ['admin', 'operator-created', 'operator', 'vera', 'vera'],
      ['admin', 'operator-changed', 'operator', 'vera', 'vera'],
      ['admin', 'password-reset', 'operator', 'vera', 'vera'],
      ['admin', 'token-created', 'token', token.id, 'ci'],
      ['admin', 'token-revoked', 'token', token.id, 'ci'],
    ]);
    expect((await entries('?action=operator-changed'))[0].detail).toBe('role viewer → marketer');
    // Vera was given a new password above; a viewer of her own reads the whole log.
    const viewer = await kit.signInAs('val', 'viewer');
    expect(await entries('?actor=admin&action=token-created', viewer)).toMatchObject([{ objectName: 'ci' }]);
    expect(await entries('?actor=val', viewer)).toEqual([]);
    expect((await viewer('/api/audit?limit=0')).status).toBe(400);
    expect((await viewer('/api/audit?action=nonsense')).status).toBe(400);
  });

  it('pages newest first, and exports every entry matching the filters as CSV with cells neutralized', async () => {
    for (let i = 0; i < 5; i++)
      await kit.request('/api/audience/denylist', { method: 'PUT', json: { email: `p${i}@example.com`, reason: `=HYPERLINK("x${i}")` } });
    const first = await entries('?limit=2');
    expect(first.map((e) => e.objectId)).toEqual(['p4@example.com', 'p3@example.com']);
    const next = await entries(`?limit=2&before=${first[1].id}`);
    expect(next.map((e) => e.objectId)).toEqual(['p2@example.com', 'p1@example.com']);

    const csv = await kit.request('/api/audit/export.csv?action=denylisted');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-\d{4}-\d{2}-\d{2}\.csv"$/);
    const lines = (await csv.text()).trimEnd().split('\r\n');
    expect(lines[0]).toBe('at,actor,action,object_kind,object_id,object_name,detail');
    expect(lines).toHaveLength(6);
    expect(lines[1]).toMatch(/^[\d-]+T[\d:.]+Z,admin,denylisted,audience,p4@example\.com,p4@example\.com,"'=HYPERLINK\(""x4""\)"$/);
    const filtered = await (await kit.request('/api/audit/export.csv?object=p0%40example.com')).text();
    expect(filtered.trimEnd().split('\r\n')).toHaveLength(2);
  });
});
