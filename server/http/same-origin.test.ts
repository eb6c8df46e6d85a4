import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKit, handOver, newProfile, PUBLIC_URL, SAMPLE_DELIVERY, type Kit } from '../test-kit';
import { fromOwnPages } from './same-origin';

let kit: Kit;

// In-process requests are for http://localhost: that is the app's own origin here.
const OWN = 'http://localhost';
const SAME_HOST_OTHER_PORT = 'http://localhost:8081';

describe('fromOwnPages', () => {
  it.each([
    [OWN, undefined, true],
    [PUBLIC_URL, undefined, true],
    [SAME_HOST_OTHER_PORT, undefined, false],
    [SAME_HOST_OTHER_PORT, 'same-site', false],
    ['https://evil.example', 'cross-site', false],
    [undefined, 'same-origin', true],
    ['null', 'same-origin', true], // a page under Referrer-Policy: no-referrer
    ['null', undefined, false], // a sandboxed frame
    [undefined, 'same-site', false],
    [undefined, 'none', false],
    [OWN, 'cross-site', true], // an allowed origin is ours whatever the site says
    [undefined, undefined, true], // curl, an integration, a test: no browser
  ])('Origin %s, Sec-Fetch-Site %s: %s', (origin, fetchSite, allowed) => {
    expect(fromOwnPages(origin, fetchSite, [OWN, PUBLIC_URL])).toBe(allowed);
  });
});

/** Calls the app as the signed-in operator's browser would from a page with these headers. */
const fromPage = (path: string, method: string, headers: Record<string, string>, body?: string) =>
  kit.app.request(path, { method, headers: { cookie: kit.cookie, ...headers }, body });

const status = async (id: string) => (await (await kit.request(`/api/deliveries/${id}`)).json()).status;

async function scheduledDelivery(id: string) {
  const { contentHash } = await handOver(kit, id, SAMPLE_DELIVERY);
  await kit.request(`/api/deliveries/${id}/send`, { json: { contentHash, scheduledAt: '2999-01-01T00:00:00Z' } });
  expect(await status(id)).toBe('scheduled');
}

describe('requests from other origins', () => {
  beforeEach(async () => {
    kit = await createKit();
    await kit.services.audience.upsertMany(
      Array.from({ length: 5 }, () => newProfile()),
      'test',
      new Date(),
    );
  });
  afterEach(() => kit.close());

  it('cannot stop a delivery from a page of the same host on another port', async () => {
    await scheduledDelivery('d1');
    const response = await fromPage('/api/deliveries/d1/stop', 'POST', {
      origin: SAME_HOST_OTHER_PORT,
      'sec-fetch-site': 'same-site',
      'content-type': 'application/x-www-form-urlencoded',
    });
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({
      error: 'cross-origin-request',
      message:
        'This request came from another site (http://localhost:8081): Mailroom takes changes only from its own pages. Use Mailroom at its own address.',
    });
    expect(await status('d1')).toBe('scheduled');
  });

  it('cannot import profiles from another origin', async () => {
    const response = await fromPage(
      '/api/audience/imports',
      'POST',
      { origin: SAME_HOST_OTHER_PORT, 'content-type': 'text/plain' },
      'email\nplanted@example.com\n',
    );
    expect(response.status).toBe(403);
    expect(await kit.services.audience.count()).toBe(5);
  });

  it.each([
    ['its own origin', { origin: OWN }],
    ['a browser that says same-origin', { origin: OWN, 'sec-fetch-site': 'same-origin' }],
    ['the public URL (behind a proxy)', { origin: PUBLIC_URL }],
    ['Sec-Fetch-Site same-origin with Origin null', { origin: 'null', 'sec-fetch-site': 'same-origin' }],
    ['no browser headers at all', {}],
  ])('takes a command from %s', async (_, headers: Record<string, string>) => {
    await scheduledDelivery('d2');
    const response = await fromPage('/api/deliveries/d2/stop', 'POST', headers);
    expect(response.status).toBe(200);
    expect(await status('d2')).toBe('stopped');
  });

  it('refuses an opaque origin (a sandboxed frame, as an email preview is)', async () => {
    await scheduledDelivery('d3');
    expect((await fromPage('/api/deliveries/d3/pause', 'POST', { origin: 'null' })).status).toBe(403);
    expect(await status('d3')).toBe('scheduled');
  });

  it('checks sign-in and the mailbox too, and lets reads through', async () => {
    const signIn = await kit.app.request('/api/session', {
      method: 'POST',
      headers: { origin: SAME_HOST_OTHER_PORT, 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'admin', password: 'correct horse battery staple' }),
    });
    expect(signIn.status).toBe(403);
    expect((await fromPage('/mailbox', 'POST', { origin: SAME_HOST_OTHER_PORT })).status).toBe(403);
    expect((await fromPage('/mailbox/1', 'POST', { origin: SAME_HOST_OTHER_PORT })).status).toBe(403);
    expect((await fromPage('/api/deliveries', 'GET', { origin: SAME_HOST_OTHER_PORT, 'sec-fetch-site': 'same-site' })).status).toBe(200);
  });

  it('leaves the unsubscribe page and its one-click POST open to any origin', async () => {
    await handOver(kit, 'd4', SAMPLE_DELIVERY);
    const [row] = await kit.sql<{ id: number; profile_id: number }>('SELECT id, profile_id FROM journal WHERE delivery_id = ? LIMIT 1', [
      'd4',
    ]);
    const token = kit.services.signer.sign({ purpose: 'u', deliveryId: 'd4', journalId: row.id });
    const page = await kit.app.request(`/u/${token}`, { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(page.status).toBe(200);
    const oneClick = await kit.app.request(`/u/${token}`, {
      method: 'POST',
      headers: {
        origin: 'https://mail.provider.example',
        'sec-fetch-site': 'cross-site',
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(oneClick.status).toBe(200);
    expect(await oneClick.text()).toBe('Unsubscribed.');
    expect((await kit.services.audience.get(row.profile_id))?.status).toBe('unsubscribed');
    expect((await kit.app.request('/t/o/not-a-token', { headers: { origin: 'null' } })).status).toBe(200);
  });
});
