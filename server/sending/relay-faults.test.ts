/**
 * Relays that fail, over real TCP: nobody listening, a relay that comes up later or
 * restarts mid-send, one that accepts connections and never greets, one that refuses the
 * login, one that holds a message unanswered after DATA. First the pool itself
 * (createPooledMessenger), then the engine sending through the SMTP thread as production
 * does (createThreadedMessenger), the journal in SQLite, judged by the relay's own count.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startBlackHole, startFaultRelay, type BlackHole, type FaultRelay } from '../../test/support/relay';
import type { EngineOptions } from './engine';
import { createKit, eventually, handOver, newProfile, SAMPLE_DELIVERY, type Kit } from '../test-kit';
import type { OutgoingMessage } from './compose';
import type { RelayTimeouts } from './messenger';
import { createPooledMessenger } from './smtp-pool';
import { createThreadedMessenger } from './threaded-messenger';

const relays: (FaultRelay | BlackHole)[] = [];
const kits: Kit[] = [];
afterEach(async () => {
  await Promise.all(kits.splice(0).map((k) => k.close()));
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});
const relay = async (options: Parameters<typeof startFaultRelay>[0] = {}) => {
  const started = await startFaultRelay(options);
  relays.push(started);
  return started;
};
const blackHole = async (port?: number) => {
  const started = await startBlackHole(port);
  relays.push(started);
  return started;
};

const message = (to: string): OutgoingMessage => ({
  from: { name: 'Shop', address: 'news@shop.example.com' },
  to,
  subject: 'Hello',
  html: '<p>Hello</p>',
  text: 'Hello',
  messageId: `<${to}.test@shop.example.com>`,
  headers: {},
});
const sixMessages = () => Array.from({ length: 6 }, (_, i) => message(`reader${i}@example.com`));

describe('the pool, when no connection can be opened', { timeout: 20_000 }, () => {
  it('answers every message waiting for a connection when the relay refuses connections, without an attempt', async () => {
    const port = await freePort();
    const pool = createPooledMessenger({ url: `smtp://127.0.0.1:${port}`, maxConnections: 2, maxMessagesPerConnection: 10 });
    // Six messages over two connections: four wait for one, and must not wait for good.
    const outcomes = await Promise.all(sixMessages().map((m) => pool.send(m)));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(6).fill('unsent'));
    expect(outcomes[5]).toMatchObject({ relay: `The relay at 127.0.0.1:${port} refuses connections`, reply: /ECONNREFUSED/ });
    expect(await pool.probe!()).toMatchObject({ kind: 'unsent', relay: `The relay at 127.0.0.1:${port} refuses connections` });
    await pool.close();
  });

  it('answers them too when the relay refuses the login, and tells a refused login from a refused connection', async () => {
    const { port } = await relay({ login: { user: 'mailroom', pass: 's3cret' } });
    const pool = createPooledMessenger({ url: `smtp://mailroom:wrong@127.0.0.1:${port}`, maxConnections: 2, maxMessagesPerConnection: 10 });
    const outcomes = await Promise.all(sixMessages().map((m) => pool.send(m)));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(6).fill('unsent'));
    expect(outcomes[5]).toMatchObject({ relay: `The relay at 127.0.0.1:${port} refuses the login`, reply: /535 5\.7\.8/ });
    await pool.close();
  });

  it('answers them when a relay accepts connections and never greets, once the greeting is overdue', async () => {
    const hole = await blackHole();
    const pool = createPooledMessenger({
      url: `smtp://127.0.0.1:${hole.port}`,
      maxConnections: 2,
      maxMessagesPerConnection: 10,
      timeouts: { greetingMs: 200 },
    });
    const outcomes = await Promise.all(sixMessages().map((m) => pool.send(m)));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(6).fill('unsent'));
    expect(outcomes[5]).toMatchObject({ relay: `The relay at 127.0.0.1:${hole.port} does not answer`, reply: /ETIMEDOUT/ });
    await pool.close();
  });

  it('on close, gives back at once what waits for a connection; a message in conversation finishes', async () => {
    const hole = await blackHole();
    const waiting = createPooledMessenger({
      url: `smtp://127.0.0.1:${hole.port}`,
      maxConnections: 2,
      maxMessagesPerConnection: 10,
      timeouts: { connectionMs: 60_000, greetingMs: 60_000 },
    });
    const connecting = sixMessages().map((m) => waiting.send(m));
    await eventually(() => hole.connections() === 2);
    await waiting.close();
    // The two connecting and the four waiting for them come back because of the close, not of a timeout.
    const closed = `The connection pool for the relay at 127.0.0.1:${hole.port} was closed`;
    expect(await Promise.all(connecting)).toEqual(Array(6).fill(expect.objectContaining({ kind: 'unsent', relay: closed })));
    expect(await waiting.send(message('late@example.com'))).toMatchObject({ kind: 'unsent', relay: closed });

    const slow = await relay({ replyDelayMs: 100 });
    const talking = createPooledMessenger({ url: `smtp://127.0.0.1:${slow.port}`, maxConnections: 1, maxMessagesPerConnection: 10 });
    const first = talking.send(message('first@example.com'));
    const second = talking.send(message('second@example.com'));
    // Closed once the first message is in conversation (its DATA begun), not merely connecting.
    await eventually(() => slow.arriving() === 1);
    await talking.close();
    expect((await first).kind).toBe('sent');
    expect((await second).kind).toBe('unsent');
    expect([...slow.received.keys()]).toEqual(['first@example.com']);
  });
});

const SHORT: Partial<RelayTimeouts> = { connectionMs: 2_000, greetingMs: 300, socketMs: 5_000 };

/** Sends a delivery of `recipients` through the SMTP thread to `url`; returns the kit, the engine's log, the addresses and the journal's figures. */
async function sendThrough(
  url: string,
  options: {
    recipients?: number;
    connections?: number;
    timeouts?: Partial<RelayTimeouts>;
    engine?: Partial<EngineOptions>;
    beforeSend?: (kit: Kit) => Promise<unknown>;
  } = {},
) {
  const connections = options.connections ?? 3;
  const log: string[] = [];
  const messenger = createThreadedMessenger({
    url,
    maxConnections: connections,
    maxMessagesPerConnection: 100,
    timeouts: { ...SHORT, ...options.timeouts },
  });
  const kit = await createKit({
    messenger,
    engine: { concurrency: connections * 2, batchSize: connections * 2, log: (line) => log.push(line), ...options.engine },
  });
  kits.push(kit);
  await kit.services.audience.upsertMany(
    Array.from({ length: options.recipients ?? 30 }, () => newProfile()),
    'test',
    new Date(),
  );
  const { contentHash, recipients } = await handOver(kit, 'd', SAMPLE_DELIVERY);
  await options.beforeSend?.(kit);
  await kit.request('/api/deliveries/d/send', { json: { contentHash, scheduledAt: null } });
  const journal = async () => {
    const rows = await kit.sql<{ status: string; n: number; attempts: number }>(
      'SELECT status, COUNT(*) AS n, SUM(attempts) AS attempts FROM journal GROUP BY status',
    );
    return {
      statuses: Object.fromEntries(rows.map((r) => [r.status, r.n])),
      attempts: rows.reduce((sum, r) => sum + r.attempts, 0),
    };
  };
  const status = async () => (await kit.services.deliveries.get('d'))!.status;
  const emails = recipients.map((r) => r.email);
  return { kit, log, emails, journal, status };
}

