import { simpleParser } from 'mailparser';
import { describe, expect, it } from 'vitest';
import type { OutgoingMessage } from './compose';
import { isMarkedClean } from './data-stream';
import { buildRawBytes, checkHeaders, HeaderInjectionError } from './mime';

/** The message as text, as a receiving server reads the bytes. */
const buildRawMessage = (message: OutgoingMessage, date: Date) => buildRawBytes(message, date).toString('utf8');

/**
 * The message as the plain reading of RFC 2045 builds it, for buildRawBytes to be held to:
 * its own head, then each part's base64 cut into lines of 76 characters with string slices.
 */
function referenceMessage(message: OutgoingMessage, date: Date): string {
  const raw = buildRawMessage(message, date);
  const head = raw.slice(0, raw.indexOf('\r\n\r\n') + 4);
  const boundary = /boundary="([^"]+)"/.exec(head)![1];
  const lines = (text: string) =>
    Buffer.from(text, 'utf8')
      .toString('base64')
      .match(/.{1,76}/g)
      ?.join('\r\n') ?? '';
  const part = (type: string, body: string) =>
    `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${lines(body)}\r\n`;
  return `${head}--${boundary}\r\n${part('text/plain', message.text)}--${boundary}\r\n${part('text/html', message.html)}--${boundary}--\r\n`;
}

const message = (change: Partial<OutgoingMessage> = {}): OutgoingMessage => ({
  from: { name: 'Shop', address: 'news@shop.example.com' },
  to: 'anna@example.com',
  subject: 'Hello',
  html: '<p>Hello</p>',
  text: 'Hello',
  messageId: '<1.d1@shop.example.com>',
  headers: { 'List-Unsubscribe': '<https://mail.example.com/u/abc.def>' },
  ...change,
});

const headerLines = (raw: string) => raw.slice(0, raw.indexOf('\r\n\r\n')).split('\r\n');

describe('the MIME writer', () => {
  it.each([
    ['the Message-ID', { messageId: '<1.mid\r\nBcc: victim@example.com@shop.example.com>' }],
    ['an extra header', { headers: { 'X-Mailroom-Delivery': 'mid\r\nX-Injected: yes' } }],
    ['the subject', { subject: 'Hi\nBcc: victim@example.com' }],
    ['the recipient', { to: 'anna@example.com\r\nBcc: victim@example.com' }],
    ['the From name', { from: { name: 'Shop\rBcc: x@example.com', address: 'news@shop.example.com' } }],
  ])('refuses a line break in %s, whatever its origin', (_, change) => {
    expect(() => buildRawMessage(message(change), new Date())).toThrow(HeaderInjectionError);
    expect(() => checkHeaders(message(change))).toThrow(HeaderInjectionError);
  });

  it('folds a long plain subject at spaces: no line passes 78 characters, and it reads back the same', async () => {
    const subject = Array.from({ length: 140 }, (_, i) => `word${i}`).join(' ');
    expect(subject.length).toBeGreaterThan(990);
    const raw = buildRawMessage(message({ subject }), new Date());
    for (const line of headerLines(raw)) expect(line.length).toBeLessThanOrEqual(78);
    expect((await simpleParser(raw)).subject).toBe(subject);
  });

  it('encodes a subject with a word too long for one header line, within 998 octets a line', async () => {
    const subject = 'x'.repeat(1200);
    const raw = buildRawMessage(message({ subject }), new Date());
    for (const line of headerLines(raw)) expect(line.length).toBeLessThanOrEqual(998);
    expect((await simpleParser(raw)).subject).toBe(subject);
  });

  it('encodes a value that looks like an encoded word, so the reader sees it as written', async () => {
    const looksEncoded = '=?utf-8?B?QmNjOiB2aWN0aW1AZXhhbXBsZS5jb20=?=';
    const raw = buildRawMessage(
      message({ subject: `Hi ${looksEncoded}`, from: { name: looksEncoded, address: 'news@shop.example.com' } }),
      new Date(),
    );
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe(`Hi ${looksEncoded}`);
    expect(parsed.from?.value[0].name).toBe(looksEncoded);
    expect(raw).not.toMatch(/^Subject: Hi =\?utf-8\?B\?QmNj/m);
  });

  it('keeps non-ASCII subjects and names exact through encoded words of at most 78 characters a line', async () => {
    const subject = 'Ééé — 😀 '.repeat(30).trim();
    const raw = buildRawMessage(message({ subject, from: { name: 'Café Zoë', address: 'news@shop.example.com' } }), new Date());
    for (const line of headerLines(raw)) expect(line.length).toBeLessThanOrEqual(78);
    const parsed = await simpleParser(raw);
    expect(parsed.subject).toBe(subject);
    expect(parsed.from?.value[0].name).toBe('Café Zoë');
  });
});

describe('addresses in the headers', () => {
  it('carry an international domain name in punycode, and a non-ASCII local part in UTF-8 as it is (RFC 6532)', () => {
    const raw = buildRawMessage(message({ to: 'anna@пример.рф', from: { name: 'Shop', address: 'news@магазин.рф' } }), new Date());
    const lines = headerLines(raw);
    expect(lines).toContain('To: <anna@xn--e1afmkfd.xn--p1ai>');
    expect(lines).toContain('From: Shop <news@xn--80aairftm.xn--p1ai>');
    expect(raw).not.toMatch(/пример|магазин/);
    expect(headerLines(buildRawMessage(message({ to: 'jörg@bücher.de' }), new Date()))).toContain('To: <jörg@xn--bcher-kva.de>');
  });

  it('refuse a domain that has no ASCII form, rather than send it in Unicode', () => {
    expect(() => buildRawMessage(message({ to: 'anna@\u0301пример.рф' }), new Date())).toThrow(
      'the domain "\u0301пример.рф" has no valid ASCII (punycode) form',
    );
  });
});

describe('the message as bytes (buildRawBytes)', () => {
  const at = new Date('2026-12-02T10:00:00Z');

  it.each([
    ['ASCII', message()],
    ['UTF-8 in the body and the subject', message({ subject: 'Café ☕', html: '<p>Zoë 🎉</p>', text: 'Zoë 🎉' })],
    ['a UTF-8 local part (SMTPUTF8)', message({ to: 'jörg@bücher.de' })],
  ])('are the bytes of the plain reading of RFC 2045, UTF-8: %s', (_, m) => {
    expect(buildRawBytes(m, at).equals(Buffer.from(referenceMessage(m, at), 'utf8'))).toBe(true);
  });

  it('are the bytes of the plain reading for bodies of every length around the 57-byte lines of base64, empty too', () => {
    for (let length = 0; length <= 240; length++) {
      const body = 'é'.repeat(length % 7) + 'x'.repeat(length);
      const m = message({ text: body, html: body.slice(0, Math.floor(length / 2)) });
      expect(buildRawBytes(m, at).toString('utf8'), `length ${length}`).toBe(referenceMessage(m, at));
    }
  });

  it('are marked clean for DATA when the head is, and left to its pass when a header line would start with a dot', () => {
    expect(isMarkedClean(buildRawBytes(message({ html: '.\n..\n.dot', text: '.' }), at))).toBe(true);
    expect(isMarkedClean(buildRawBytes(message({ headers: { '.X-Odd': 'yes' } }), at))).toBe(false);
  });
});
