/**
 * Bounces and complaints from relay providers' webhooks, each checked by the provider's own
 * means before anything is believed: Amazon SES through SNS (the message signed with the
 * certificate at SigningCertURL, which must be Amazon's, SHA1 or SHA256 RSA; a subscription is
 * confirmed by visiting its SubscribeURL), SendGrid (its signed event webhook: ECDSA P-256
 * over the timestamp and the body, with the public key from its settings), Mailgun (HMAC-
 * SHA256 of timestamp and token with the webhook signing key, at most 15 minutes old) and
 * Postmark (the basic-auth credentials put in the webhook's URL). Each gives the outcomes in
 * Mailroom's terms (reports.ts's), with the Message-ID it sent when the provider passes it on.
 */

import { createHmac, createPublicKey, createVerify, timingSafeEqual, verify as verifySignature } from 'node:crypto';
import type { ProviderEvent } from '../application/late-outcomes';
import { enhancedStatus, isMailboxFull, isPermanent } from './reports';

export type Provider = 'ses' | 'sendgrid' | 'mailgun' | 'postmark';
export const PROVIDERS: readonly Provider[] = ['ses', 'sendgrid', 'mailgun', 'postmark'];

export interface ProviderKeys {
  /** SendGrid's verification key (the base64 public key its settings show). */
  sendgridPublicKey?: string | null;
  mailgunSigningKey?: string | null;
  /** user:password that Postmark's webhook URL carries. */
  postmarkAuth?: string | null;
  /** The SNS topics whose notifications are taken (required: any AWS account can sign for its own topic). */
  sesTopicArns?: readonly string[];
}

/** What a provider's request was found to be. */
export type ProviderRequest =
  { ok: true; events: ProviderEvent[]; confirm?: string } | { ok: false; status: 400 | 401 | 403 | 404; message: string };

/** Fetches an SNS signing certificate (PEM); given in tests. */
export type CertificateFetcher = (url: string) => Promise<string>;

const event = (e: Omit<ProviderEvent, 'mailboxFull'> & { mailboxFull?: boolean }): ProviderEvent => ({ mailboxFull: false, ...e });
const safeEqual = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** SNS's host: a certificate from anywhere else is not Amazon's. */
const SNS_HOST = /^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$/;

function snsCanonical(m: Record<string, string>): string {
  const fields =
    m.Type === 'Notification'
      ? ['Message', 'MessageId', 'Subject', 'Timestamp', 'TopicArn', 'Type']
      : ['Message', 'MessageId', 'SubscribeURL', 'Timestamp', 'Token', 'TopicArn', 'Type'];
  return fields
    .filter((f) => m[f] != null)
    .map((f) => `${f}\n${m[f]}\n`)
    .join('');
}

/** True for an https URL on SNS's host; for a certificate, only SNS's own path (no query), so nothing else there is fetched. */
const fromAmazon = (url: string, certificate = false) => {
  try {
    const parsed = new URL(url);
    if (certificate && (!/^\/SimpleNotificationService-[0-9a-f]+\.pem$/.test(parsed.pathname) || parsed.search)) return false;
    return parsed.protocol === 'https:' && SNS_HOST.test(parsed.hostname);
  } catch {
    return false;
  }
};

