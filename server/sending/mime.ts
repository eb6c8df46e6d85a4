/**
 * The message as it goes over SMTP, built in one pass: headers, then multipart/alternative
 * with the text and HTML parts in base64. nodemailer's composer streams every message
 * through a chain of encoders; a campaign's messages all have one shape, so building the
 * bytes directly costs a fraction and leaves nodemailer the SMTP conversation (and DKIM).
 *
 * Header values arrive on one line (compose.ts); anything beyond printable ASCII is sent as
 * RFC 2047 encoded words, so no value can add or break a header.
 */

import type { OutgoingMessage } from './compose';

/** Characters a display name may hold without being encoded (RFC 5322 atext and spaces). */
const PLAIN_PHRASE = /^[A-Za-z0-9 !#$%&'*+\-/=?^_`{|}~]*$/;
/** Characters an unstructured header (Subject) may hold as is. */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;

/** Returns the message's bytes (CRLF line ends), ready for SMTP DATA. */
export function buildRawMessage(message: OutgoingMessage, date: Date): string {
  const boundary = `=_mailroom_${message.messageId.replace(/[^A-Za-z0-9]/g, '').slice(0, 40)}`;
  const headers = [
    `From: ${phrase(message.from.name)}<${message.from.address}>`,
    `To: <${message.to}>`,
    `Subject: ${unstructured(message.subject)}`,
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    `Message-ID: ${message.messageId}`,
    'MIME-Version: 1.0',
  ];
  for (const [name, value] of Object.entries(message.headers)) headers.push(`${name}: ${unstructured(value)}`);
  headers.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
  return (
    headers.join('\r\n') +
    '\r\n\r\n' +
    `--${boundary}\r\n` +
    part('text/plain', message.text) +
    `--${boundary}\r\n` +
    part('text/html', message.html) +
    `--${boundary}--\r\n`
  );
}

function part(type: string, body: string): string {
  return `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${base64Lines(body)}\r\n`;
}

/** Base64 in lines of 76 characters (RFC 2045). */
function base64Lines(text: string): string {
  const encoded = Buffer.from(text, 'utf8').toString('base64');
  const lines: string[] = [];
  for (let at = 0; at < encoded.length; at += 76) lines.push(encoded.slice(at, at + 76));
  return lines.join('\r\n');
}

/** A display name followed by a space, as is when plain, else as encoded words; empty stays empty. */
function phrase(name: string): string {
  if (name === '') return '';
  return PLAIN_PHRASE.test(name) ? `${name} ` : `${encodedWords(name)} `;
}

/** An unstructured header value: as is when printable ASCII, else as encoded words. */
function unstructured(value: string): string {
  return PLAIN_TEXT.test(value) ? value : encodedWords(value);
}

/** RFC 2047 B-encoded words of at most 75 characters, on folded lines; never splits a character. */
function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const character of text) {
    // 45 bytes of UTF-8 make 60 characters of base64: with "=?utf-8?B?" and "?=" a word stays under 75.
    if (Buffer.byteLength(chunk + character, 'utf8') > 45) {
      words.push(chunk);
      chunk = '';
    }
    chunk += character;
  }
  if (chunk) words.push(chunk);
  return words.map((word) => `=?utf-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join('\r\n ');
}
