/**
 * Bounces and complaints that arrive later, through the bounce port: a delivery is sent with
 * a signed return path per message, and reports written as Postfix and a feedback loop write
 * them are sent over SMTP to the port (nodemailer as the reporting MTA). The address is then
 * quarantined or denylisted and unsubscribed, on both engines; soft bounces count; a full
 * mailbox's quarantine ends by itself; a delivery with too many hard bounces pauses.
 */

import nodemailer from 'nodemailer';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { arfComplaint, postfixBounce, type OriginalMessage } from '../../test/support/reports';
import { LateOutcomes, BOUNCE_POLICY } from '../application/late-outcomes';
import type { OutgoingMessage } from '../sending/compose';
import { createKit, eventually, handOver, newProfile, recordingMessenger, SAMPLE_DELIVERY, type Kit } from '../test-kit';
import { startBounceReceiver, type BounceReceiver } from './receiver';
import { bounceAddress } from './verp';

let kit: Kit;
let sent: OutgoingMessage[];
let receiver: BounceReceiver;
let clock: Date;
/** Holds the relay's answers past the first `after` messages, until released. */
let hold: { after: number; released: Promise<void> } | null = null;
/** Addresses the relay refuses at once (550 5.1.1), before any report. */
const refuse = new Set<string>();

beforeEach(async () => {
  hold = null;
  refuse.clear();
  const recording = recordingMessenger(async (message, n) => {
    if (hold && n > hold.after) await hold.released;
    if (refuse.has(message.to)) return { kind: 'bounced', reply: '550 5.1.1 User unknown' };
  });
  sent = recording.sent;
  kit = await createKit({ messenger: recording.messenger, bounceDomain: 'bounces.example.com' });
  clock = new Date('2026-12-03T10:00:00.000Z');
  kit.services.now = () => clock;
  await kit.services.audience.upsertMany(
    Array.from({ length: 20 }, () => newProfile()),
    'test',
    new Date(),
  );
  receiver = await startBounceReceiver({
    port: 0,
    host: '127.0.0.1',
    handle: (raw, recipients) => kit.services.lateOutcomes.receive(raw, recipients),
  });
});
afterEach(async () => {
  await receiver.close();
  await kit.close();
});

/** Sends the sample delivery to every profile and resolves the messages as they went to the relay. */
async function sendDelivery(id = 'd1'): Promise<OutgoingMessage[]> {
  const { contentHash } = await handOver(kit, id, SAMPLE_DELIVERY);
  await kit.request(`/api/deliveries/${id}/send`, { json: { contentHash, scheduledAt: null } });
  await eventually(async () => (await (await kit.request(`/api/deliveries/${id}`)).json()).status === 'completed');
  return sent.filter((m) => m.headers['X-Mailroom-Delivery'] === id);
}

const originalOf = (message: OutgoingMessage): OriginalMessage => ({
  messageId: message.messageId,
  to: message.to,
  returnPath: message.returnPath!,
});

/** Sends a report over SMTP to the bounce port, as the recipient's MTA would, to `to`. */
async function report(raw: Buffer, to: string): Promise<void> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: receiver.port, secure: false, ignoreTLS: true });
  await transport.sendMail({ envelope: { from: '', to }, raw });
  transport.close();
}

const suppression = (email: string) => kit.services.audience.suppression(email);

