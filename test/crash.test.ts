/**
 * A crash in the middle of a send: the Mailroom process is killed with SIGKILL while it
 * sends through a relay (an smtp-server in this test's process, answering slowly), then
 * started again on the same data directory. Sending resumes by itself; the messages that
 * were in flight are listed as "outcome unknown" and resent on the operator's word. The
 * relay's own count is the judge: no recipient is missing, and no more are duplicated than
 * were in flight. Once on SQLite (the data directory) and once on PostgreSQL (a server
 * started here; the restarted process is a new node, and the dead one's rows become unknown
 * once its heartbeat is missed).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import type { SendKpis } from '../shared/types';
import { eventually } from '../server/test-kit';
import { prepareAndSend, signIn } from './support/api';
import { startPostgres, type TestPostgres } from './support/postgres';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

const PASSWORD = 'crash-test-password';
const received = new Map<string, number>();
let relay: SMTPServer;
let relayPort = 0;
let server: ServerProcess | null = null;
let dataDir = '';
let postgres: TestPostgres | null = null;

beforeAll(async () => {
  relay = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      stream.on('data', () => {});
      stream.on('end', () => {
        for (const to of session.envelope.rcptTo) received.set(to.address, (received.get(to.address) ?? 0) + 1);
        // A relay taking its time: the send lasts long enough to be killed in the middle.
        setTimeout(() => callback(null, '250 2.0.0 queued'), 15);
      });
    },
  });
  // The server is killed mid-conversation: its connections reset, which the relay takes in its stride.
  relay.on('error', () => {});
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.server.address();
  relayPort = typeof address === 'object' && address ? address.port : 0;
});

afterAll(async () => {
  await server?.stop();
  if (dataDir) removeDataDir(dataDir);
  await postgres?.stop();
  await new Promise<void>((resolve) => relay.close(() => resolve()));
});

describe.each([
  ['SQLite', false],
  ['PostgreSQL', true],
])('a crash while sending (SIGKILL), on %s', (_, onPostgres) => {
  let databaseUrl = '';
  const start = async () => {
    server = await startServer(
      {
        MAILROOM_ADMIN_PASSWORD: PASSWORD,
        SMTP_URL: `smtp://127.0.0.1:${relayPort}`,
        MAILROOM_SMTP_CONNECTIONS: '5',
        ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      },
      dataDir || undefined,
    );
    dataDir = server.dataDir;
    return signIn(server.url, PASSWORD);
  };

  it('resumes by itself after a restart; nobody is missing, and duplicates are no more than were in flight', async () => {
    received.clear();
    if (server) await server.stop();
    if (dataDir) removeDataDir(dataDir);
    dataDir = '';
    if (onPostgres) {
      postgres ??= await startPostgres();
      databaseUrl = await postgres.createDatabase();
    }
    let api = await start();
    // Prepare the demo audience as the browser does, and hand it over over HTTP.
    const all = await prepareAndSend(api, 'crash', 'Gent, Utrecht');
    expect(all.length).toBeGreaterThan(1000);

    // Kill it once a third has gone out.
    await eventually(() => received.size >= all.length / 3, 60_000);
    await server!.kill();
    const atCrash = received.size;
    expect(atCrash).toBeLessThan(all.length);

    // Started again: sending resumes by itself, then holds the unknown ones for a decision.
    api = await start();
    await eventually(async () => {
      const kpis = await api<SendKpis>('/api/deliveries/crash');
      return kpis.status === 'paused' || kpis.status === 'completed';
    }, 120_000);
    const held = await api<SendKpis>('/api/deliveries/crash');
    // At most two windows (the window is twice the 5 connections): in flight, or answered but not yet written.
    expect(held.unknown).toBeLessThanOrEqual(20);
    expect(server!.output()).toMatch(held.unknown > 0 ? /outcome is unknown/ : /Mailroom is running/);
    if (held.status === 'paused') await api('/api/deliveries/crash/unknown', { json: { resend: true } });
    await eventually(async () => (await api<SendKpis>('/api/deliveries/crash')).status === 'completed', 60_000);

    const missing = all.filter((r) => !received.has(r.email));
    const duplicated = [...received.values()].filter((n) => n > 1).length;
    expect(missing).toEqual([]);
    expect(duplicated).toBeLessThanOrEqual(held.unknown);
    const final = await api<SendKpis>('/api/deliveries/crash');
    expect(final).toMatchObject({ delivered: all.length, remaining: 0, unknown: 0 });
  }, 240_000);
});
