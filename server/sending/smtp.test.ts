/**
 * Real SMTP: the engine sends through the SMTP pool (nodemailer's SMTPConnection) to the built-in sink over TCP, and
 * the messages are read back with mailparser, as a recipient's mail server would see them.
 */

import { simpleParser, type ParsedMail } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bounceAddress } from '../bounces/verp';
import { startSmtpSink, type SmtpSink } from '../sink/smtp-sink';
import type { Stores } from '../store/stores';
import { createKit, eventually, handOver, newProfile, PUBLIC_URL, SAMPLE_DELIVERY, testStores, type Kit } from '../test-kit';
import { createPooledMessenger } from './smtp-pool';

let sink: SmtpSink;
let kit: Kit;
let messages: ParsedMail[];
let envelopes: { envelopeTo: string; envelopeFrom: string }[];
/** The sink's own database, apart from the kit's, as the built-in sink has its mailbox. */
let sinkStores: Stores;

const NASTY = {
  html: '<img src=x onerror="alert(1)"> & "quotes"',
  header: 'Eve\r\nBcc: victim@example.com',
};

beforeAll(async () => {
  sinkStores = await testStores();
  const { mailbox } = sinkStores;
  sink = await startSmtpSink(mailbox, 0);
  const messenger = createPooledMessenger({ url: `smtp://127.0.0.1:${sink.port}`, maxConnections: 3, maxMessagesPerConnection: 100 });
  kit = await createKit({ messenger, bounceDomain: 'bounces.example.com' });
  await kit.services.audience.upsertMany(
    [
      newProfile({ email: 'html@example.com', firstName: NASTY.html }),
      newProfile({ email: 'header@example.com', firstName: NASTY.header }),
      newProfile({ email: 'plain@example.com', firstName: 'Anna' }),
    ],
    'test',
    new Date(),
  );
  const { contentHash } = await handOver(kit, 'smtp', {
    ...SAMPLE_DELIVERY,
    fromName: 'Shop\r\nBcc: evil@example.com',
    subject: 'Hello {{ first_name }}',
  });
  await kit.request('/api/deliveries/smtp/send', { json: { contentHash, scheduledAt: null } });
  await eventually(async () => (await (await kit.request('/api/deliveries/smtp')).json()).status === 'completed', 10_000);
  const received = await mailbox.list(10);
  envelopes = received;
  messages = await Promise.all(received.map(async (m) => simpleParser((await mailbox.get(m.id))!.raw)));
});

afterAll(async () => {
  await kit.close();
  await sink.close();
  await sinkStores.close();
});

/** Returns a header as it was written on the wire (unfolded), without its name. */
const rawHeader = (m: ParsedMail, key: string) =>
  m.headerLines
    .find((h) => h.key === key)
    ?.line.replace(/^[^:]+:\s*/, '')
    .replace(/\r?\n\s+/g, ' ');
/** Returns the https URL of List-Unsubscribe. */
const unsubscribeUrl = (m: ParsedMail) => /<(https?:[^>]+)>/.exec(rawHeader(m, 'list-unsubscribe')!)![1];

const to = (address: string) => messages.find((m) => (Array.isArray(m.to) ? m.to[0] : m.to)?.value[0].address === address)!;

