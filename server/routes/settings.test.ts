/**
 * Sending settings through the real route: a relay with a login (an smtp-server in this
 * process), Test connection, switching the pool at runtime, DKIM signing, refusals.
 */

import { createHash, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { SMTPServer } from 'smtp-server';
import { createKit, eventually, handOver, newProfile, SAMPLE_DELIVERY, type Kit } from '../test-kit';

const received: string[] = [];
let relay: SMTPServer;
let relayUrl = '';
let port = 0;

beforeAll(async () => {
  relay = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, callback) {
      if (auth.username === 'mailroom' && auth.password === 's3cret') return callback(null, { user: 'mailroom' });
      callback(new Error('535 5.7.8 Authentication credentials invalid'));
    },
    onData(stream, _session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        received.push(Buffer.concat(chunks).toString());
        callback(null, '250 2.0.0 OK');
      });
    },
  });
  relay.on('error', () => {}); // a failed login ends connections abruptly
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const address = relay.server.address();
  port = typeof address === 'object' && address ? address.port : 0;
  relayUrl = `smtp://mailroom:s3cret@127.0.0.1:${port}`;
});
afterAll(() => new Promise<void>((resolve) => relay.close(() => resolve())));

let kit: Kit;
beforeEach(async () => {
  kit = await createKit();
  await kit.services.audience.upsertMany(
    Array.from({ length: 20 }, () => newProfile()),
    'test',
    new Date(),
  );
  received.length = 0;
});
afterEach(() => kit.close());

const put = (json: unknown) => kit.request('/api/settings', { method: 'PUT', json });

/**
 * Verifies a message's DKIM-Signature (rsa-sha256, relaxed/relaxed, RFC 6376) with the public
 * key, as a receiving server does: the body hash over the relaxed body, then the signature over
 * the relaxed headers it names and itself with b= empty. Returns what failed, or 'valid'.
 */
function verifyDkim(raw: string, publicKey: KeyObject): string {
  const split = raw.indexOf('\r\n\r\n');
  const fields = raw
    .slice(0, split)
    .split(/\r\n(?![ \t])/)
    .map((field) => ({ name: field.slice(0, field.indexOf(':')).trim().toLowerCase(), field }));
  const relaxedHeader = (field: string) => {
    const colon = field.indexOf(':');
    const value = field
      .slice(colon + 1)
      .replace(/\r\n(?=[ \t])/g, '')
      .replace(/[ \t]+/g, ' ')
      .trim();
    return `${field.slice(0, colon).trim().toLowerCase()}:${value}`;
  };
  const signature = fields.find((f) => f.name === 'dkim-signature');
  if (!signature) return 'no DKIM-Signature';
  const tags = new Map(
    relaxedHeader(signature.field)
      .slice('dkim-signature:'.length)
      .split(';')
      .map((tag) => tag.trim())
      .filter(Boolean)
      .map((tag) => [tag.slice(0, tag.indexOf('=')), tag.slice(tag.indexOf('=') + 1).replace(/\s+/g, '')] as const),
  );
  const body = raw
    .slice(split + 4)
    .split('\r\n')
    .map((line) => line.replace(/[ \t]+/g, ' ').replace(/ $/, ''));
  while (body.length && body[body.length - 1] === '') body.pop();
  const bodyHash = createHash('sha256')
    .update(body.length ? `${body.join('\r\n')}\r\n` : '')
    .digest('base64');
  if (bodyHash !== tags.get('bh')) return 'the body hash does not match';
  const used = new Map<string, number>();
  const signed = tags
    .get('h')!
    .split(':')
    .map((name) => name.toLowerCase())
    .flatMap((name) => {
      // Repeated names take the instances from the bottom up; a name without an instance signs nothing.
      const instances = fields.filter((f) => f.name === name && f !== signature);
      const n = (used.get(name) ?? 0) + 1;
      used.set(name, n);
      const instance = instances[instances.length - n];
      return instance ? [`${relaxedHeader(instance.field)}\r\n`] : [];
    });
  const own = relaxedHeader(signature.field).replace(/(;\s*b=)[^;]*/, '$1');
  return verify('RSA-SHA256', Buffer.from(signed.join('') + own), publicKey, Buffer.from(tags.get('b')!, 'base64'))
    ? 'valid'
    : 'the signature does not verify';
}
const base = { relayUrl: null, connections: 3, messagesPerConnection: 100, ratePerSecond: 0, dkim: null };

