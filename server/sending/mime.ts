/**
 * The message as it goes over SMTP, built in one pass: headers, then multipart/alternative
 * with the text and HTML parts in base64. nodemailer's composer streams every message
 * through a chain of encoders; a campaign's messages all have one shape, so building the
 * bytes directly costs a fraction and leaves nodemailer the SMTP conversation (and DKIM).
 *
 * Header values arrive on one line (compose.ts), and a value holding a line break is refused
 * here too, whatever its origin; anything beyond printable ASCII (or that a client would
 * decode as an encoded word) is sent as RFC 2047 encoded words; long lines are folded. So no
 * value can add or break a header. Addresses carry their domain in ASCII (punycode).
 */

import { asciiEmail } from '../../shared/email-address';
import type { OutgoingMessage } from './compose';
import { markClean, needsDataPass } from './data-stream';

/** Characters a display name may hold without being encoded (RFC 5322 atext and spaces). */
const PLAIN_PHRASE = /^[A-Za-z0-9 !#$%&'*+\-/=?^_`{|}~]*$/;
/** Characters an unstructured header (Subject) may hold as is. */
const PLAIN_TEXT = /^[\x20-\x7e]*$/;
/** Text a mail client would decode as an RFC 2047 encoded word: a value holding it is encoded itself. */
const LOOKS_ENCODED = /=\?/;
/** RFC 5322: lines SHOULD be at most 78 characters and MUST be at most 998. */
const FOLD_AT = 78;
const MAX_LINE = 998;

/** A header value held a line break: the message is refused rather than let it add a header. */
export class HeaderInjectionError extends Error {
  constructor(name: string) {
    super(`the ${name} header holds a line break; the message was not built`);
    this.name = 'HeaderInjectionError';
  }
}

/**
 * Returns the message's bytes (CRLF line ends), ready for SMTP DATA: headers, then
 * multipart/alternative with the text and HTML parts in base64 lines of 76 (RFC 2045). Throws
 * HeaderInjectionError when any header value holds a CR or LF, whatever its origin. Written in
 * place: the head as UTF-8, each part's base64 straight into the Buffer and its lines spread
 * out there (no string of lines is made). Marked clean for DATA (data-stream.ts) when it is:
 * base64 lines and boundaries never start with a dot and end in CRLF, so only the head (a few
 * hundred bytes) is looked at.
 */
export function buildRawBytes(message: OutgoingMessage, date: Date): Buffer {
  const { head, boundary } = headOf(message, date);
  const headBytes = Buffer.from(head, 'utf8');
  // The parts' UTF-8 is needed only while their base64 is written: one scratch Buffer holds
  // both, large enough for the most a UTF-16 unit can take (3 bytes), so each is encoded once.
  const most = 3 * (message.text.length + message.html.length);
  if (scratch.length < most) scratch = Buffer.allocUnsafeSlow(most);
  const textLength = scratch.write(message.text, 0, 'utf8');
  const htmlLength = scratch.write(message.html, textLength, 'utf8');
  const text = scratch.subarray(0, textLength);
  const html = scratch.subarray(textLength, textLength + htmlLength);
  const opening = `--${boundary}\r\n`;
  const closing = `--${boundary}--\r\n`;
  const textHead = partHead('text/plain');
  const htmlHead = partHead('text/html');
  const size =
    headBytes.length +
    2 * opening.length +
    textHead.length +
    htmlHead.length +
    base64LinesLength(text.length) +
    base64LinesLength(html.length) +
    4 +
    closing.length;
  const bytes = Buffer.allocUnsafe(size);
  let at = headBytes.copy(bytes, 0);
  at += bytes.write(opening + textHead, at, 'latin1');
  at = writeBase64Lines(bytes, at, text);
  at += bytes.write(`\r\n${opening}${htmlHead}`, at, 'latin1');
  at = writeBase64Lines(bytes, at, html);
  at += bytes.write(`\r\n${closing}`, at, 'latin1');
  if (at !== size) throw new Error(`the message was built as ${at} bytes, not the ${size} counted`);
  return needsDataPass(headBytes) ? bytes : markClean(bytes);
}

/** Where buildRawBytes encodes the parts before their base64 is written (grown as needed, never shared across a call). */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);

/** The headers with the blank line after them, and the multipart boundary. */
function headOf(message: OutgoingMessage, date: Date): { head: string; boundary: string } {
  const boundary = `=_mailroom_${message.messageId.replace(/[^A-Za-z0-9]/g, '').slice(0, 40)}`;
  const headers = [
    header('From', `${phrase(oneLineOnly('From', message.from.name))}<${wireAddress('From', message.from.address)}>`),
    header('To', `<${wireAddress('To', message.to)}>`),
    header('Subject', unstructured('Subject', message.subject)),
    `Date: ${date.toUTCString().replace('GMT', '+0000')}`,
    header('Message-ID', oneLineOnly('Message-ID', message.messageId)),
    'MIME-Version: 1.0',
  ];
  for (const [name, value] of Object.entries(message.headers)) {
    if (!/^[!-9;-~]+$/.test(name)) throw new HeaderInjectionError(JSON.stringify(name));
    headers.push(header(name, oneLineOnly(name, value)));
  }
  headers.push(`Content-Type: multipart/alternative; boundary="${boundary}"`);
  return { head: headers.join('\r\n') + '\r\n\r\n', boundary };
}

