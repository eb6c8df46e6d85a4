/** The built-in sink's mailbox: every message it accepted, as received, searchable and paged newest first. */

export interface MailboxMessage {
  id: number;
  receivedAt: string;
  envelopeFrom: string;
  envelopeTo: string;
  raw: Buffer;
}

/** A message as the mailbox lists it: without its source, with its subject. */
export type MailboxEntry = Omit<MailboxMessage, 'raw'> & { subject: string };

export interface MailboxPage {
  messages: MailboxEntry[];
  /** Messages matching the search (all of them without one). */
  total: number;
  /** How many matching messages are newer than the first one listed (the page starts after them). */
  newerCount: number;
  /** The id to list `before` for the next, older page; null on the last page. */
  older: number | null;
  /** The id to list `after` for the previous, newer page; null on the first page. */
  newer: number | null;
}

export interface PageOptions {
  /** Words found in the recipient, the sender (envelope or From) or the subject, ignoring case. */
  search?: string;
  /** List the messages older than this id (the next page). */
  before?: number;
  /** List the messages newer than this id (the previous page). */
  after?: number;
  limit: number;
}

export interface MailboxStore {
  add(message: Omit<MailboxMessage, 'id'>): Promise<number>;
  /** Returns the newest messages first, without their raw source. */
  list(limit: number): Promise<Omit<MailboxMessage, 'raw'>[]>;
  /** Returns one page of the messages matching the search, newest first (keyset paging by id). */
  page(options: PageOptions): Promise<MailboxPage>;
  get(id: number): Promise<MailboxMessage | undefined>;
  count(): Promise<number>;
}

/** Returns a header of a raw message (unfolded, encoded words decoded), or '' when it has none. */
export function headerOf(raw: Buffer, name: string): string {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.subarray(0, end < 0 ? Math.min(raw.length, 65_536) : end).toString('utf8');
  const unfolded = head.replace(/\r?\n[ \t]+/g, ' ');
  const match = new RegExp(`^${name}:[ \\t]*(.*)$`, 'im').exec(unfolded);
  return match ? decodeWords(match[1].trim()) : '';
}

/** Returns a header value with its RFC 2047 encoded words (=?utf-8?B?…?= and =?utf-8?Q?…?=) decoded. */
export function decodeWords(value: string): string {
  return value
    .replace(/(=\?[^?]+\?[bq]\?[^?]*\?=)\s+(?==\?[^?]+\?[bq]\?)/gi, '$1')
    .replace(/=\?([^?*]+)(?:\*[^?]*)?\?([bq])\?([^?]*)\?=/gi, (_, charset: string, encoding: string, text: string) => {
      const bytes =
        encoding.toLowerCase() === 'b'
          ? Buffer.from(text, 'base64')
          : Buffer.from(
              text.replace(/_/g, ' ').replace(/=([0-9a-f]{2})/gi, (_h, hex: string) => String.fromCharCode(parseInt(hex, 16))),
              'latin1',
            );
      try {
        return new TextDecoder(charset).decode(bytes);
      } catch {
        return bytes.toString('latin1');
      }
    });
}

/**
 * Returns what the mailbox keeps of a message to list and search it without reading its
 * source again: its subject (decoded) and the text a search looks in — the envelope's
 * recipient and sender, and the Subject, From and To headers — lower-cased.
 */
export function mailboxTexts(raw: Buffer, envelopeFrom: string, envelopeTo: string): { subject: string; searchText: string } {
  const subject = headerOf(raw, 'subject');
  return { subject, searchText: [envelopeTo, envelopeFrom, subject, headerOf(raw, 'from'), headerOf(raw, 'to')].join('\n').toLowerCase() };
}