async function ses(body: string, keys: ProviderKeys, fetchCertificate: CertificateFetcher): Promise<ProviderRequest> {
  let message: Record<string, string>;
  try {
    message = JSON.parse(body);
  } catch {
    return { ok: false, status: 400, message: 'The body is not an SNS message (JSON).' };
  }
  if (!keys.sesTopicArns?.length) {
    return {
      ok: false,
      status: 404,
      message: 'Amazon SES’s webhook is not set up: set MAILROOM_SES_TOPIC_ARNS to the SNS topics to take.',
    };
  }
  if (!fromAmazon(message.SigningCertURL ?? '', true))
    return { ok: false, status: 403, message: 'The signing certificate is not Amazon SNS’s.' };
  if (message.SignatureVersion !== '1' && message.SignatureVersion !== '2') {
    return { ok: false, status: 403, message: 'The SNS signature version is not 1 or 2.' };
  }
  if (!keys.sesTopicArns.includes(message.TopicArn)) {
    return { ok: false, status: 403, message: `The topic ${message.TopicArn} is not one Mailroom takes (MAILROOM_SES_TOPIC_ARNS).` };
  }
  const algorithm = message.SignatureVersion === '2' ? 'RSA-SHA256' : 'RSA-SHA1';
  const verifier = createVerify(algorithm).update(snsCanonical(message), 'utf8');
  if (!verifier.verify(createPublicKey(await fetchCertificate(message.SigningCertURL)), message.Signature ?? '', 'base64')) {
    return { ok: false, status: 403, message: 'The SNS signature does not verify.' };
  }
  if (message.Type === 'SubscriptionConfirmation') {
    return fromAmazon(message.SubscribeURL ?? '')
      ? { ok: true, events: [], confirm: message.SubscribeURL }
      : { ok: false, status: 403, message: 'The SubscribeURL is not Amazon SNS’s.' };
  }
  if (message.Type !== 'Notification') return { ok: true, events: [] };
  const note = JSON.parse(message.Message) as {
    notificationType?: string;
    eventType?: string;
    bounce?: {
      bounceType: string;
      bounceSubType?: string;
      bouncedRecipients: { emailAddress: string; status?: string; diagnosticCode?: string }[];
    };
    complaint?: { complainedRecipients: { emailAddress: string }[]; complaintFeedbackType?: string; userAgent?: string };
    mail?: { headers?: { name: string; value: string }[]; commonHeaders?: { messageId?: string } };
  };
  const messageId =
    note.mail?.headers?.find((h) => h.name.toLowerCase() === 'message-id')?.value ?? note.mail?.commonHeaders?.messageId ?? null;
  const type = note.notificationType ?? note.eventType;
  if (type === 'Bounce' && note.bounce) {
    const permanent = note.bounce.bounceType === 'Permanent';
    return {
      ok: true,
      events: note.bounce.bouncedRecipients.map((r) => {
        const status = enhancedStatus(r.status ?? '') || (permanent ? '5.0.0' : '4.0.0');
        return event({
          kind: permanent ? 'hard-bounce' : 'soft-bounce',
          recipient: r.emailAddress,
          email: r.emailAddress,
          status,
          diagnostic: (r.diagnosticCode ?? note.bounce!.bounceSubType ?? '').replace(/^smtp;\s*/i, '').slice(0, 500),
          mailboxFull: note.bounce!.bounceSubType === 'MailboxFull',
          messageId,
        });
      }),
    };
  }
  if (type === 'Complaint' && note.complaint) {
    return {
      ok: true,
      events: note.complaint.complainedRecipients.map((r) =>
        event({
          kind: 'complaint',
          recipient: r.emailAddress,
          email: r.emailAddress,
          status: note.complaint!.complaintFeedbackType ?? 'abuse',
          diagnostic: note.complaint!.userAgent ?? '',
          messageId,
        }),
      ),
    };
  }
  return { ok: true, events: [] };
}

function sendgrid(body: string, headers: Headers, keys: ProviderKeys): ProviderRequest {
  if (!keys.sendgridPublicKey)
    return { ok: false, status: 404, message: 'SendGrid’s webhook is not set up: set MAILROOM_SENDGRID_PUBLIC_KEY.' };
  const signature = headers.get('x-twilio-email-event-webhook-signature') ?? '';
  const timestamp = headers.get('x-twilio-email-event-webhook-timestamp') ?? '';
  const key = createPublicKey({ key: Buffer.from(keys.sendgridPublicKey, 'base64'), format: 'der', type: 'spki' });
  if (!signature || !verifySignature('sha256', Buffer.from(timestamp + body), key, Buffer.from(signature, 'base64'))) {
    return { ok: false, status: 403, message: 'The SendGrid signature does not verify.' };
  }
  const events = JSON.parse(body) as {
    event: string;
    email: string;
    status?: string;
    reason?: string;
    type?: string;
    'smtp-id'?: string;
  }[];
  return {
    ok: true,
    events: events.flatMap((e) => {
      const messageId = e['smtp-id'] ?? null;
      if (e.event === 'spamreport')
        return [event({ kind: 'complaint', recipient: e.email, email: e.email, status: 'abuse', diagnostic: '', messageId })];
      if (e.event !== 'bounce' && e.event !== 'deferred') return [];
      const status = enhancedStatus(e.status ?? '') || enhancedStatus(e.reason ?? '') || (e.event === 'bounce' ? '5.0.0' : '4.0.0');
      const hard = e.event === 'bounce' && e.type !== 'blocked' && isPermanent(status);
      return [
        event({
          kind: hard ? 'hard-bounce' : 'soft-bounce',
          recipient: e.email,
          email: e.email,
          status,
          diagnostic: (e.reason ?? '').slice(0, 500),
          mailboxFull: isMailboxFull(status),
          messageId,
        }),
      ];
    }),
  };
}

/** The Mailgun tokens seen in the last 15 minutes, with when: a request signed once is taken once. */
const mailgunTokens = new Map<string, number>();

function tokenFirstSeen(token: string, now: Date): boolean {
  const at = now.getTime();
  for (const [seen, when] of mailgunTokens) if (at - when > 900_000) mailgunTokens.delete(seen);
  if (mailgunTokens.has(token)) return false;
  mailgunTokens.set(token, at);
  return true;
}