/** True when the relay accepted every address exactly once, and nothing else. */
const exactlyOnce = (relay: FaultRelay, emails: string[]) =>
  relay.received.size === emails.length && emails.every((e) => relay.received.get(e) === 1);

describe('sending through the SMTP thread when the relay fails', { timeout: 30_000 }, () => {
  it('waits for a relay that is down at the start, and carries on by itself when it comes up: everyone once, nothing unknown', async () => {
    const port = await freePort();
    const { log, emails, journal, status } = await sendThrough(`smtp://127.0.0.1:${port}`);
    await eventually(() => log.some((l) => l.includes(`The relay at 127.0.0.1:${port} refuses connections`)));
    // Nothing claimed sits in `sending`, and no attempt was spent.
    await eventually(async () => (await journal()).statuses.sending === undefined);
    expect(await journal()).toEqual({ statuses: { queued: 30 }, attempts: 0 });
    expect(await status()).toBe('sending');

    const up = await relay({ port });
    await eventually(async () => (await status()) === 'completed');
    expect(exactlyOnce(up, emails)).toBe(true);
    expect(await journal()).toEqual({ statuses: { sent: 30 }, attempts: 30 });
    expect(log).toContain('delivery d: the relay answers again; sending resumes.');
  });

  it('pauses a delivery whose relay stays down (error budget) and says why; Resume once it is back delivers everyone', async () => {
    const port = await freePort();
    const { kit, emails, journal, status } = await sendThrough(`smtp://127.0.0.1:${port}`, { engine: { errorBudget: 8 } });
    await eventually(async () => (await status()) === 'paused');
    expect((await kit.services.deliveries.get('d'))!.statusReason).toMatch(
      new RegExp(
        `^The relay at 127\\.0\\.0\\.1:${port} refuses connections since \\d\\d:\\d\\d; paused after 8 attempts \\(last error: .*ECONNREFUSED.*\\)\\. Check the relay, then resume\\.$`,
      ),
    );
    expect(await journal()).toEqual({ statuses: { queued: 30 }, attempts: 0 });

    const up = await relay({ port });
    await kit.request('/api/deliveries/d/resume', { method: 'POST' });
    await eventually(async () => (await status()) === 'completed');
    expect(exactlyOnce(up, emails)).toBe(true);
    expect((await journal()).statuses).toEqual({ sent: 30 });
  });

  it('pauses on a refused login with the reason; new settings with the right password and Resume deliver everyone', async () => {
    const up = await relay({ login: { user: 'mailroom', pass: 's3cret' } });
    const { kit, emails, journal, status } = await sendThrough(`smtp://mailroom:wrong@127.0.0.1:${up.port}`, {
      engine: { errorBudget: 8 },
    });
    await eventually(async () => (await status()) === 'paused');
    expect((await kit.services.deliveries.get('d'))!.statusReason).toMatch(
      new RegExp(
        `^The relay at 127\\.0\\.0\\.1:${up.port} refuses the login since \\d\\d:\\d\\d; paused after 8 attempts \\(last error: 535 5\\.7\\.8`,
      ),
    );
    expect(await journal()).toEqual({ statuses: { queued: 30 }, attempts: 0 });

    const settings = { connections: 3, messagesPerConnection: 100, ratePerSecond: 0, dkim: null };
    const put = await kit.request('/api/settings', {
      method: 'PUT',
      json: { relayUrl: `smtp://mailroom:s3cret@127.0.0.1:${up.port}`, ...settings },
    });
    expect(put.status).toBe(200);
    await kit.request('/api/deliveries/d/resume', { method: 'POST' });
    await eventually(async () => (await status()) === 'completed');
    expect(exactlyOnce(up, emails)).toBe(true);
  });

  it('waits out a relay that accepts connections and never greets, and carries on when a real one answers there', async () => {
    const hole = await blackHole();
    const { log, emails, journal, status } = await sendThrough(`smtp://127.0.0.1:${hole.port}`);
    await eventually(() => log.some((l) => l.includes(`The relay at 127.0.0.1:${hole.port} does not answer`)));
    await eventually(async () => (await journal()).statuses.sending === undefined);
    expect(await journal()).toEqual({ statuses: { queued: 30 }, attempts: 0 });

    await hole.stop();
    relays.splice(relays.indexOf(hole), 1);
    const up = await relay({ port: hole.port });
    await eventually(async () => (await status()) === 'completed');
    expect(exactlyOnce(up, emails)).toBe(true);
    expect((await journal()).statuses).toEqual({ sent: 30 });
  });

  it('survives a relay restarting in the middle of a send: nobody missing, a message twice only if it was retried', async () => {
    let clock = Date.now();
    const first = await relay({ replyDelayMs: 5 });
    const { kit, log, emails, status } = await sendThrough(`smtp://127.0.0.1:${first.port}`, {
      recipients: 60,
      engine: { now: () => new Date(clock) },
    });
    await eventually(() => first.received.size >= 15);
    await first.stop();
    relays.splice(relays.indexOf(first), 1);
    await eventually(() => log.some((l) => l.includes(`The relay at 127.0.0.1:${first.port} refuses connections`)));
    const second = await relay({ port: first.port });
    await eventually(() => log.includes('delivery d: the relay answers again; sending resumes.'));
    clock += 31_000; // past the backoff of messages cut off in conversation
    await eventually(async () => (await status()) === 'completed', 10_000);

    const count = (e: string) => (first.received.get(e) ?? 0) + (second.received.get(e) ?? 0);
    expect(emails.filter((e) => count(e) === 0)).toEqual([]);
    const retried = new Set((await kit.sql<{ email: string }>('SELECT email FROM journal WHERE attempts > 1')).map((r) => r.email));
    expect(emails.filter((e) => count(e) > 1 && !retried.has(e))).toEqual([]);
    expect(await kit.value("SELECT COUNT(*) FROM journal WHERE status <> 'sent'")).toBe(0);
  });

  it('moves to new settings mid-send without an alarm: conversations under way finish on the old pool, the rest go through the new one, everyone once', async () => {
    const before = await relay({ replyDelayMs: 20 });
    const after = await relay();
    const { kit, log, emails, journal, status } = await sendThrough(`smtp://127.0.0.1:${before.port}`, { recipients: 60 });
    await eventually(() => before.received.size >= 10);
    const put = await kit.request('/api/settings', {
      method: 'PUT',
      json: { relayUrl: `smtp://127.0.0.1:${after.port}`, connections: 3, messagesPerConnection: 100, ratePerSecond: 0, dkim: null },
    });
    expect(put.status).toBe(200);
    // (On a busy machine it takes seconds; a message retried would take 30 s more, and the journal says so.)
    await eventually(async () => (await status()) === 'completed', 15_000).catch(async () => {
      throw new Error(`the delivery did not complete: ${JSON.stringify(await journal())}`);
    });
    const count = (e: string) => (before.received.get(e) ?? 0) + (after.received.get(e) ?? 0);
    expect(emails.filter((e) => count(e) !== 1)).toEqual([]);
    expect(after.received.size).toBeGreaterThan(0);
    // Messages given back by the old pool are not the relay's fault: no "unreachable", no attempt spent.
    expect(log.filter((l) => l.includes('no message is claimed until it answers again'))).toEqual([]);
    expect(await journal()).toEqual({ statuses: { sent: 60 }, attempts: 60 });
    // The old pool let go of its connections at once, not a minute later.
    await eventually(() => before.open() === 0, 2_000);
  });

  it('writes the answers of other connections while one message hangs after DATA; the hung one is retried after the socket timeout', async () => {
    let clock = Date.now();
    // Four connections: the first holds its message, the other three answer together, in bursts.
    const up = await relay({ hang: (session) => session === 1, replyDelayMs: 30 });
    const { kit, emails, journal, status } = await sendThrough(`smtp://127.0.0.1:${up.port}`, {
      recipients: 13,
      connections: 4,
      timeouts: { socketMs: 1_500 },
      engine: { now: () => new Date(clock) },
    });
    // While the relay still holds one message, all twelve it answered are written.
    await eventually(async () => {
      const { statuses } = await journal();
      return up.held.length === 1 && up.received.size === 12 && statuses.sent === 12 && statuses.sending === 1;
    });
    const [hung] = up.held;
    // The socket timeout gives it up: it may have been accepted, so it is retried, an attempt counted.
    await eventually(async () => (await journal()).statuses.retrying === 1, 10_000);
    expect((await kit.sql('SELECT email, attempts, smtp_reply FROM journal WHERE status = ?', ['retrying']))[0]).toMatchObject({
      email: hung,
      attempts: 1,
      smtp_reply: expect.stringMatching(/^ETIMEDOUT/),
    });
    clock += 31_000;
    await eventually(async () => (await status()) === 'completed');
    // The relay had it twice: once held, once accepted.
    expect(up.received.get(hung)).toBe(1);
    expect(emails.every((e) => up.received.get(e) === 1)).toBe(true);
  });

  it('fails at once, with the reason, a recipient address the relay client refuses (EENVELOPE)', async () => {
    const up = await relay();
    const { kit, journal, status } = await sendThrough(`smtp://127.0.0.1:${up.port}`, {
      recipients: 5,
      // A row holding an address nodemailer will not put in RCPT TO (angle brackets), as no preparation lets through.
      beforeSend: (kit) => kit.sql("UPDATE journal SET email = 'anna<x>@example.com' WHERE id = (SELECT MIN(id) FROM journal)"),
    });
    await eventually(async () => (await status()) === 'completed');
    expect(await journal()).toEqual({ statuses: { sent: 4, failed: 1 }, attempts: 5 });
    expect(await kit.sql("SELECT email, smtp_reply FROM journal WHERE status = 'failed'")).toEqual([
      { email: 'anna<x>@example.com', smtp_reply: 'not sent: EENVELOPE Invalid recipient "anna<x>@example.com"' },
    ]);
    expect(up.received.size).toBe(4);
  });

  it('shuts down within its grace while the relay holds messages: those stay `sending` (unknown at the next start), the rest go back to the queue', async () => {
    const up = await relay({ hang: () => true });
    const { kit, journal } = await sendThrough(`smtp://127.0.0.1:${up.port}`, { recipients: 20, connections: 2 });
    // Two messages held by the relay, two more waiting in the pool for a connection.
    await eventually(async () => up.held.length === 2 && (await journal()).statuses.sending === 4);
    await kit.services.engine.shutdown(300);
    const inFlight = (await kit.sql<{ email: string }>("SELECT email FROM journal WHERE status = 'sending'")).map((r) => r.email);
    expect(inFlight.sort()).toEqual([...up.held].sort());
    expect(await journal()).toEqual({ statuses: { sending: 2, queued: 18 }, attempts: 0 });
  });
});
