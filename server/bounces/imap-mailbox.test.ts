/**
 * The bounce mailbox, read over real IMAP (hoodiecrow-imap over TCP): a delivery is sent with
 * a signed return path per message; a Postfix bounce and an ARF complaint addressed to those
 * return paths lie unread in the mailbox beside mail that is no report. Reading it
 * quarantines and denylists the right recipients, marks what it handled read, leaves a report
 * it could not keep unread to read again, and says when the mailbox cannot be read.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startImapServer, type ImapServer } from '../../test/support/imap';
import { arfComplaint, postfixBounce, type OriginalMessage } from '../../test/support/reports';
import type { OutgoingMessage } from '../sending/compose';
import { createKit, eventually, handOver, newProfile, recordingMessenger, SAMPLE_DELIVERY, type Kit } from '../test-kit';
import { mailboxUrlProblem, startBounceMailbox, type BounceMailbox } from './imap-mailbox';
import { deliveredTo } from './reports';

let kit: Kit;
let imap: ImapServer;
let mailbox: BounceMailbox | null = null;
let messages: OutgoingMessage[];

beforeEach(async () => {
  const recording = recordingMessenger();
  kit = await createKit({ messenger: recording.messenger, bounceDomain: 'bounces.example.com' });
  await kit.services.audience.upsertMany(
    Array.from({ length: 5 }, () => newProfile()),
    'test',
    new Date(),
  );
  const { contentHash } = await handOver(kit, 'd1', SAMPLE_DELIVERY);
  await kit.request('/api/deliveries/d1/send', { json: { contentHash, scheduledAt: null } });
  await eventually(async () => (await kit.services.deliveries.status('d1')) === 'completed');
  messages = recording.sent;
  imap = await startImapServer('bounces', 's3cret');
});
afterEach(async () => {
  await mailbox?.stop();
  mailbox = null;
  await imap.stop();
  await kit.close();
});

const originalOf = (message: OutgoingMessage): OriginalMessage => ({
  messageId: message.messageId,
  to: message.to,
  returnPath: message.returnPath!,
});
const suppression = (email: string) => kit.services.audience.suppression(email);
const open = (options: { password?: string; handle?: (raw: Buffer, recipients: string[]) => Promise<unknown>; log?: string[] } = {}) =>
  (mailbox = startBounceMailbox({
    url: `imap://bounces:${options.password ?? 's3cret'}@127.0.0.1:${imap.port}/INBOX`,
    everyMs: 3_600_000, // read when the test says (check), besides the first read at the start
    handle: options.handle ?? ((raw, recipients) => kit.services.lateOutcomes.receive(raw, recipients)),
    log: (line) => options.log?.push(line),
  }));

describe('the bounce mailbox read over IMAP', () => {
  it('quarantines a hard bounce and denylists a complaint, marks them read, and leaves read mail alone', async () => {
    const [bounced, complained, untouched] = messages;
    imap.deliver(postfixBounce(originalOf(bounced), '5.1.1', '550 5.1.1 <x>: Recipient address rejected: User unknown'));
    imap.deliver(arfComplaint(originalOf(complained)));
    imap.deliver(Buffer.from('From: someone@example.net\r\nTo: postmaster@bounces.example.com\r\nSubject: Hello\r\n\r\nNot a report.\r\n'));
    imap.deliver(postfixBounce(originalOf(untouched), '5.1.1', '550 5.1.1 User unknown'), true); // read already: not ours to act on
    const first = await open().check();
    expect(first).toEqual({ read: 3, handled: 3, failed: 0 });
    expect((await suppression(bounced.to)).quarantine).toMatchObject({ reason: 'hard-bounce', deliveryId: 'd1' });
    expect((await suppression(complained.to)).denylist).not.toBeNull();
    expect((await suppression(untouched.to)).quarantine).toBeNull();
    expect(imap.messages().map((m) => m.seen)).toEqual([true, true, true, true]);
    expect(await mailbox!.check()).toEqual({ read: 0, handled: 0, failed: 0 });
    const late = await kit.sql<{ kind: string }>("SELECT kind FROM late_outcomes WHERE delivery_id = 'd1' ORDER BY kind");
    expect(late.map((r) => r.kind)).toEqual(['complaint', 'hard-bounce']);
  });

  it('leaves a report it could not keep unread, and keeps it when read again', async () => {
    imap.deliver(postfixBounce(originalOf(messages[3]), '5.1.1', '550 5.1.1 User unknown'));
    let failing = true;
    const log: string[] = [];
    const reader = open({
      log,
      handle: async (raw, recipients) => {
        if (failing) throw new Error('the database is read-only');
        return kit.services.lateOutcomes.receive(raw, recipients);
      },
    });
    expect(await reader.check()).toEqual({ read: 1, handled: 0, failed: 1 });
    expect(imap.messages()[0].seen).toBe(false);
    expect(log).toEqual([expect.stringMatching(/could not be kept; it stays unread and is read again: the database is read-only/)]);
    failing = false;
    expect(await reader.check()).toEqual({ read: 1, handled: 1, failed: 0 });
    expect((await suppression(messages[3].to)).quarantine).toMatchObject({ reason: 'hard-bounce' });
  });

  it('says once that the mailbox cannot be read, and when it can again', async () => {
    const log: string[] = [];
    imap.deliver(postfixBounce(originalOf(messages[4]), '5.1.1', '550 5.1.1 User unknown'));
    const wrong = open({ password: 'wrong', log });
    expect(await wrong.check()).toEqual({ read: 0, handled: 0, failed: 0 });
    await wrong.check();
    expect(log).toHaveLength(1);
    expect(log[0]).toMatch(
      new RegExp(`^The bounce mailbox 127\\.0\\.0\\.1:${imap.port}/INBOX cannot be read \\(.+\\); it is tried again in 3600 s\\.$`),
    );
    expect(log[0]).not.toContain('wrong');
    expect(imap.messages()[0].seen).toBe(false);
  });
});

describe('reading a report’s recipients and the mailbox URL', () => {
  it('takes the addresses of the delivery headers, folded or not', () => {
    const raw = Buffer.from(
      'Delivered-To: b+1.x@bounces.example.com\r\nX-Original-To: <b+2.y@bounces.example.com>\r\nTo: "Bounces"\r\n <b+3.z@bounces.example.com>\r\nCc: other@example.com\r\n\r\nTo: not@header.example\r\n',
    );
    expect(deliveredTo(raw)).toEqual(['b+1.x@bounces.example.com', 'b+2.y@bounces.example.com', 'b+3.z@bounces.example.com']);
  });

  it('refuses a URL it cannot use, saying why', () => {
    expect(mailboxUrlProblem('imaps://bounces:pw@imap.example.com:993/INBOX')).toBeNull();
    expect(mailboxUrlProblem('pop3://bounces@example.com')).toBe('it must start with imap:// or imaps://');
    expect(mailboxUrlProblem('imaps://imap.example.com')).toBe('it names no user (imaps://user:password@host:993/INBOX)');
    expect(mailboxUrlProblem('not a url')).toBe('it must look like imaps://user:password@host:993/INBOX');
  });
});