describe('messages over real SMTP', () => {
  it('reaches the sink once per recipient, each with one envelope recipient', () => {
    expect(messages).toHaveLength(3);
    expect(envelopes.map((e) => e.envelopeTo).sort()).toEqual(['header@example.com', 'html@example.com', 'plain@example.com']);
  });

  it('comes from its own signed return path on the bounce domain (VERP), the From header unchanged', async () => {
    const rows = await kit.sql<{ id: number; email: string }>("SELECT id, email FROM journal WHERE delivery_id = 'smtp'");
    for (const envelope of envelopes) {
      const row = rows.find((r) => r.email === envelope.envelopeTo)!;
      expect(envelope.envelopeFrom).toBe(bounceAddress(Number(row.id), 'bounces.example.com', 'test-secret'));
    }
    for (const m of messages) expect(m.from?.value[0].address).toBe(SAMPLE_DELIVERY.fromAddress);
  });

  it('has the headers a mailbox provider expects', () => {
    const m = to('plain@example.com');
    expect(m.subject).toBe('Hello Anna');
    expect(m.from?.value[0]).toEqual({ address: 'news@shop.example.com', name: 'Shop Bcc: evil@example.com' });
    expect(m.messageId).toMatch(/^<\d+\.smtp@shop\.example\.com>$/);
    expect(rawHeader(m, 'list-unsubscribe')).toMatch(
      new RegExp(`^<${PUBLIC_URL}/u/[\\w-]+\\.[\\w-]+>, <mailto:unsubscribe@shop\\.example\\.com\\?subject=unsubscribe-\\d+>$`),
    );
    expect(rawHeader(m, 'list-unsubscribe-post')).toBe('List-Unsubscribe=One-Click');
  });

  it('is multipart/alternative with an HTML and a text part', () => {
    const m = to('plain@example.com');
    expect(m.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(m.html).toContain('<p>Hi Anna</p>');
    expect(m.text).toContain('Hi Anna');
  });

  it('escapes profile values in the HTML', () => {
    const html = to('html@example.com').html as string;
    expect(html).toContain('<p>Hi &lt;img src=x onerror=&quot;alert(1)&quot;&gt; &amp; &quot;quotes&quot;</p>');
    expect(html).not.toContain('<img src=x');
  });

  it('never lets a profile value or the From name add a header', () => {
    for (const m of messages) {
      expect(m.headers.has('bcc')).toBe(false);
      expect(m.bcc).toBeUndefined();
    }
    expect(to('header@example.com').subject).toBe('Hello Eve Bcc: victim@example.com');
    expect(envelopes.map((e) => e.envelopeTo).join()).not.toMatch(/victim|evil/);
  });

  it('rewrites links through signed click URLs and adds an open pixel', () => {
    const html = to('plain@example.com').html as string;
    const links = [...html.matchAll(/href="([^"]+)"/g)].map((match) => match[1]);
    expect(links[0]).toMatch(new RegExp(`^${PUBLIC_URL}/t/c/[\\w-]+\\.[\\w-]+$`));
    expect(links[1]).toMatch(new RegExp(`^${PUBLIC_URL}/u/`)); // the unsubscribe link is not tracked
    expect(html).toMatch(new RegExp(`<img src="${PUBLIC_URL}/t/o/[\\w-]+\\.[\\w-]+" width="1" height="1"`));
    expect(html).not.toContain('shop.example.com/sale');
  });
});

describe('tracking the received messages', () => {
  const path = (url: string) => url.slice(PUBLIC_URL.length);
  const clickUrl = () => [...(to('plain@example.com').html as string).matchAll(/href="([^"]+)"/g)][0][1];
  const pixelUrl = () => /<img src="([^"]+)"/.exec(to('plain@example.com').html as string)![1];
  const kpis = async () => (await kit.request('/api/deliveries/smtp')).json();

  it('redirects a click to the original URL and counts unique clickers', async () => {
    // A person, ten minutes after delivery (a click within seconds is a link scanner's).
    const later = Date.now() + 600_000;
    kit.services.now = () => new Date(later);
    const person = { headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/124.0 Safari/537.36' } };
    const first = await kit.app.request(path(clickUrl()), person);
    expect(first.status).toBe(302);
    expect(first.headers.get('location')).toBe('https://shop.example.com/sale?a=1&b=2');
    await kit.app.request(path(clickUrl()), person);
    expect(await kpis()).toMatchObject({ clicks: 1, totalClicks: 2, opens: 1, machineClicks: 0 });
  });

  it('never redirects for an altered or forged token', async () => {
    const url = path(clickUrl());
    const [payload, mac] = url.slice('/t/c/'.length).split('.');
    const otherLink = Buffer.from(
      Buffer.from(payload, 'base64url')
        .toString()
        .replace(/\.(\d+)$/, '.999'),
    ).toString('base64url');
    for (const forged of [`/t/c/${otherLink}.${mac}`, `/t/c/${payload}.${mac.slice(0, -2)}AA`, '/t/c/nonsense', `/t/c/${payload}`]) {
      const response = await kit.app.request(forged);
      expect(response.status).toBe(404);
      expect(response.headers.get('location')).toBeNull();
    }
  });

  it('counts an open from the pixel once per recipient', async () => {
    const response = await kit.app.request(path(pixelUrl()));
    expect(response.headers.get('content-type')).toBe('image/gif');
    expect(response.headers.get('cache-control')).toContain('no-store');
    const pixelOfAnother = /<img src="([^"]+)"/.exec(to('html@example.com').html as string)![1];
    await kit.app.request(path(pixelOfAnother));
    expect((await kpis()).opens).toBe(2);
  });

  it('unsubscribes in one click (RFC 8058) and the change reaches the sync log', async () => {
    const url = path(unsubscribeUrl(to('plain@example.com')));
    const before = (await kit.services.audience.changesSince(0, 10_000)).cursor;
    const response = await kit.app.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(response.status).toBe(200);
    const page = await kit.services.audience.changesSince(before, 10);
    expect(page.profiles.map((p) => [p.email, p.status])).toEqual([['plain@example.com', 'unsubscribed']]);
  });

  it('shows the preference centre for the unsubscribe link, its one button posting back to the link, escaping the address', async () => {
    const url = path(unsubscribeUrl(to('html@example.com')));
    const page = await (await kit.app.request(url)).text();
    expect(page).toContain(`<form method="post" action="${url}"><button type="submit" class="quiet">Afmelden voor alles</button></form>`);
    expect(page).toContain('html@example.com');
    expect((await kit.app.request('/u/forged.token')).status).toBe(404);
  });
});
