/**
 * Relay trouble with a real Mailroom process, started as `npm start` starts it, and relays
 * over TCP in this test's process. With SMTP_URL at a port where nothing listens, nothing is
 * handed over and nothing is lost: a SIGKILL meanwhile leaves no row "outcome unknown", and
 * a relay started there later receives everyone exactly once. With a relay that holds every
 * message unanswered after DATA, SIGTERM ends the process after its grace; after a restart
 * exactly the messages the relay was holding are listed as unknown, and everyone else is
 * delivered once. The relay's own count is the judge.
 */

import { afterAll, describe, expect, it } from 'vitest';
import type { SendKpis } from '../shared/types';
import { eventually } from '../server/test-kit';
import { prepareAndSend, signIn } from './support/api';
import { freePort, startFaultRelay, type FaultRelay } from './support/relay';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

const PASSWORD = 'relay-outage-test-password';
const servers: ServerProcess[] = [];
const relays: FaultRelay[] = [];

afterAll(async () => {
  for (const server of servers) {
    await server.kill();
    removeDataDir(server.dataDir);
  }
  await Promise.all(relays.map((r) => r.stop()));
});

const start = async (port: number, dataDir?: string) => {
  const server = await startServer(
    { MAILROOM_ADMIN_PASSWORD: PASSWORD, SMTP_URL: `smtp://127.0.0.1:${port}`, MAILROOM_SMTP_CONNECTIONS: '5' },
    dataDir,
  );
  servers.push(server);
  return { server, api: await signIn(server.url, PASSWORD) };
};

type Row = { email: string; status: string; reply: string | null; attempts: number };
const rows = (api: Awaited<ReturnType<typeof start>>['api'], id: string, status: string) =>
  api<{ recipients: Row[] }>(`/api/deliveries/${id}/recipients?status=${status}&limit=500`).then((r) => r.recipients);

describe('relay trouble with a real Mailroom process', () => {
  it('hands nothing over while nobody listens at SMTP_URL, loses nothing to a SIGKILL, and delivers everyone once to a relay started there later', async () => {
    const port = await freePort();
    let { server, api } = await start(port);
    const all = await prepareAndSend(api, 'outage', 'Gent');
    expect(all.length).toBeGreaterThan(500);
    // The first window was tried and came back unsent: no row waits in `sending` for a connection that cannot be had.
    await eventually(async () => {
      const pending = await rows(api, 'outage', 'pending');
      return pending.some((r) => r.reply?.includes('ECONNREFUSED')) && pending.every((r) => r.status === 'queued' && r.attempts === 0);
    }, 60_000);
    expect(server.output()).toContain(`The relay at 127.0.0.1:${port} refuses connections`);

    await server.kill();
    ({ server, api } = await start(port, server.dataDir));
    expect(server.output()).not.toMatch(/outcome is unknown/);
    expect(await api<SendKpis>('/api/deliveries/outage')).toMatchObject({
      status: 'sending',
      delivered: 0,
      unknown: 0,
      remaining: all.length,
    });
    await eventually(() => server.output().includes(`The relay at 127.0.0.1:${port} refuses connections`), 60_000);

    const relay = await startFaultRelay({ port });
    relays.push(relay);
    await eventually(async () => (await api<SendKpis>('/api/deliveries/outage')).status === 'completed', 120_000);
    expect(server.output()).toMatch(/the relay answers again; sending resumes/);
    expect(all.filter((r) => relay.received.get(r.email) !== 1)).toEqual([]);
    expect(relay.received.size).toBe(all.length);
    expect(await api<SendKpis>('/api/deliveries/outage')).toMatchObject({ delivered: all.length, unknown: 0, remaining: 0, failed: 0 });
  }, 300_000);

  it('ends on SIGTERM while the relay holds messages unanswered; after a restart exactly those are unknown and everyone else is delivered once', async () => {
    const relay = await startFaultRelay({ hang: () => true });
    relays.push(relay);
    let { server, api } = await start(relay.port);
    const all = await prepareAndSend(api, 'hung', 'Utrecht');
    // Each of the five connections holds one message; five more wait in the pool for a connection.
    await eventually(() => relay.held.length === 5, 60_000);

    await server.stop();
    // It stopped waiting for the relay (rather than for the socket timeout, after which they would be retried).
    expect(server.output()).toMatch(/SIGTERM: /);
    expect(server.output()).toMatch(/5 messages were still unanswered by the relay after 10 s; they are left as they are/);
    const held = [...relay.held];

    relay.hang(null); // the relay answers from now on
    ({ server, api } = await start(relay.port, server.dataDir));
    expect(server.output()).toMatch(/5 messages were in flight when the server stopped; their outcome is unknown/);
    await eventually(async () => (await api<SendKpis>('/api/deliveries/hung')).status === 'paused', 120_000);
    // Nothing wrongly unknown: the rows waiting for a connection went back to the queue and were sent.
    expect((await rows(api, 'hung', 'unknown')).map((r) => r.email).sort()).toEqual(held.sort());
    expect(await api<SendKpis>('/api/deliveries/hung')).toMatchObject({ delivered: all.length - 5, unknown: 5, remaining: 0 });
    const others = all.filter((r) => !held.includes(r.email));
    expect(others.filter((r) => relay.received.get(r.email) !== 1)).toEqual([]);
    expect(relay.received.size).toBe(others.length);
  }, 300_000);
});