/** Throws HeaderInjectionError when a header value of the message holds a line break; the engine then fails that message alone. */
export function checkHeaders(message: OutgoingMessage): void {
  oneLineOnly('From', message.from.name);
  oneLineOnly('From', message.from.address);
  oneLineOnly('To', message.to);
  oneLineOnly('Subject', message.subject);
  oneLineOnly('Message-ID', message.messageId);
  for (const [name, value] of Object.entries(message.headers)) oneLineOnly(name, value);
}

/**
 * Returns an address as a header carries it: an international domain name in punycode (the
 * envelope carries the same, smtp-pool.ts). A non-ASCII local part stays UTF-8, as RFC 6532
 * has it; the pool sends such a message only through a relay that offers SMTPUTF8. Throws
 * on a line break, and when the domain has no ASCII form.
 */
function wireAddress(name: string, address: string): string {
  return asciiEmail(oneLineOnly(name, address));
}

/** Returns the value when it holds no line break; throws otherwise. */
function oneLineOnly(name: string, value: string): string {
  if (/[\r\n]/.test(value)) throw new HeaderInjectionError(name);
  return value;
}

/**
 * Returns `name: value` folded before spaces so that lines stay within 78 characters where
 * a space allows (RFC 5322 2.2.3); unfolding gives the value back exactly. Throws when a line
 * would still pass 998 characters (values that may hold such a run are encoded first).
 */
function header(name: string, value: string): string {
  const line = `${name}: ${value}`;
  if (line.length <= FOLD_AT) return line;
  const lines: string[] = [];
  let current = '';
  // Split before every space: each piece but the first starts with the space it folds at.
  for (const piece of line.split(/(?= )/)) {
    if (current !== '' && current.length + piece.length > FOLD_AT) {
      lines.push(current);
      current = piece;
    } else current += piece;
  }
  lines.push(current);
  if (lines.some((l) => l.length > MAX_LINE)) throw new Error(`the ${name} header has a word too long for a header line`);
  return lines.join('\r\n');
}

/** A display name followed by a space, as is when plain, else as encoded words; empty stays empty. */
function phrase(name: string): string {
  if (name === '') return '';
  return PLAIN_PHRASE.test(name) && !LOOKS_ENCODED.test(name) && !/ {2}|^ | $/.test(name) ? `${name} ` : `${encodedWords(name)} `;
}

/**
 * An unstructured header value: as is when printable ASCII, else as encoded words — also when
 * it holds something a client would decode (`=?`), or a word too long to fold.
 */
function unstructured(name: string, value: string): string {
  oneLineOnly(name, value);
  const longestWord = Math.max(0, ...value.split(' ').map((word) => word.length));
  const plain = PLAIN_TEXT.test(value) && !LOOKS_ENCODED.test(value) && name.length + 2 + longestWord <= MAX_LINE;
  return plain ? value : encodedWords(value);
}

/**
 * RFC 2047 B-encoded words, separated by spaces (which a reader ignores between encoded
 * words, and where `header` folds); never splits a character.
 */
function encodedWords(text: string): string {
  const words: string[] = [];
  let chunk = '';
  for (const character of text) {
    // 39 bytes of UTF-8 make 52 characters of base64: with "=?utf-8?B?" and "?=" a word is 64,
    // so even "Subject: " and the first word fit in 78.
    if (Buffer.byteLength(chunk + character, 'utf8') > 39) {
      words.push(chunk);
      chunk = '';
    }
    chunk += character;
  }
  if (chunk) words.push(chunk);
  return words.map((word) => `=?utf-8?B?${Buffer.from(word, 'utf8').toString('base64')}?=`).join(' ');
}

function partHead(type: string): string {
  return `Content-Type: ${type}; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n`;
}

/** The length of `bytes` bytes of input as base64 in lines of 76 characters, CRLF between them. */
function base64LinesLength(bytes: number): number {
  const encoded = 4 * Math.ceil(bytes / 3);
  return encoded + 2 * Math.max(0, Math.ceil(encoded / 76) - 1);
}

/**
 * Writes `source` as base64 in lines of 76 characters into `target` at `at`; returns where it ends. The base64 is
 * written in one piece, then its lines are moved apart from the last one back (each lands
 * past where the ones before it still are) and the CRLFs put between them.
 */
function writeBase64Lines(target: Buffer, at: number, source: Buffer): number {
  const encoded = target.write(source.toString('base64'), at, 'latin1');
  const lines = Math.ceil(encoded / 76);
  for (let k = lines - 1; k > 0; k--) target.copyWithin(at + k * 78, at + k * 76, at + Math.min(encoded, k * 76 + 76));
  for (let k = 0; k < lines - 1; k++) {
    target[at + k * 78 + 76] = 13;
    target[at + k * 78 + 77] = 10;
  }
  return at + encoded + 2 * Math.max(0, lines - 1);
}
