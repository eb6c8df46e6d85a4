/**
 * The bytes on the wire: a delivery sent by the engine through the SMTP thread to the
 * built-in sink over TCP, each message read back as a recipient's server would (mailparser)
 * and compared with what the renderer produced for that recipient; and the raw lines
 * checked against RFC 5322 and RFC 2045. Whatever the sending path skips for speed (the
 * dot-stuffing pass, say), these must hold.
 */

import { simpleParser } from 'mailparser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSmtpSink, type SmtpSink } from '../sink/smtp-sink';
import type { Stores } from '../store/stores';
import { createKit, eventually, handOver, newProfile, SAMPLE_DELIVERY, testStores, type Kit } from '../test-kit';
import type { OutgoingMessage } from './compose';
import type { Messenger } from './messenger';
import { createThreadedMessenger } from './threaded-messenger';

let sink: SmtpSink;
let kit: Kit;
let sinkStores: Stores;
/** What the engine handed to the messenger, by recipient: the renderer's output, tracking included. */
const composed = new Map<string, OutgoingMessage>();
/** What the sink received, by recipient. */
const raw = new Map<string, Buffer>();

// Lines that start with a dot (stuffed on the wire, unstuffed by the receiver), a line far
// past 998 characters, non-ASCII text, and Liquid on every line that changes per recipient.
const HTML = [
  '<html><body><h1>Hallo {{ first_name }} {{ last_name }},</h1>',
  '.a line that starts with a dot',
  '..and one with two',
  `<p>${'Ééén héél lange regel zonder einde, '.repeat(80)}</p>`,
  `<p>${'x'.repeat(3000)}</p>`,
  '<p>Café ☕ in {{ city }} — 10 % korting</p>',
  '.',
  '<a href="https://shop.example.com/herfst?utm_source=mail&amp;x=1">Bekijk</a>',
  '<a href="{{ unsubscribe_url }}">Afmelden</a></body></html>',
].join('\n');

const PEOPLE = [
  newProfile({ email: 'anna@example.com', firstName: 'Anna', lastName: 'de Vries' }),
  newProfile({ email: 'zoe@example.com', firstName: 'Zoë', lastName: '.Punt' }),
  newProfile({ email: 'li@example.com', firstName: '李', lastName: '\r\n.\r\nRCPT TO:<evil@example.com>' }),
  newProfile({ email: 'emoji@example.com', firstName: '🎉'.repeat(40), lastName: 'x' }),
];

beforeAll(async () => {
  sinkStores = await testStores();
  sink = await startSmtpSink(sinkStores.mailbox, 0);
  const threaded = createThreadedMessenger({ url: `smtp://127.0.0.1:${sink.port}`, maxConnections: 2, maxMessagesPerConnection: 100 });
  const recording: Messenger = {
    send: (message) => (composed.set(message.to, message), threaded.send(message)),
    probe: () => threaded.probe!(),
    close: () => threaded.close(),
  };
  kit = await createKit({ messenger: recording });
  await kit.services.audience.declareAttribute({ name: 'city', label: 'City', type: 'text' });
  await kit.services.audience.upsertMany(PEOPLE, 'test', new Date());
  const { contentHash } = await handOver(kit, 'wire', { ...SAMPLE_DELIVERY, subject: 'Voor {{ first_name }}: de herfst ☕', html: HTML });
  await kit.request('/api/deliveries/wire/send', { json: { contentHash, scheduledAt: null } });
  await eventually(async () => (await kit.services.deliveries.status('wire')) === 'completed', 10_000);
  for (const entry of await sinkStores.mailbox.list(10)) raw.set(entry.envelopeTo, (await sinkStores.mailbox.get(entry.id))!.raw);
});

afterAll(async () => {
  await kit.close();
  await sink.close();
  await sinkStores.close();
});

/** Returns the decoded body of each part of a multipart message, by content type, from its raw bytes. */
function partsOf(bytes: Buffer): Record<string, string> {
  const text = bytes.toString('latin1');
  const boundary = /boundary="([^"]+)"/.exec(text)![1];
  const parts: Record<string, string> = {};
  for (const part of text.split(`--${boundary}`).slice(1, -1)) {
    const [head, body] = part.replace(/^\r\n/, '').split('\r\n\r\n');
    expect(head).toMatch(/Content-Transfer-Encoding: base64/);
    expect(
      body
        .trimEnd()
        .split('\r\n')
        .every((line) => line.length <= 76 && /^[A-Za-z0-9+/=]*$/.test(line)),
    ).toBe(true);
    parts[/Content-Type: ([\w/]+)/.exec(head)![1]] = Buffer.from(body, 'base64').toString('utf8');
  }
  return parts;
}

describe('a message as it reaches the relay', () => {
  it('reaches it for every recipient', () => {
    expect([...raw.keys()].sort()).toEqual(PEOPLE.map((p) => p.email).sort());
    expect([...composed.keys()].sort()).toEqual(PEOPLE.map((p) => p.email).sort());
  });

  it('reads back, part by part, exactly as the renderer produced it', async () => {
    for (const [email, bytes] of raw) {
      const parsed = await simpleParser(bytes);
      const sent = composed.get(email)!;
      // mailparser gives text with LF line ends; the parts' own bytes are compared below.
      expect(parsed.html).toBe(sent.html.replace(/\r\n/g, '\n'));
      expect(parsed.text).toBe(sent.text.replace(/\r\n/g, '\n'));
      expect(partsOf(bytes)).toEqual({ 'text/plain': sent.text, 'text/html': sent.html });
      expect(parsed.subject).toBe(sent.subject);
      expect(parsed.messageId).toBe(sent.messageId);
      expect(parsed.from?.value[0]).toEqual({ name: sent.from.name, address: sent.from.address });
      expect((Array.isArray(parsed.to) ? parsed.to[0] : parsed.to)?.value[0].address).toBe(email);
    }
    // The dot lines and the recipient's values are there, in both parts.
    const zoe = composed.get('zoe@example.com')!;
    expect(zoe.html).toContain('\n.a line that starts with a dot\n..and one with two\n');
    expect(zoe.html).toContain('Hallo Zoë .Punt');
  });

  it('keeps every line within RFC 5322: CRLF only, at most 998 characters, headers folded at 78', () => {
    for (const bytes of raw.values()) {
      const text = bytes.toString('latin1');
      expect(text).not.toMatch(/\r(?!\n)|(?<!\r)\n/); // no bare CR or LF
      const lines = text.split('\r\n');
      expect(lines.filter((line) => line.length > 998)).toEqual([]);
      const headers = lines.slice(0, lines.indexOf(''));
      expect(headers.filter((line) => line.length > 78)).toEqual([]);
      // Headers are ASCII (non-ASCII as encoded words); the body is base64 in lines of 76.
      expect(headers.join('')).toMatch(/^[\x20-\x7e\t]*$/);
    }
  });

  it('has one From, one To and one Subject, whatever a profile value holds', () => {
    for (const bytes of raw.values()) {
      const names = bytes
        .toString('latin1')
        .split('\r\n\r\n')[0]
        .split('\r\n')
        .filter((line) => !/^[ \t]/.test(line))
        .map((line) => line.slice(0, line.indexOf(':')).toLowerCase());
      for (const name of ['from', 'to', 'subject', 'message-id', 'date']) expect(names.filter((n) => n === name)).toHaveLength(1);
      expect(names).not.toContain('rcpt to');
    }
  });
});