function mailgun(body: string, keys: ProviderKeys, now: Date): ProviderRequest {
  if (!keys.mailgunSigningKey)
    return { ok: false, status: 404, message: 'Mailgun’s webhook is not set up: set MAILROOM_MAILGUN_SIGNING_KEY.' };
  const payload = JSON.parse(body) as {
    signature?: { timestamp: string; token: string; signature: string };
    'event-data'?: {
      event: string;
      severity?: string;
      recipient: string;
      'delivery-status'?: { code?: number; message?: string; description?: string; 'enhanced-code'?: string };
      message?: { headers?: { 'message-id'?: string } };
    };
  };
  const s = payload.signature;
  const expected = s
    ? createHmac('sha256', keys.mailgunSigningKey)
        .update(s.timestamp + s.token)
        .digest('hex')
    : '';
  if (!s || !safeEqual(expected, String(s.signature))) return { ok: false, status: 403, message: 'The Mailgun signature does not verify.' };
  // The timestamp is what the HMAC covers with the token: ten digits, within 15 minutes, each token once.
  if (!/^\d{10}$/.test(String(s.timestamp)) || Math.abs(now.getTime() / 1000 - Number(s.timestamp)) > 900) {
    return { ok: false, status: 403, message: 'The Mailgun signature is older than 15 minutes.' };
  }
  if (!tokenFirstSeen(String(s.token), now))
    return { ok: false, status: 403, message: 'This Mailgun request was received before (a replay).' };
  const e = payload['event-data'];
  if (!e) return { ok: true, events: [] };
  const id = e.message?.headers?.['message-id'];
  const messageId = id ? `<${id.replace(/^<|>$/g, '')}>` : null;
  if (e.event === 'complained')
    return {
      ok: true,
      events: [event({ kind: 'complaint', recipient: e.recipient, email: e.recipient, status: 'abuse', diagnostic: '', messageId })],
    };
  if (e.event !== 'failed') return { ok: true, events: [] };
  const ds = e['delivery-status'] ?? {};
  const status = ds['enhanced-code'] || enhancedStatus(ds.message ?? '') || (e.severity === 'permanent' ? '5.0.0' : '4.0.0');
  const diagnostic = `${ds.code ?? ''} ${ds.message ?? ds.description ?? ''}`.trim().slice(0, 500);
  return {
    ok: true,
    events: [
      event({
        kind: e.severity === 'permanent' && isPermanent(status) ? 'hard-bounce' : 'soft-bounce',
        recipient: e.recipient,
        email: e.recipient,
        status,
        diagnostic,
        mailboxFull: isMailboxFull(status),
        messageId,
      }),
    ],
  };
}

function postmark(body: string, headers: Headers, keys: ProviderKeys): ProviderRequest {
  if (!keys.postmarkAuth)
    return { ok: false, status: 404, message: 'Postmark’s webhook is not set up: set MAILROOM_POSTMARK_AUTH (user:password in its URL).' };
  const given = headers.get('authorization') ?? '';
  if (!safeEqual(given, `Basic ${Buffer.from(keys.postmarkAuth).toString('base64')}`)) {
    return { ok: false, status: 401, message: 'The Postmark credentials are not the ones set up.' };
  }
  const e = JSON.parse(body) as { RecordType?: string; Type?: string; Email: string; Description?: string; Details?: string };
  if (e.RecordType === 'SpamComplaint')
    return {
      ok: true,
      events: [event({ kind: 'complaint', recipient: e.Email, email: e.Email, status: 'abuse', diagnostic: '', messageId: null })],
    };
  if (e.RecordType !== 'Bounce') return { ok: true, events: [] };
  const hard = e.Type === 'HardBounce' || e.Type === 'BadEmailAddress';
  const status = enhancedStatus(e.Details ?? '') || (hard ? '5.0.0' : '4.0.0');
  return {
    ok: true,
    events: [
      event({
        kind: hard ? 'hard-bounce' : 'soft-bounce',
        recipient: e.Email,
        email: e.Email,
        status,
        diagnostic: `${e.Description ?? ''} ${e.Details ?? ''}`.trim().slice(0, 500),
        mailboxFull: e.Type === 'SoftBounce' && /mailbox.*full|quota/i.test(e.Details ?? ''),
        messageId: null,
      }),
    ],
  };
}

/** Reads and checks a provider's webhook request. */
export async function readProviderRequest(
  provider: Provider,
  body: string,
  headers: Headers,
  keys: ProviderKeys,
  options: { now: Date; fetchCertificate: CertificateFetcher },
): Promise<ProviderRequest> {
  try {
    if (provider === 'ses') return await ses(body, keys, options.fetchCertificate);
    if (provider === 'sendgrid') return sendgrid(body, headers, keys);
    if (provider === 'mailgun') return mailgun(body, keys, options.now);
    return postmark(body, headers, keys);
  } catch (error) {
    return { ok: false, status: 400, message: `The ${provider} request could not be read: ${(error as Error).message}.` };
  }
}
