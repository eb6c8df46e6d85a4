/**
 * Relay providers' webhooks, over HTTP as each provider posts them, each signed as the
 * provider signs: Amazon SES through SNS (RSA over SNS's canonical string), SendGrid (ECDSA
 * P-256), Mailgun (HMAC) and Postmark (basic auth). A verified bounce quarantines, a complaint
 * denylists; a request that does not verify is refused and changes nothing.
 */

import { createHmac, createSign, generateKeyPairSync, sign } from 'node:crypto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { OutgoingMessage } from '../sending/compose';
import { createKit, eventually, handOver, newProfile, recordingMessenger, SAMPLE_DELIVERY, type Kit } from '../test-kit';

const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
const CERT_URL = 'https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-1234.pem';
const TOPIC = 'arn:aws:sns:eu-west-1:123456789012:mailroom-bounces';

let kit: Kit;
let sent: OutgoingMessage[];
let clock: Date;
let fetched: string[];

beforeEach(async () => {
  const recording = recordingMessenger();
  sent = recording.sent;
  fetched = [];
  kit = await createKit({
    messenger: recording.messenger,
    providerKeys: {
      sendgridPublicKey: ec.publicKey.export({ type: 'spki', format: 'der' }).toString('base64'),
      mailgunSigningKey: 'mailgun-signing-key',
      postmarkAuth: 'postmark:hook-secret',
      sesTopicArns: [TOPIC],
    },
    fetchCertificate: async (url) => {
      fetched.push(url);
      return rsa.publicKey.export({ type: 'spki', format: 'pem' }).toString();
    },
  });
  clock = new Date('2026-12-03T10:00:00.000Z');
  kit.services.now = () => clock;
  await kit.services.audience.upsertMany(
    Array.from({ length: 4 }, () => newProfile()),
    'test',
    new Date(),
  );
  const { contentHash } = await handOver(kit, 'd1', SAMPLE_DELIVERY);
  await kit.request('/api/deliveries/d1/send', { json: { contentHash, scheduledAt: null } });
  await eventually(async () => (await (await kit.request('/api/deliveries/d1')).json()).status === 'completed');
});
afterEach(() => kit.close());