describe('bounces and complaints reported later', () => {
  it('sends each message from its own signed return path on the bounce domain', async () => {
    const messages = await sendDelivery();
    expect(messages).toHaveLength(20);
    const rows = await kit.sql<{ id: number; email: string }>("SELECT id, email FROM journal WHERE delivery_id = 'd1'");
    for (const message of messages) {
      const row = rows.find((r) => r.email === message.to)!;
      expect(message.returnPath).toBe(bounceAddress(Number(row.id), 'bounces.example.com', 'test-secret'));
    }
    expect(new Set(messages.map((m) => m.returnPath)).size).toBe(20);
  });

  it('quarantines at once on a hard bounce, with the reply, and keeps the outcome on the journal row', async () => {
    const [message] = await sendDelivery();
    const reply = '550 5.1.1 <x>: Recipient address rejected: User unknown in local recipient table';
    await report(postfixBounce(originalOf(message), '5.1.1', reply), message.returnPath!);
    expect((await suppression(message.to)).quarantine).toMatchObject({
      reason: 'hard-bounce',
      smtpReply: `bounced later: 5.1.1 ${reply}`,
      deliveryId: 'd1',
    });
    // The delivery log says it beside the relay's reply.
    const { recipients } = await (await kit.request(`/api/deliveries/d1/recipients?q=${encodeURIComponent(message.to)}`)).json();
    expect(recipients).toMatchObject([{ email: message.to, status: 'sent', late: `bounced later: 5.1.1 ${reply}` }]);
    // And the report counts it by kind and domain.
    const { reportedLater } = await (await kit.request('/api/deliveries/d1/report')).json();
    expect(reportedLater).toEqual([{ kind: 'hard-bounce', domain: message.to.split('@')[1].toLowerCase(), count: 1 }]);
    // The replica hears of it: the profile changed.
    const changes = await kit.services.audience.changesSince(0, 100);
    expect(changes.profiles.find((p) => p.email === message.to)?.quarantined).toBe(true);
    // The same report delivered twice is one outcome.
    await report(postfixBounce(originalOf(message), '5.1.1', reply), message.returnPath!);
    expect(await kit.value("SELECT COUNT(*) AS n FROM late_outcomes WHERE kind = 'hard-bounce'")).toBe(1);
  });

  it('denylists and unsubscribes on a complaint found by the original message’s Message-ID', async () => {
    const [message] = await sendDelivery();
    // Feedback loops write to the address registered with them, not to the return path.
    await report(arfComplaint(originalOf(message)), 'fbl@bounces.example.com');
    const found = await suppression(message.to);
    expect(found.denylist).toMatchObject({ reason: 'Complaint (abuse) reported by a feedback loop', addedBy: 'feedback-loop' });
    const profile = await kit.services.audience.findByEmail(message.to);
    expect(profile).toMatchObject({ status: 'unsubscribed', statusSource: 'complaint' });
    // The list's health says so, on the day it happened.
    const health = await (await kit.request('/api/audience/health')).json();
    expect(health.totals).toMatchObject({ profiles: 20, unsubscribed: 1, denylisted: 1, quarantined: 0 });
    expect(health.days).toEqual([{ day: '2026-12-03', unsubscribed: 1, denylisted: 1, quarantined: 0 }]);
  });

  it('counts bounces at send and later, and complaints, by day and by domain, for the list’s health', async () => {
    await kit.services.audience.upsertMany([newProfile({ email: 'gone@other.example' })], 'test', new Date());
    refuse.add('gone@other.example');
    const [hard, soft, complained] = await sendDelivery();
    await report(postfixBounce(originalOf(hard), '5.1.1', '550 5.1.1 User unknown'), hard.returnPath!);
    await report(postfixBounce(originalOf(soft), '4.4.1', '421 4.4.1 Connection timed out', 'delayed'), soft.returnPath!);
    await report(arfComplaint(originalOf(complained)), 'fbl@bounces.example.com');
    const health = await (await kit.request('/api/audience/health')).json();
    // Reports on the test's day; the refusal on the day the engine's clock said it came.
    const refusedOn = await kit.value<string>("SELECT substr(updated_at, 1, 10) FROM journal WHERE status = 'bounced'");
    const days = new Map([['2026-12-03', { day: '2026-12-03', atSend: 0, hardBounce: 1, softBounce: 1, complaint: 1 }]]);
    days.set(refusedOn, { ...(days.get(refusedOn) ?? { day: refusedOn, hardBounce: 0, softBounce: 0, complaint: 0 }), atSend: 1 });
    expect(health.bounces).toEqual([...days.values()].sort((a, b) => a.day.localeCompare(b.day)));
    expect(health.bounceDomains).toEqual([
      { domain: 'example.com', atSend: 0, hardBounce: 1, softBounce: 1, complaint: 1 },
      { domain: 'other.example', atSend: 1, hardBounce: 0, softBounce: 0, complaint: 0 },
    ]);
  });

  it('counts soft bounces: the fifth within 30 days quarantines, and a full mailbox’s quarantine ends after 30 days', async () => {
    const messages = await sendDelivery();
    const [full] = messages;
    for (let i = 0; i < 5; i++) {
      const id = `s${i}`;
      const again = i === 0 ? messages : await sendDelivery(id);
      const message = again.find((m) => m.to === full.to)!;
      await report(postfixBounce(originalOf(message), '5.2.2', '552 5.2.2 Mailbox full'), message.returnPath!);
      if (i < 4) expect((await suppression(full.to)).quarantine).toBeNull();
      clock = new Date(clock.getTime() + 86_400_000);
    }
    expect((await suppression(full.to)).quarantine).toMatchObject({
      reason: 'mailbox-full',
      smtpReply: expect.stringMatching(/^5 soft bounces in 30 days/),
    });
    // Quarantined a day ago: 30 days after it, not before.
    clock = new Date(clock.getTime() + 28 * 86_400_000);
    expect(await kit.services.lateOutcomes.liftDue()).toBe(0);
    clock = new Date(clock.getTime() + 86_400_000);
    expect(await kit.services.lateOutcomes.liftDue()).toBe(1);
    expect((await suppression(full.to)).quarantine).toBeNull();
  });

  it('follows the policy saved in the settings: here the second soft bounce quarantines', async () => {
    await kit.services.lateOutcomes.setPolicy({ ...BOUNCE_POLICY, softLimit: 2 });
    const [first] = await sendDelivery('p1');
    await report(postfixBounce(originalOf(first), '4.4.1', '421 4.4.1 Connection timed out'), first.returnPath!);
    expect((await suppression(first.to)).quarantine).toBeNull();
    const second = (await sendDelivery('p2')).find((m) => m.to === first.to)!;
    await report(postfixBounce(originalOf(second), '4.4.1', '421 4.4.1 Connection timed out'), second.returnPath!);
    expect((await suppression(first.to)).quarantine).toMatchObject({
      reason: 'soft-bounces',
      smtpReply: expect.stringMatching(/^2 soft bounces in 30 days/),
    });
  });

  it('answers 451 when a report cannot be kept, so that the reporting server tries again', async () => {
    const down = await startBounceReceiver({
      port: 0,
      host: '127.0.0.1',
      handle: async () => {
        throw new Error('the database is down');
      },
    });
    try {
      const transport = nodemailer.createTransport({ host: '127.0.0.1', port: down.port, secure: false, ignoreTLS: true });
      const refused = transport.sendMail({
        envelope: { from: '', to: 'bounce-1-000000000000@bounces.example.com' },
        raw: Buffer.from('Subject: x\r\n\r\nx\r\n'),
      });
      await expect(refused).rejects.toMatchObject({
        responseCode: 451,
        response: '451 4.3.0 The report could not be kept: try again later',
      });
      transport.close();
    } finally {
      await down.close();
    }
  });

  it('never lets a quarantine that ends replace one that does not', async () => {
    const email = (await kit.services.audience.pageById(0, 1))[0].email;
    await kit.services.audience.quarantine(email, 'hard-bounce', '550 5.1.1', null, clock);
    await kit.services.audience.quarantine(email, 'mailbox-full', '552 5.2.2', null, clock, new Date(clock.getTime() + 86_400_000));
    expect((await suppression(email)).quarantine).toMatchObject({ reason: 'hard-bounce', smtpReply: '550 5.1.1' });
    clock = new Date(clock.getTime() + 2 * 86_400_000);
    expect(await kit.services.lateOutcomes.liftDue()).toBe(0);
  });

  it('ignores what names no message of ours, and mail that is no report', async () => {
    const [message] = await sendDelivery();
    const forged = { ...originalOf(message), messageId: '<999999.dx@shop.example.com>' };
    await report(postfixBounce(forged, '5.1.1', '550 5.1.1 unknown'), 'bounce-1-000000000000@bounces.example.com');
    // The Message-ID is not signed: one naming a real row, but another delivery or address, is not believed.
    const [row] = await kit.sql<{ id: number }>('SELECT id FROM journal WHERE email = ?', [message.to]);
    const otherDelivery = { ...originalOf(message), messageId: `<${row.id}.d2@shop.example.com>` };
    await report(arfComplaint(otherDelivery), 'fbl@bounces.example.com');
    const otherAddress = { ...originalOf(message), to: 'someone.else@example.com' };
    await report(arfComplaint(otherAddress), 'fbl@bounces.example.com');
    await report(Buffer.from('From: a@b.example\r\nSubject: hello\r\n\r\nnot a report\r\n'), message.returnPath!);
    expect(await kit.value('SELECT COUNT(*) AS n FROM late_outcomes')).toBe(0);
    expect((await suppression(message.to)).quarantine).toBeNull();
  });

  it('pauses a delivery whose hard bounces pass the threshold, saying why', async () => {
    // A policy that judges from 10 messages (the default waits for 100).
    const late = new LateOutcomes({
      lateOutcomes: kit.stores.lateOutcomes,
      audience: kit.services.audience,
      commands: kit.services.commands,
      bus: kit.stores.bus,
      secret: 'test-secret',
      now: () => clock,
      policy: { ...BOUNCE_POLICY, minimumSent: 10 },
    });
    let release = () => {};
    hold = { after: 10, released: new Promise<void>((resolve) => (release = resolve)) };
    const { contentHash } = await handOver(kit, 'dp', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/dp/send', { json: { contentHash, scheduledAt: null } });
    // The relay holds the rest: ten messages are sent, the delivery is still sending.
    await eventually(
      async () => (await kit.value("SELECT COUNT(*) AS n FROM journal WHERE delivery_id = 'dp' AND status = 'sent'")) === 10,
    );
    const messages = sent.filter((m) => m.headers['X-Mailroom-Delivery'] === 'dp').slice(0, 10);
    const sentTo = new Set(
      await kit
        .sql<{ email: string }>("SELECT email FROM journal WHERE delivery_id = 'dp' AND status = 'sent'")
        .then((r) => r.map((x) => x.email)),
    );
    const [a, b] = messages.filter((m) => sentTo.has(m.to));
    // 1 of 10 hard bounces is 10 %: over 5 %, the delivery pauses and says why.
    const outcome = await late.receive(postfixBounce(originalOf(a), '5.1.1', '550 5.1.1 unknown'), [a.returnPath!]);
    expect(outcome.paused?.reason).toMatch(/^Paused: 1 of 10 messages \(10\.0 %\) bounced later as hard bounces, more than 5 %/);
    const delivery = await (await kit.request('/api/deliveries/dp')).json();
    expect(delivery).toMatchObject({ status: 'paused', statusReason: outcome.paused!.reason });
    // Another report while paused records its outcome and pauses nothing more.
    expect(await late.receive(postfixBounce(originalOf(b), '5.1.1', '550 5.1.1 unknown'), [b.returnPath!])).toEqual({
      recorded: 1,
      paused: null,
    });
    expect(await kit.stores.lateOutcomes.rates('dp')).toMatchObject({ hardBounces: 2 });
    release();
  });
});
