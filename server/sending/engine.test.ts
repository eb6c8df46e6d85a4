import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createKit, eventually, handOver, newProfile, recordingMessenger, SAMPLE_DELIVERY, type Kit } from '../test-kit';
import type { OutgoingMessage } from './compose';
import type { Messenger, SmtpOutcome, UnsentOutcome } from './messenger';

const kits: Kit[] = [];
afterEach(async () => {
  await Promise.all(kits.splice(0).map((k) => k.close()));
});

async function setup(
  reply?: (m: OutgoingMessage, n: number) => SmtpOutcome | void | Promise<SmtpOutcome | void>,
  engine = {},
  profiles = 100,
) {
  const recorder = recordingMessenger(reply);
  const kit = await createKit({ messenger: recorder.messenger, engine: { batchSize: 10, concurrency: 4, ...engine } });
  kits.push(kit);
  await kit.services.audience.upsertMany(
    Array.from({ length: profiles }, () => newProfile()),
    'test',
    new Date(),
  );
  return { kit, sent: recorder.sent };
}

const REFUSED: UnsentOutcome = {
  kind: 'unsent',
  reply: 'ESOCKET connect ECONNREFUSED 10.0.0.1:587',
  relay: 'The relay at relay.example.com:587 refuses connections',
};

/** A messenger whose relay is down until `up` is set: messages and probes come back `unsent`. */
function relayDownMessenger() {
  const state = { up: false, probes: 0 };
  const recorder = recordingMessenger(() => (state.up ? undefined : REFUSED));
  const messenger: Messenger = {
    ...recorder.messenger,
    async probe() {
      state.probes++;
      return state.up ? null : REFUSED;
    },
  };
  return { messenger, sent: recorder.sent, state };
}

