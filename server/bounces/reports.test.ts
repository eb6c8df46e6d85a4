import { describe, expect, it } from 'vitest';
import { arfComplaint, postfixBounce } from '../../test/support/reports';
import { readReport } from './reports';
import { bounceAddress, journalOfBounceAddress } from './verp';

const original = { messageId: '<42.d1@shop.example.com>', to: 'zoe@example.com', returnPath: 'bounce-16-0123456789ab@bounces.example.com' };

describe('reports that arrive after a message was accepted', () => {
  it('reads a Postfix bounce for an unknown user as a hard bounce of its recipient, with the reply', async () => {
    const reply = '550 5.1.1 <zoe@example.com>: Recipient address rejected: User unknown in local recipient table';
    const { reports, originalJournalId } = readReport(postfixBounce(original, '5.1.1', reply));
    expect(originalJournalId).toEqual({ journalId: 42, deliveryId: 'd1' });
    expect(reports).toEqual([
      { kind: 'hard-bounce', recipient: 'zoe@example.com', status: '5.1.1', diagnostic: reply, mailboxFull: false },
    ]);
  });

  it.each([
    ['a full mailbox (5.2.2)', '5.2.2', '552 5.2.2 Mailbox full', 'failed', { kind: 'soft-bounce', mailboxFull: true }],
    [
      'a temporary failure that gave up (4.4.1)',
      '4.4.1',
      '421 4.4.1 Connection timed out',
      'failed',
      { kind: 'soft-bounce', mailboxFull: false },
    ],
    ['a delay notice', '4.4.7', '451 4.4.7 Delivery delayed', 'delayed', { kind: 'soft-bounce', mailboxFull: false }],
  ] as const)('reads %s as a soft bounce', async (_, status, reply, action, expected) => {
    const { reports } = readReport(postfixBounce(original, status, reply, action));
    expect(reports).toMatchObject([{ ...expected, status, recipient: 'zoe@example.com' }]);
  });

  it('reads an ARF report as a complaint of the original recipient', async () => {
    const { reports, originalJournalId } = readReport(arfComplaint(original));
    expect(originalJournalId).toEqual({ journalId: 42, deliveryId: 'd1' });
    expect(reports).toEqual([
      { kind: 'complaint', recipient: 'zoe@example.com', status: 'abuse', diagnostic: 'SomeGenerator/1.0', mailboxFull: false },
    ]);
  });

  it('finds no outcome in mail that is no report', async () => {
    const plain = Buffer.from(
      'From: someone@example.net\r\nTo: bounce-1-0@bounces.example.com\r\nSubject: Hello\r\n\r\nAre you there?\r\n',
    );
    expect(readReport(plain)).toEqual({ reports: [], originalJournalId: null });
  });
});

describe('the per-message return path', () => {
  it('names its journal row, signed: another secret or a changed row is not one of ours', () => {
    const address = bounceAddress(123_456_789, 'bounces.example.com', 'secret');
    expect(address).toMatch(/^bounce-[0-9a-z]+-[0-9a-f]{12}@bounces\.example\.com$/);
    expect(address.split('@')[0].length).toBeLessThanOrEqual(64);
    expect(journalOfBounceAddress(address, 'secret')).toBe(123_456_789);
    expect(journalOfBounceAddress(address.toUpperCase(), 'secret')).toBe(123_456_789);
    expect(journalOfBounceAddress(address, 'other')).toBeNull();
    expect(journalOfBounceAddress(address.replace(/^bounce-[0-9a-z]+/, 'bounce-1'), 'secret')).toBeNull();
    expect(journalOfBounceAddress('zoe@example.com', 'secret')).toBeNull();
  });
});
