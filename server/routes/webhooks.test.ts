/**
 * Webhooks out, through the API and a real HTTP endpoint: an admin registers one, messages
 * sent and unsubscribed are posted to it signed with its secret, an endpoint that answers 500
 * is tried again on the schedule and the log says each attempt; a test event; roles.
 */

import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKit, eventually, handOver, newProfile, recordingMessenger, SAMPLE_DELIVERY, type Kit } from '../test-kit';

let kit: Kit;
let server: Server;
let endpoint: string;
let received: { headers: IncomingMessage['headers']; body: string }[];
/** What the endpoint answers next (200 unless told). */
let answer: number[];
let clock: Date;

beforeEach(async () => {
  kit = await createKit({ messenger: recordingMessenger().messenger });
  clock = new Date('2026-12-03T10:00:00.000Z');
  kit.services.now = () => clock;
  await kit.services.audience.upsertMany([newProfile(), newProfile(), newProfile()], 'test', new Date());
  received = [];
  answer = [];
  server = createServer((request, response) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      received.push({ headers: request.headers, body });
      response.statusCode = answer.shift() ?? 200;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks`;
});
afterEach(async () => {
  await kit.services.webhooks.stop();
  await kit.close();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

const register = async (events: string[]) => {
  const response = await kit.request('/api/webhooks', { json: { url: endpoint, events } });
  expect(response.status).toBe(201);
  return (await response.json()) as { webhook: { id: string }; secret: string };
};

/** Checks a received body's signature as a receiver would; resolves its JSON. */
function verified(secret: string, item: { headers: IncomingMessage['headers']; body: string }) {
  const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(item.headers['x-mailroom-signature']))!;
  expect(createHmac('sha256', secret).update(`${t}.${item.body}`).digest('hex')).toBe(v1);
  return JSON.parse(item.body) as { id: string; event: string; at: string; data: Record<string, unknown> };
}

describe('webhooks out', () => {
  it('posts each delivered message and an unsubscribe to the endpoint, signed with its secret', async () => {
    const { secret } = await register(['delivered', 'unsubscribed']);
    const { contentHash } = await handOver(kit, 'd1', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/d1/send', { json: { contentHash, scheduledAt: null } });
    await eventually(() => received.length === 3, 10_000);
    const events = received.map((r) => verified(secret, r));
    expect(events.map((e) => e.event)).toEqual(['delivered', 'delivered', 'delivered']);
    expect(events[0].data).toMatchObject({ deliveryId: 'd1', email: expect.stringContaining('@'), reply: '250 2.0.0 OK' });
    expect(received[0].headers['x-mailroom-event']).toBe('delivered');
    expect(new Set(events.map((e) => e.id)).size).toBe(3);

    // An unsubscribe by its signed link reaches the endpoint too.
    const [row] = await kit.sql<{ id: number }>("SELECT id FROM journal WHERE delivery_id = 'd1' LIMIT 1");
    const token = kit.services.signer.sign({ purpose: 'u', deliveryId: 'd1', journalId: Number(row.id) });
    await kit.app.request(`/u/${token}`, { method: 'POST', body: new URLSearchParams({ 'List-Unsubscribe': 'One-Click' }) });
    await eventually(() => received.length === 4, 10_000);
    expect(verified(secret, received[3])).toMatchObject({ event: 'unsubscribed', data: { deliveryId: 'd1', journalId: Number(row.id) } });
  });

  it('tries an endpoint that fails again on the schedule, and its log says each attempt', async () => {
    const { webhook } = await register(['delivered']);
    answer = [500, 503];
    const test = await kit.request(`/api/webhooks/${webhook.id}/test`, { method: 'POST' });
    expect((await test.json()).delivery).toMatchObject({
      event: 'test',
      status: 'pending',
      attempts: 1,
      lastResult: '500 Internal Server Error',
    });
    // Not before a minute has passed; then again, and five minutes after that.
    await kit.services.webhooks.dispatch();
    expect(received).toHaveLength(1);
    clock = new Date(clock.getTime() + 60_000);
    await kit.services.webhooks.dispatch();
    expect(received).toHaveLength(2);
    clock = new Date(clock.getTime() + 300_000);
    await kit.services.webhooks.dispatch();
    expect(received).toHaveLength(3);
    const { deliveries } = await (await kit.request(`/api/webhooks/${webhook.id}/deliveries`)).json();
    expect(deliveries).toMatchObject([{ event: 'test', status: 'delivered', attempts: 3, lastResult: '200 OK' }]);
  });

  it('gives up a day after the event, and says why', async () => {
    const { webhook } = await register(['delivered']);
    answer = Array.from({ length: 10 }, () => 500);
    await kit.request(`/api/webhooks/${webhook.id}/test`, { method: 'POST' });
    for (let i = 0; i < 8; i++) {
      clock = new Date(clock.getTime() + 12 * 3_600_000);
      await kit.services.webhooks.dispatch();
    }
    const { deliveries } = await (await kit.request(`/api/webhooks/${webhook.id}/deliveries`)).json();
    expect(deliveries[0]).toMatchObject({ status: 'failed', lastResult: '500 Internal Server Error; given up a day after the event' });
  });

  it('is an admin’s: listed without its secret, removed and audited; a marketer may not register one', async () => {
    const { webhook, secret } = await register(['bounced', 'complained']);
    const { webhooks } = await (await kit.request('/api/webhooks')).json();
    expect(webhooks).toEqual([expect.objectContaining({ id: webhook.id, url: endpoint, events: ['bounced', 'complained'] })]);
    expect(JSON.stringify(webhooks)).not.toContain(secret);
    const marketer = await kit.signInAs('mara', 'marketer');
    expect((await marketer('/api/webhooks', { json: { url: endpoint, events: ['delivered'] } })).status).toBe(403);
    expect((await kit.request('/api/webhooks', { json: { url: 'ftp://x.example', events: ['delivered'] } })).status).toBe(400);
    expect((await kit.request(`/api/webhooks/${webhook.id}`, { method: 'DELETE' })).status).toBe(200);
    expect((await (await kit.request('/api/webhooks')).json()).webhooks).toEqual([]);
    const actions = (await (await kit.request('/api/audit')).json()).entries.map((e: { action: string }) => e.action);
    expect(actions).toEqual(expect.arrayContaining(['webhook-created', 'webhook-removed']));
  });
});