const kpis = async (kit: Kit, id: string) => (await kit.request(`/api/deliveries/${id}`)).json();
const send = async (kit: Kit, id: string, contentHash: string, scheduledAt: string | null = null) =>
  (await kit.request(`/api/deliveries/${id}/send`, { json: { contentHash, scheduledAt } })).json();
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const statuses = async (kit: Kit) =>
  Object.fromEntries(
    (await kit.sql<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM journal GROUP BY status')).map((r) => [r.status, r.n]),
  );

describe('the send engine', () => {
  it('sends every recipient once and completes', async () => {
    const { kit, sent } = await setup();
    const { contentHash } = await handOver(kit, 'a', SAMPLE_DELIVERY);
    await send(kit, 'a', contentHash);
    await eventually(async () => (await kpis(kit, 'a')).status === 'completed');
    expect(new Set(sent.map((m) => m.to)).size).toBe(100);
    expect(sent).toHaveLength(100);
    expect(await kpis(kit, 'a')).toMatchObject({ delivered: 100, remaining: 0, failed: 0 });
  });

  it('pauses mid-batch: nothing new starts, messages in flight finish, resume sends the rest exactly once', async () => {
    let startedAtPause = -1;
    const { kit, sent } = await setup(async (_, n) => {
      if (n === 25) {
        await kit.request('/api/deliveries/p/pause', { method: 'POST' });
        startedAtPause = sent.length;
      }
      // Once paused, a message takes longer than the engine's status interval (10 ms), so a
      // connection that finishes one has read the new status before it could start another.
      await sleep(startedAtPause < 0 ? 2 : 30);
    });
    const { contentHash } = await handOver(kit, 'p', SAMPLE_DELIVERY);
    await send(kit, 'p', contentHash);
    await eventually(async () => (await kpis(kit, 'p')).status === 'paused');
    await kit.services.engine.idle('p');
    const whilePaused = sent.length;
    // Each of the 4 connections starts at most one message after the pause is recorded (its
    // status read may be from just before), and every message started is finished.
    expect(whilePaused).toBeGreaterThanOrEqual(startedAtPause);
    expect(whilePaused).toBeLessThanOrEqual(startedAtPause + 4);
    expect(whilePaused).toBeLessThan(100);
    await sleep(100);
    expect(sent.length).toBe(whilePaused);
    expect(await statuses(kit)).toMatchObject({ sent: whilePaused, queued: 100 - whilePaused });

    await kit.request('/api/deliveries/p/resume', { method: 'POST' });
    await eventually(async () => (await kpis(kit, 'p')).status === 'completed');
    expect(sent).toHaveLength(100);
    expect(new Set(sent.map((m) => m.to)).size).toBe(100);
  });

  it('stops for good: what remains is cancelled', async () => {
    const { kit, sent } = await setup(async (_, n) => {
      if (n === 30) await kit.request('/api/deliveries/s/stop', { method: 'POST' });
    });
    const { contentHash } = await handOver(kit, 's', SAMPLE_DELIVERY);
    await send(kit, 's', contentHash);
    await eventually(async () => (await kpis(kit, 's')).status === 'stopped');
    await kit.services.engine.idle('s');
    const figures = await kpis(kit, 's');
    expect(figures.delivered).toBe(sent.length);
    expect(figures.delivered + figures.cancelled).toBe(100);
    expect(figures.remaining).toBe(0);
    expect((await kit.request('/api/deliveries/s/resume', { method: 'POST' })).status).toBe(409);
  });

  it('retries a 4xx reply with backoff, then delivers on 2xx', async () => {
    let clock = Date.now();
    const tries = new Map<string, number>();
    const { kit, sent } = await setup(
      (m) => {
        const n = (tries.get(m.to) ?? 0) + 1;
        tries.set(m.to, n);
        if (n === 1 && m.to.startsWith('person')) return { kind: 'retry', reply: '451 4.7.1 Try again later' };
      },
      { now: () => new Date(clock) },
      20,
    );
    const { contentHash } = await handOver(kit, 'r', SAMPLE_DELIVERY);
    await send(kit, 'r', contentHash);
    await eventually(async () => (await statuses(kit)).retrying === 20);
    expect((await kpis(kit, 'r')).status).toBe('sending');
    clock += 31_000; // past the first backoff
    await eventually(async () => (await kpis(kit, 'r')).status === 'completed');
    expect(sent).toHaveLength(40);
    expect(await statuses(kit)).toEqual({ sent: 20 });
  });

  it('fails a 5xx reply and quarantines a hard bounce (5.1.x), with the reply kept', async () => {
    const { kit } = await setup(
      (_, n) => {
        if (n === 3) return { kind: 'failed', reply: '554 5.7.1 Message rejected as spam' };
        if (n === 5) return { kind: 'bounced', reply: '550 5.1.1 User unknown' };
      },
      { concurrency: 1 },
      10,
    );
    const { contentHash } = await handOver(kit, 'f', SAMPLE_DELIVERY);
    await send(kit, 'f', contentHash);
    await eventually(async () => (await kpis(kit, 'f')).status === 'completed');
    expect(await kpis(kit, 'f')).toMatchObject({ delivered: 8, failed: 2 });
    const replies = await kit.sql("SELECT status, smtp_reply FROM journal WHERE status <> 'sent' ORDER BY id");
    expect(replies).toEqual([
      { status: 'failed', smtp_reply: '554 5.7.1 Message rejected as spam' },
      { status: 'bounced', smtp_reply: '550 5.1.1 User unknown' },
    ]);
    // The hard bounce quarantines its address, with the reply; a delivered message is a recent send.
    const [bounced] = await kit.sql<{ email: string; id: number }>("SELECT email, profile_id AS id FROM journal WHERE status = 'bounced'");
    expect((await kit.services.audience.findByEmail(bounced.email))?.quarantined).toBe(true);
    expect((await kit.services.audience.suppression(bounced.email)).quarantine).toMatchObject({
      reason: 'hard-bounce',
      smtpReply: '550 5.1.1 User unknown',
      deliveryId: 'f',
    });
    const delivered = await kit.value("SELECT profile_id FROM journal WHERE status = 'sent' LIMIT 1");
    expect((await kit.services.audience.recentSends(delivered, 5)).map((s) => s.deliveryId)).toEqual(['f']);
  });

  it('pauses a delivery that keeps failing (error budget) and says why', async () => {
    const { kit, sent } = await setup(() => ({ kind: 'failed', reply: '550 5.7.1 Relay access denied' }), { errorBudget: 15 });
    const { contentHash } = await handOver(kit, 'e', SAMPLE_DELIVERY);
    await send(kit, 'e', contentHash);
    await eventually(async () => (await kpis(kit, 'e')).status === 'paused');
    expect(sent.length).toBeLessThan(30);
    expect((await kit.services.deliveries.get('e'))!.statusReason).toMatch(
      /^Paused by the error budget: \d+ messages in a row were not accepted \(last reply: 550 5\.7\.1 Relay access denied\)/,
    );
  });

  it('claims nothing while the relay cannot be reached: those rows go back to the queue without an attempt, and sending resumes when it answers', async () => {
    const relay = relayDownMessenger();
    const kit = await createKit({ messenger: relay.messenger, engine: { batchSize: 10, concurrency: 4 } });
    kits.push(kit);
    await kit.services.audience.upsertMany(
      Array.from({ length: 30 }, () => newProfile()),
      'test',
      new Date(),
    );
    const { contentHash } = await handOver(kit, 'u', SAMPLE_DELIVERY);
    await send(kit, 'u', contentHash);
    await eventually(() => relay.state.probes >= 2, 10_000);
    // Only the first window tried; the probes, not rows, find out whether the relay is back.
    expect(relay.sent.length).toBeLessThanOrEqual(10);
    expect(await statuses(kit)).toEqual({ queued: 30 });
    expect(await kit.value('SELECT SUM(attempts) FROM journal')).toBe(0);
    expect(await kit.sql('SELECT DISTINCT smtp_reply FROM journal WHERE smtp_reply IS NOT NULL')).toEqual([{ smtp_reply: REFUSED.reply }]);

    const tried = relay.sent.length;
    relay.state.up = true;
    await eventually(async () => (await kpis(kit, 'u')).status === 'completed', 10_000);
    expect(await kpis(kit, 'u')).toMatchObject({ delivered: 30, unknown: 0 });
    const delivered = relay.sent.slice(tried).map((m) => m.to);
    expect(delivered).toHaveLength(30);
    expect(new Set(delivered).size).toBe(30);
  }, 20_000);

  it('pauses a delivery whose relay stays unreachable past its patience, saying since when and how many attempts', async () => {
    let clock = Date.now();
    const relay = relayDownMessenger();
    const kit = await createKit({
      messenger: relay.messenger,
      engine: { batchSize: 10, concurrency: 4, errorBudget: 1_000, relayPatienceMs: 60_000, now: () => new Date(clock) },
    });
    kits.push(kit);
    await kit.services.audience.upsertMany(
      Array.from({ length: 30 }, () => newProfile()),
      'test',
      new Date(),
    );
    const { contentHash } = await handOver(kit, 'w', SAMPLE_DELIVERY);
    await send(kit, 'w', contentHash);
    await eventually(() => relay.state.probes >= 1, 10_000);
    expect((await kpis(kit, 'w')).status).toBe('sending');
    clock += 61_000;
    await eventually(async () => (await kpis(kit, 'w')).status === 'paused', 10_000);
    const attempts = relay.sent.length + relay.state.probes;
    expect((await kit.services.deliveries.get('w'))!.statusReason).toBe(
      `The relay at relay.example.com:587 refuses connections since ${new Date(clock - 61_000).toTimeString().slice(0, 5)}; paused after ${attempts} attempts (last error: ${REFUSED.reply}). Check the relay, then resume.`,
    );
    expect(await statuses(kit)).toEqual({ queued: 30 });
  }, 20_000);

  it('writes the answers that have come while another message is still unanswered', async () => {
    let answer: (outcome: SmtpOutcome) => void = () => {};
    const { kit } = await setup(
      (_, n) => (n === 1 ? new Promise<SmtpOutcome>((resolve) => (answer = resolve)) : undefined),
      { concurrency: 4, batchSize: 4 },
      4,
    );
    const { contentHash } = await handOver(kit, 'h', SAMPLE_DELIVERY);
    await send(kit, 'h', contentHash);
    await eventually(async () => (await statuses(kit)).sent === 3);
    expect(await statuses(kit)).toEqual({ sent: 3, sending: 1 });
    answer({ kind: 'sent', reply: '250 at last' });
    await eventually(async () => (await kpis(kit, 'h')).status === 'completed');
  });

  it('runs two deliveries at once, sharing the pool', async () => {
    const { kit, sent } = await setup(() => sleep(1) as Promise<void>, { concurrency: 2, batchSize: 5 });
    const one = await handOver(kit, 'one', SAMPLE_DELIVERY);
    const two = await handOver(kit, 'two', { ...SAMPLE_DELIVERY, subject: 'Second' });
    await send(kit, 'one', one.contentHash);
    await send(kit, 'two', two.contentHash);
    await eventually(async () => (await kpis(kit, 'one')).status === 'completed' && (await kpis(kit, 'two')).status === 'completed');
    expect(sent).toHaveLength(200);
    const firstHalf = sent.slice(0, 100).map((m) => m.subject);
    expect(firstHalf.filter((s) => s === 'Second').length).toBeGreaterThan(20);
  });

  it('starts a delivery scheduled in the past at once, and one in the future when its time comes', async () => {
    let clock = Date.now();
    const { kit } = await setup(undefined, { now: () => new Date(clock) }, 10);
    const past = await handOver(kit, 'past', SAMPLE_DELIVERY);
    const future = await handOver(kit, 'future', SAMPLE_DELIVERY);
    await send(kit, 'past', past.contentHash, new Date(clock - 60_000).toISOString());
    await send(kit, 'future', future.contentHash, new Date(clock + 3_600_000).toISOString());
    await eventually(async () => (await kpis(kit, 'past')).status === 'completed');
    await sleep(100);
    expect(await kpis(kit, 'future')).toMatchObject({ status: 'scheduled', delivered: 0 });
    clock += 3_601_000;
    await eventually(async () => (await kpis(kit, 'future')).status === 'completed');
  });

  it('does not mail a profile unsubscribed, denylisted, quarantined or deleted after preparation', async () => {
    const { kit, sent } = await setup(undefined, {}, 10);
    const { contentHash, recipients } = await handOver(kit, 'late', SAMPLE_DELIVERY);
    const now = new Date();
    const { audience } = kit.services;
    await audience.unsubscribe(recipients[3].profileId, 'test', now);
    await audience.denylist(recipients[4].email, 'asked not to be contacted', 'test', now);
    await audience.quarantine(recipients[5].email, 'hard-bounce', '550 5.1.1 unknown', null, now);
    await audience.delete(recipients[6].profileId);
    await send(kit, 'late', contentHash);
    await eventually(async () => (await kpis(kit, 'late')).status === 'completed');
    const mailed = sent.map((m) => m.to);
    for (const r of recipients.slice(3, 7)) expect(mailed).not.toContain(r.email);
    expect(await kpis(kit, 'late')).toMatchObject({ delivered: 6, excludedAtSend: 4 });
    const reply = async (r: (typeof recipients)[number]) =>
      (await kit.sql('SELECT status, smtp_reply FROM journal WHERE profile_id = ?', [r.profileId]))[0];
    expect(await reply(recipients[3])).toEqual({ status: 'excluded', smtp_reply: 'suppressed after preparation (unsubscribed)' });
    expect(await reply(recipients[4])).toEqual({ status: 'excluded', smtp_reply: 'suppressed after preparation (denylisted)' });
    expect(await reply(recipients[5])).toEqual({ status: 'excluded', smtp_reply: 'suppressed after preparation (quarantined)' });
    expect(await reply(recipients[6])).toEqual({ status: 'excluded', smtp_reply: 'suppressed after preparation (deleted)' });
  });

  it('starts a scheduled delivery after a restart, when its time comes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-restart-'));
    try {
      const file = join(dir, 'mailroom.db');
      let clock = Date.now();
      const first = await createKit({ file, engine: { now: () => new Date(clock) } });
      await first.services.audience.upsertMany(
        Array.from({ length: 12 }, () => newProfile()),
        'test',
        new Date(),
      );
      const { contentHash } = await handOver(first, 's', SAMPLE_DELIVERY);
      await send(first, 's', contentHash, new Date(clock + 3_600_000).toISOString());
      await first.close(); // stopped while it waits

      clock += 3_601_000;
      const recorder = recordingMessenger();
      const second = await createKit({ file, messenger: recorder.messenger, engine: { now: () => new Date(clock) } });
      kits.push(second);
      await eventually(async () => (await kpis(second, 's')).status === 'completed');
      expect(await kpis(second, 's')).toMatchObject({ delivered: 12, remaining: 0 });
      expect(recorder.sent).toHaveLength(12);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('after a crash, holds messages that were in flight as unknown until the operator decides', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-crash-'));
    try {
      const file = join(dir, 'mailroom.db');
      // The first process claimed a batch, as the engine does, and died with it in flight.
      const first = await createKit({ file, engine: { tickMs: 3_600_000 } });
      await first.services.audience.upsertMany(
        Array.from({ length: 30 }, () => newProfile()),
        'test',
        new Date(),
      );
      await handOver(first, 'c', SAMPLE_DELIVERY);
      await first.services.deliveries.transition('c', 'sending', new Date());
      expect((await first.services.journal.claim('c', 0, 10, new Date())).entries).toHaveLength(10);
      await first.close();

      const recorder = recordingMessenger();
      const second = await createKit({ file, messenger: recorder.messenger, engine: { batchSize: 10 } });
      kits.push(second);
      await eventually(async () => (await kpis(second, 'c')).status === 'paused');
      expect(await kpis(second, 'c')).toMatchObject({ delivered: 20, unknown: 10, remaining: 0 });
      expect((await second.services.deliveries.get('c'))!.statusReason).toBe(
        '10 messages were in flight when the server stopped; choose whether to resend them.',
      );
      await second.request('/api/deliveries/c/unknown', { json: { resend: true } });
      await eventually(async () => (await kpis(second, 'c')).status === 'completed');
      expect(await kpis(second, 'c')).toMatchObject({ delivered: 30, unknown: 0 });
      expect(new Set(recorder.sent.map((m) => m.to)).size).toBe(30);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('writes the outcomes that have come with the next claim, in one step of the journal', async () => {
    const kit = await createKit({ engine: { tickMs: 3_600_000 } });
    kits.push(kit);
    await kit.services.audience.upsertMany(
      Array.from({ length: 30 }, () => newProfile()),
      'test',
      new Date(),
    );
    await handOver(kit, 'c', SAMPLE_DELIVERY);
    await kit.services.deliveries.transition('c', 'sending', new Date());
    const first = await kit.services.journal.claim('c', 0, 10, new Date());
    const answered = first.entries.map((e) => ({ id: e.id, outcome: { kind: 'sent' as const, reply: `250 2.0.0 ${e.id} accepted` } }));
    const second = await kit.services.journal.claim('c', first.lastId, 10, new Date(), answered);
    expect(second.entries.map((e) => e.id)).toEqual(first.entries.map((e) => e.id + 10));
    const statuses = await kit.sql<{ status: string; n: number }>(
      "SELECT status, COUNT(*) AS n FROM journal WHERE delivery_id = 'c' GROUP BY status ORDER BY status",
    );
    expect(statuses.map((r) => [r.status, Number(r.n)])).toEqual([
      ['queued', 10],
      ['sending', 10],
      ['sent', 10],
    ]);
    expect(await kit.sql<{ smtp_reply: string }>("SELECT smtp_reply FROM journal WHERE status = 'sent' ORDER BY id LIMIT 1")).toEqual([
      { smtp_reply: `250 2.0.0 ${first.entries[0].id} accepted` },
    ]);
    expect(await kpis(kit, 'c')).toMatchObject({ delivered: 10 });
  });
});
