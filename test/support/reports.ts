/**
 * Reports as real mail systems write them, for tests: a delivery status notification in
 * Postfix's layout (its bounce(5) template: a notice, the message/delivery-status part, the
 * undelivered message's headers) and a complaint in the ARF layout of RFC 5965 (a notice,
 * the message/feedback-report part, the original message).
 */

export interface OriginalMessage {
  /** The Message-ID Mailroom gave it: <journal row.delivery@domain>. */
  messageId: string;
  to: string;
  returnPath: string;
}

/** A header line folded at spaces so that no line is longer than `width`. */
function foldAt(line: string, width: number): string[] {
  const lines: string[] = [];
  let rest = line;
  while (rest.length > width) {
    const at = rest.lastIndexOf(' ', width);
    if (at <= 0) break;
    lines.push(rest.slice(0, at));
    rest = `    ${rest.slice(at + 1)}`;
  }
  return [...lines, rest];
}

const BOUNDARY = '4Bc1XyZ.1733220000/mx.example.net';

/** A Postfix bounce: `action` failed (a hard or, with a 4.x.x or 5.2.2 status, a soft one) or delayed. */
export function postfixBounce(original: OriginalMessage, status: string, reply: string, action: 'failed' | 'delayed' = 'failed'): Buffer {
  const lines = [
    'From: MAILER-DAEMON@mx.example.net (Mail Delivery System)',
    'Subject: Undelivered Mail Returned to Sender',
    `To: ${original.returnPath}`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status; boundary="${BOUNDARY}"`,
    'Content-Transfer-Encoding: 8bit',
    'Message-Id: <20261203100000.4Bc1@mx.example.net>',
    '',
    'This is a MIME-encapsulated message.',
    '',
    `--${BOUNDARY}`,
    'Content-Description: Notification',
    'Content-Type: text/plain; charset=us-ascii',
    '',
    'This is the mail system at host mx.example.net.',
    '',
    "I'm sorry to have to inform you that your message could not",
    'be delivered to one or more recipients.',
    '',
    `<${original.to}>: host mx.example.net[192.0.2.1] said: ${reply}`,
    '',
    `--${BOUNDARY}`,
    'Content-Description: Delivery report',
    'Content-Type: message/delivery-status',
    '',
    'Reporting-MTA: dns; mx.example.net',
    'X-Postfix-Queue-ID: 4Bc1XyZ',
    `X-Postfix-Sender: rfc822; ${original.returnPath}`,
    'Arrival-Date: Thu,  3 Dec 2026 10:00:00 +0000 (UTC)',
    '',
    `Final-Recipient: rfc822; ${original.to}`,
    `Original-Recipient: rfc822;${original.to}`,
    `Action: ${action}`,
    `Status: ${status}`,
    'Remote-MTA: dns; mx.example.net',
    // Folded at a space, as Postfix folds a long reply.
    ...foldAt(`Diagnostic-Code: smtp; ${reply}`, 72),
    '',
    `--${BOUNDARY}`,
    'Content-Description: Undelivered Message Headers',
    'Content-Type: text/rfc822-headers',
    'Content-Transfer-Encoding: 8bit',
    '',
    `Return-Path: <${original.returnPath}>`,
    `Message-ID: ${original.messageId}`,
    'From: Mailroom Shop <news@shop.example.com>',
    `To: ${original.to}`,
    'Subject: Our autumn collection',
    '',
    `--${BOUNDARY}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}

/** An ARF complaint from a feedback loop, the original message attached. */
export function arfComplaint(original: OriginalMessage, feedbackType = 'abuse'): Buffer {
  const boundary = 'arf_boundary_1';
  const lines = [
    'From: <staff@fbl.example.net>',
    `To: <${original.returnPath}>`,
    'Subject: FW: Our autumn collection',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=feedback-report; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset="US-ASCII"',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an email abuse report for an email message received from IP 192.0.2.10.',
    '',
    `--${boundary}`,
    'Content-Type: message/feedback-report',
    '',
    `Feedback-Type: ${feedbackType}`,
    'User-Agent: SomeGenerator/1.0',
    'Version: 1',
    `Original-Mail-From: <${original.returnPath}>`,
    `Original-Rcpt-To: <${original.to}>`,
    'Arrival-Date: Thu, 3 Dec 2026 10:05:00 +0000',
    'Reported-Domain: shop.example.com',
    'Source-IP: 192.0.2.10',
    '',
    `--${boundary}`,
    'Content-Type: message/rfc822',
    'Content-Disposition: inline',
    '',
    `Return-Path: <${original.returnPath}>`,
    `Message-ID: ${original.messageId}`,
    'From: Mailroom Shop <news@shop.example.com>',
    `To: ${original.to}`,
    'Subject: Our autumn collection',
    '',
    'Hello!',
    '',
    `--${boundary}--`,
    '',
  ];
  return Buffer.from(lines.join('\r\n'));
}
