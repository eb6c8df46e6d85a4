/**
 * Reading what comes back after a message was accepted: delivery status notifications
 * (RFC 3464, a multipart/report with a message/delivery-status part, as Postfix, Exim and
 * the big providers write them) and complaint reports (RFC 5965 ARF, a multipart/report
 * with a message/feedback-report part, as feedback loops send them). Each is turned into
 * the outcomes it reports, per recipient: a hard bounce, a soft one, or a complaint;
 * "delayed" notices count as soft, "delivered" and "relayed" ones are not outcomes.
 */

export type LateKind = 'hard-bounce' | 'soft-bounce' | 'complaint';

export interface LateReport {
  kind: LateKind;
  /** The address the report names (Final-Recipient, or the original message's recipient). */
  recipient: string | null;
  /** The enhanced status code (5.1.1), or the feedback type of a complaint (abuse). */
  status: string;
  /** What the remote server said (Diagnostic-Code), or the complaint's user agent; '' when none. */
  diagnostic: string;
  /** True when the mailbox is full (5.2.2, or a 4.2.2 delay): a soft bounce lifted after a while. */
  mailboxFull: boolean;
}

export interface ReadReport {
  reports: LateReport[];
  /** The journal row and delivery the original message's Message-ID names (<row.delivery@domain>), when it came with the report. */
  originalJournalId: { journalId: number; deliveryId: string } | null;
}

/** Returns the fields of a block of header-like lines (continuation lines folded, a repeated field's values joined by ", "), lower-cased names. */
function fieldsOf(block: string): Map<string, string> {
  const fields = new Map<string, string>();
  let last: string | null = null;
  for (const line of block.split(/\r?\n/)) {
    if (/^[ \t]/.test(line) && last) fields.set(last, `${fields.get(last)} ${line.trim()}`);
    else {
      const at = line.indexOf(':');
      if (at <= 0) continue;
      last = line.slice(0, at).trim().toLowerCase();
      const value = line.slice(at + 1).trim();
      fields.set(last, fields.has(last) ? `${fields.get(last)}, ${value}` : value);
    }
  }
  return fields;
}

/**
 * Returns the addresses a message was delivered to, as its top headers say (Delivered-To,
 * X-Original-To, Envelope-To, To): what a report read from a mailbox names as its recipients.
 */
export function deliveredTo(raw: Buffer): string[] {
  const end = raw.indexOf('\r\n\r\n');
  const fields = fieldsOf(raw.subarray(0, end < 0 ? Math.min(raw.length, 64 * 1024) : end).toString('latin1'));
  const addresses = new Set<string>();
  for (const name of ['delivered-to', 'x-original-to', 'envelope-to', 'to']) {
    for (const address of fields.get(name)?.match(/[^\s<>,;:"()]+@[^\s<>,;:"()]+/g) ?? []) addresses.add(address.toLowerCase());
  }
  return [...addresses];
}

/** Returns the address of a "type; address" field (rfc822; someone@example.com). */
const addressOf = (value: string | undefined) => {
  const address = value?.split(';').at(-1)?.trim().replace(/^<|>$/g, '') ?? '';
  return address.includes('@') ? address : null;
};

/** Returns the enhanced status code (RFC 3463) in a text: "5.1.1" in "550 5.1.1 User unknown"; '' when there is none. */
export const enhancedStatus = (text: string) => /\b[245]\.\d{1,3}\.\d{1,3}\b/.exec(text)?.[0] ?? '';

/** True for a full mailbox (X.2.2, or said so): a soft bounce, however it is reported. */
export const isMailboxFull = (status: string, diagnostic = '') =>
  /^[45]\.2\.2$/.test(status) || /mailbox (is )?full|over ?quota/i.test(diagnostic);

/** True for a failure that will not pass by itself: a 5.x.x status that is not a full mailbox. */
export const isPermanent = (status: string, diagnostic = '') => status.startsWith('5') && !isMailboxFull(status, diagnostic);

/** Returns the journal row and delivery a Message-ID Mailroom gave names (<row.delivery@domain>, brackets optional), or null. */
export function messageIdRow(messageId: string | null | undefined): { journalId: number; deliveryId: string } | null {
  const named = /^<?(\d+)\.([^@>]+)@/.exec(messageId?.trim() ?? '');
  return named ? { journalId: Number(named[1]), deliveryId: named[2] } : null;
}