describe('sending settings', () => {
  it('are for signed-in operators only', async () => {
    expect((await kit.app.request('/api/settings')).status).toBe(401);
    expect((await kit.app.request('/api/settings/test-connection', { method: 'POST' })).status).toBe(401);
  });

  it('test a relay: connected and logged in, a wrong password, nobody listening', async () => {
    const test = async (url: string) => (await kit.request('/api/settings/test-connection', { json: { relayUrl: url } })).json();
    expect(await test(relayUrl)).toEqual({ ok: true, message: `Connected to 127.0.0.1:${port} and logged in: ready to send.` });
    const wrong = await test(`smtp://mailroom:nope@127.0.0.1:${port}`);
    expect(wrong.ok).toBe(false);
    expect(wrong.message).toContain('535 5.7.8 Authentication credentials invalid');
    const nobody = await test('smtp://127.0.0.1:1');
    expect(nobody).toMatchObject({ ok: false, message: expect.stringContaining('ECONNREFUSED') });
  });

  it('switch the pool to another relay at once, and never show its password', async () => {
    const saved = await put({ ...base, relayUrl });
    expect(saved.status).toBe(200);
    expect(await saved.json()).toMatchObject({ relayUrl: `smtp://mailroom:****@127.0.0.1:${port}`, connections: 3 });
    expect(JSON.stringify(await (await kit.request('/api/settings')).json())).not.toContain('s3cret');
    // Saving again with the masked URL keeps the stored password.
    expect((await put({ ...base, relayUrl: `smtp://mailroom:****@127.0.0.1:${port}` })).status).toBe(200);
    const { contentHash } = await handOver(kit, 'relay', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/relay/send', { json: { contentHash, scheduledAt: null } });
    await eventually(async () => (await kit.services.deliveries.status('relay')) === 'completed');
    expect(received).toHaveLength(20);
  });

  it('sign every message with DKIM once a key is configured', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const saved = await put({ ...base, relayUrl, dkim: { domainName: 'shop.example.com', keySelector: 'mail', privateKey: pem } });
    expect(await saved.json()).toMatchObject({ dkim: { domainName: 'shop.example.com', keySelector: 'mail' } });
    expect(JSON.stringify(await (await kit.request('/api/settings')).json())).not.toContain('PRIVATE KEY');
    const { contentHash } = await handOver(kit, 'dkim', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/dkim/send', { json: { contentHash, scheduledAt: null } });
    await eventually(async () => (await kit.services.deliveries.status('dkim')) === 'completed');
    expect(received).toHaveLength(20);
    for (const raw of received) {
      expect(raw).toMatch(/^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=shop\.example\.com;[\s\S]*s=mail;[\s\S]*bh=/m);
      // As a receiving server checks it: each message verifies with the public key.
      expect(verifyDkim(raw, publicKey)).toBe('valid');
    }
    // And the check can fail: a byte changed in the body, or in a signed header, is caught.
    expect(verifyDkim(received[0].replace(/\r\n\r\n([A-Za-z0-9+/])/, '\r\n\r\nX$1'), publicKey)).not.toBe('valid');
    expect(verifyDkim(received[0].replace(/^Subject: /m, 'Subject: x'), publicKey)).toBe('the signature does not verify');
  });

  it('refuse what cannot be used, saying why, and keep the settings as they were', async () => {
    const bad = await put({ ...base, relayUrl: 'http://relay.example.com' });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toContain('the relay must look like smtp://');
    const badKey = await put({ ...base, relayUrl, dkim: { domainName: 'shop.example.com', keySelector: 'mail', privateKey: 'not a key' } });
    expect(badKey.status).toBe(422);
    expect((await badKey.json()).message).toBe('The DKIM private key must be in PEM format (-----BEGIN PRIVATE KEY-----).');
    expect(await (await kit.request('/api/settings')).json()).toMatchObject({ relayUrl: null, connections: 5 });
  });
});

describe('the public address of tracking and unsubscribe links', () => {
  it('is told to the app with the session, and the settings say when recipients cannot reach it', async () => {
    const local = await createKit({ publicUrl: 'http://localhost:8080' });
    try {
      expect(await (await local.request('/api/session')).json()).toEqual({
        username: 'admin',
        role: 'admin',
        publicUrl: 'http://localhost:8080',
      });
      const settings = await (await local.request('/api/settings')).json();
      expect(settings.publicUrl).toBe('http://localhost:8080');
      expect(settings.publicUrlProblems).toEqual([
        expect.stringMatching(/point at http:\/\/localhost:8080, which recipients cannot reach: set MAILROOM_PUBLIC_URL/),
      ]);
    } finally {
      await local.close();
    }
    const public_ = await createKit();
    try {
      expect((await (await public_.request('/api/settings')).json()).publicUrlProblems).toEqual([]);
    } finally {
      await public_.close();
    }
  });
});

describe('the bounce policy', () => {
  it('starts at the defaults, is changed by an admin for every node, and is audited', async () => {
    const first = await (await kit.request('/api/settings/bounces')).json();
    expect(first.policy).toEqual(first.defaults);
    expect(first.policy).toMatchObject({ softLimit: 5, softDays: 30, mailboxFullDays: 30, hardBounceRate: 0.05, complaintRate: 0.003 });
    const policy = { ...first.policy, softLimit: 3, complaintRate: 0.001 };
    const saved = await kit.request('/api/settings/bounces', { method: 'PUT', json: policy });
    expect(saved.status).toBe(200);
    expect(await kit.services.lateOutcomes.policy()).toEqual(policy);
    const [entry] = (await (await kit.request('/api/audit?action=settings-changed')).json()).entries;
    expect(entry.detail).toBe('Changed soft bounces that quarantine 5 → 3, complaint rate that pauses 0.003 → 0.001.');
  });

  it('refuses a policy that makes no sense, and anyone but an admin', async () => {
    const { defaults } = await (await kit.request('/api/settings/bounces')).json();
    const bad = await kit.request('/api/settings/bounces', { method: 'PUT', json: { ...defaults, softLimit: 0 } });
    expect(bad.status).toBe(400);
    expect((await bad.json()).message).toMatch(/softLimit/);
    const marketer = await kit.signInAs('mara', 'marketer');
    expect((await marketer('/api/settings/bounces', { method: 'PUT', json: defaults })).status).toBe(403);
    expect((await marketer('/api/settings/bounces')).status).toBe(200);
  });
});