const post = (provider: string, body: string, headers: Record<string, string> = {}) =>
  kit.app.request(`/hooks/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
const quarantine = async (email: string) => (await kit.services.audience.suppression(email)).quarantine;

/** An SNS notification of an SES event, signed as SNS signs (version 1: SHA1withRSA over the canonical fields). */
function sns(message: object, key = rsa.privateKey, topic = TOPIC): string {
  const m: Record<string, string> = {
    Type: 'Notification',
    MessageId: 'a1b2c3',
    TopicArn: topic,
    Message: JSON.stringify(message),
    Timestamp: '2026-12-03T10:01:00.000Z',
    SignatureVersion: '1',
    SigningCertURL: CERT_URL,
  };
  const canonical = ['Message', 'MessageId', 'Timestamp', 'TopicArn', 'Type'].map((f) => `${f}\n${m[f]}\n`).join('');
  m.Signature = createSign('RSA-SHA1').update(canonical).sign(key, 'base64');
  return JSON.stringify(m);
}

describe('relay providers’ webhooks', () => {
  it('Amazon SES through SNS: a verified permanent bounce quarantines the address its Message-ID names', async () => {
    const [message] = sent;
    const note = {
      notificationType: 'Bounce',
      bounce: {
        bounceType: 'Permanent',
        bounceSubType: 'General',
        bouncedRecipients: [{ emailAddress: message.to, status: '5.1.1', diagnosticCode: 'smtp; 550 5.1.1 user unknown' }],
      },
      mail: { headers: [{ name: 'Message-ID', value: message.messageId }] },
    };
    // Signed by someone else, or for another topic: refused, nothing changes.
    const forged = await post('ses', sns(note, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey));
    expect(forged.status).toBe(403);
    expect((await post('ses', sns(note, rsa.privateKey, 'arn:aws:sns:eu-west-1:1:other'))).status).toBe(403);
    expect(await quarantine(message.to)).toBeNull();
    const response = await post('ses', sns(note));
    expect(await response.json()).toEqual({ recorded: 1 });
    expect(fetched).toContain(CERT_URL);
    expect(await quarantine(message.to)).toMatchObject({ reason: 'hard-bounce', smtpReply: 'bounced later: 5.1.1 550 5.1.1 user unknown' });
  });

  it('Amazon SES: a certificate not on Amazon’s host is not fetched', async () => {
    const body = JSON.parse(sns({ notificationType: 'Bounce' }));
    body.SigningCertURL = 'https://attacker.example/cert.pem';
    expect((await post('ses', JSON.stringify(body))).status).toBe(403);
    // On Amazon's host, but not SNS's certificate path: not fetched either.
    body.SigningCertURL = 'https://sns.eu-west-1.amazonaws.com/?Action=Anything';
    expect((await post('ses', JSON.stringify(body))).status).toBe(403);
    expect(fetched).toEqual([]);
  });

  it('SendGrid: a signed batch with a bounce and a spam report', async () => {
    const [a, b] = sent;
    const body = JSON.stringify([
      { email: a.to, event: 'bounce', type: 'bounce', status: '5.1.1', reason: '550 5.1.1 No such user', 'smtp-id': a.messageId },
      { email: b.to, event: 'spamreport', 'smtp-id': b.messageId },
      { email: b.to, event: 'open' },
    ]);
    const timestamp = String(Math.floor(clock.getTime() / 1000));
    const signature = sign('sha256', Buffer.from(timestamp + body), ec.privateKey).toString('base64');
    const headers = { 'x-twilio-email-event-webhook-signature': signature, 'x-twilio-email-event-webhook-timestamp': timestamp };
    expect((await post('sendgrid', body.replace('No such', 'Some'), headers)).status).toBe(403);
    expect(await (await post('sendgrid', body, headers)).json()).toEqual({ recorded: 2 });
    expect(await quarantine(a.to)).toMatchObject({ reason: 'hard-bounce' });
    expect((await kit.services.audience.suppression(b.to)).denylist).toMatchObject({ addedBy: 'feedback-loop' });
  });

  it('Mailgun: a complaint signed with the webhook key, and one signed long ago refused', async () => {
    const [message] = sent;
    const signed = (timestamp: string) => ({
      timestamp,
      token: 'token-1',
      signature: createHmac('sha256', 'mailgun-signing-key').update(`${timestamp}token-1`).digest('hex'),
    });
    const eventData = {
      event: 'complained',
      recipient: message.to,
      message: { headers: { 'message-id': message.messageId.slice(1, -1) } },
    };
    const old = String(Math.floor(clock.getTime() / 1000) - 3600);
    expect((await post('mailgun', JSON.stringify({ signature: signed(old), 'event-data': eventData }))).status).toBe(403);
    const now = String(Math.floor(clock.getTime() / 1000));
    expect(await (await post('mailgun', JSON.stringify({ signature: signed(now), 'event-data': eventData }))).json()).toEqual({
      recorded: 1,
    });
    // The same signed request again is a replay; a timestamp the token's characters were moved into is refused.
    expect((await post('mailgun', JSON.stringify({ signature: signed(now), 'event-data': eventData }))).status).toBe(403);
    const moved = { timestamp: `${now}tok`, token: 'en-1', signature: signed(now).signature };
    expect((await post('mailgun', JSON.stringify({ signature: moved, 'event-data': eventData }))).status).toBe(403);
    expect((await kit.services.audience.findByEmail(message.to))?.status).toBe('unsubscribed');
  });

  it('Postmark: a hard bounce with the webhook’s credentials, found by its address', async () => {
    const [message] = sent;
    const body = JSON.stringify({
      RecordType: 'Bounce',
      Type: 'HardBounce',
      Email: message.to,
      Description: 'The server was unable to deliver',
      Details: 'smtp;550 5.1.1 unknown',
    });
    expect((await post('postmark', body, { authorization: `Basic ${Buffer.from('postmark:wrong').toString('base64')}` })).status).toBe(401);
    const ok = await post('postmark', body, { authorization: `Basic ${Buffer.from('postmark:hook-secret').toString('base64')}` });
    expect(await ok.json()).toEqual({ recorded: 1 });
    expect(await quarantine(message.to)).toMatchObject({ reason: 'hard-bounce', smtpReply: expect.stringContaining('5.1.1') });
  });

  it('says which provider is not set up, and knows no other', async () => {
    const bare = await createKit();
    try {
      const response = await bare.app.request('/hooks/mailgun', { method: 'POST', body: '{}' });
      expect(response.status).toBe(404);
      expect((await response.json()).message).toMatch(/MAILROOM_MAILGUN_SIGNING_KEY/);
      expect((await bare.app.request('/hooks/brevo', { method: 'POST', body: '{}' })).status).toBe(404);
      // SES needs its topics named: any AWS account can sign messages of its own topic.
      const ses = await bare.app.request('/hooks/ses', { method: 'POST', body: sns({ notificationType: 'Bounce' }) });
      expect(ses.status).toBe(404);
      expect((await ses.json()).message).toMatch(/MAILROOM_SES_TOPIC_ARNS/);
    } finally {
      await bare.close();
    }
  });
});