/** Returns the per-recipient outcomes of a message/delivery-status part. */
export function readDeliveryStatus(text: string): LateReport[] {
  const [, ...recipients] = text.split(/\r?\n[ \t]*\r?\n/).filter((block) => block.trim() !== '');
  const reports: LateReport[] = [];
  for (const block of recipients) {
    const fields = fieldsOf(block);
    const action = (fields.get('action') ?? '').toLowerCase();
    const status = enhancedStatus(fields.get('status') ?? '');
    const diagnostic = (fields.get('diagnostic-code') ?? '').replace(/^smtp;\s*/i, '');
    if (action !== 'failed' && action !== 'delayed') continue;
    const full = isMailboxFull(status, diagnostic);
    const hard = action === 'failed' && isPermanent(status, diagnostic);
    reports.push({
      kind: hard ? 'hard-bounce' : 'soft-bounce',
      recipient: addressOf(fields.get('final-recipient') ?? fields.get('original-recipient')),
      status: status || (action === 'failed' ? '5.0.0' : '4.0.0'),
      diagnostic: diagnostic.slice(0, 500),
      mailboxFull: full,
    });
  }
  return reports;
}

/** Returns the complaint of a message/feedback-report part; the recipient comes from the report or the original message. */
export function readFeedbackReport(text: string, originalTo: string | null): LateReport {
  const fields = fieldsOf(text);
  return {
    kind: 'complaint',
    recipient: addressOf(fields.get('original-rcpt-to')) ?? originalTo,
    status: (fields.get('feedback-type') ?? 'abuse').toLowerCase(),
    diagnostic: (fields.get('user-agent') ?? '').slice(0, 500),
    mailboxFull: false,
  };
}

/** One MIME part: its content type (lower case, no parameters), its headers, its body decoded to text. */
interface Part {
  type: string;
  headers: Map<string, string>;
  body: string;
}

/** Returns the leaf parts of a message (multiparts walked, at most 4 deep); the report parts are text, seldom encoded. */
function partsOf(raw: string, depth = 0): Part[] {
  const split = /\r?\n\r?\n/.exec(raw);
  const head = split ? raw.slice(0, split.index) : raw;
  const body = split ? raw.slice(split.index + split[0].length) : '';
  const headers = fieldsOf(head);
  const contentType = headers.get('content-type') ?? 'text/plain';
  const type = contentType.split(';')[0].trim().toLowerCase();
  const boundary = /boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))/i.exec(contentType);
  if (type.startsWith('multipart/') && boundary && depth < 4) {
    const marker = `--${boundary[1] ?? boundary[2]}`;
    return body
      .split(marker)
      .slice(1)
      .filter((chunk) => !chunk.startsWith('--'))
      .flatMap((chunk) => partsOf(chunk.replace(/^\r?\n/, ''), depth + 1));
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '').toLowerCase();
  const decoded =
    encoding === 'base64'
      ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
      : encoding === 'quoted-printable'
        ? body.replace(/=\r?\n/g, '').replace(/=([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)))
        : body;
  return [{ type, headers, body: decoded }];
}

/** The original message's headers, from a message/rfc822 or text/rfc822-headers part. */
function originalHeaders(parts: readonly Part[]): Map<string, string> | null {
  const part = parts.find((p) => p.type === 'message/rfc822' || p.type === 'text/rfc822-headers');
  return part ? fieldsOf(part.body.split(/\r?\n\r?\n/)[0]) : null;
}

/** Reads a raw message received on the bounce port: the outcomes it reports (none for mail that is no report). */
export function readReport(raw: Buffer): ReadReport {
  const parts = partsOf(raw.toString('utf8'));
  const original = originalHeaders(parts);
  const originalJournalId = messageIdRow(original?.get('message-id'));
  const status = parts.find((p) => p.type === 'message/delivery-status');
  if (status) return { reports: readDeliveryStatus(status.body), originalJournalId };
  const feedback = parts.find((p) => p.type === 'message/feedback-report');
  if (feedback) return { reports: [readFeedbackReport(feedback.body, addressOf(original?.get('to')))], originalJournalId };
  return { reports: [], originalJournalId };
}
