/** The built-in sink's mailbox: every message it accepted, as received, searchable and paged newest first. */

import type { Db } from './database';

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
  add(message: Omit<MailboxMessage, 'id'>): number;
  /** Returns the newest messages first, without their raw source. */
  list(limit: number): Omit<MailboxMessage, 'raw'>[];
  /** Returns one page of the messages matching the search, newest first (keyset paging by id). */
  page(options: PageOptions): MailboxPage;
  get(id: number): MailboxMessage | undefined;
  count(): number;
}

export function sqliteMailboxStore(db: Db): MailboxStore {
  // The subject and From live in the raw message: read from its header, decoded, when a search or a list needs them.
  db.function('mailroom_mail_subject', { deterministic: true }, (raw: unknown) => (Buffer.isBuffer(raw) ? headerOf(raw, 'subject') : ''));
  db.function('mailroom_mail_search_text', { deterministic: true }, (raw: unknown, from: unknown, to: unknown) =>
    [String(to), String(from), ...(Buffer.isBuffer(raw) ? [headerOf(raw, 'subject'), headerOf(raw, 'from'), headerOf(raw, 'to')] : [])]
      .join('\n')
      .toLowerCase(),
  );
  const add = db.prepare('INSERT INTO mailbox (received_at, envelope_from, envelope_to, raw) VALUES (?, ?, ?, ?)');
  const list = db.prepare(
    'SELECT id, received_at AS receivedAt, envelope_from AS envelopeFrom, envelope_to AS envelopeTo FROM mailbox ORDER BY id DESC LIMIT ?',
  );
  const get = db.prepare(
    'SELECT id, received_at AS receivedAt, envelope_from AS envelopeFrom, envelope_to AS envelopeTo, raw FROM mailbox WHERE id = ?',
  );
  const count = db.prepare('SELECT COUNT(*) FROM mailbox').pluck();
  const statements = new Map<string, ReturnType<Db['prepare']>>();
  /** A statement over the messages matching `words` (each must be found) and `range`, prepared once per shape. */
  const select = (what: string, words: number, range: string, order: string) => {
    const key = `${what}|${words}|${range}|${order}`;
    let statement = statements.get(key);
    if (!statement) {
      const conditions = [
        ...Array.from({ length: words }, () => 'instr(mailroom_mail_search_text(raw, envelope_from, envelope_to), ?) > 0'),
        ...(range ? [range] : []),
      ];
      statement = db.prepare(`SELECT ${what} FROM mailbox ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ${order}`);
      if (what.startsWith('COUNT')) statement.pluck();
      statements.set(key, statement);
    }
    return statement;
  };
  const COLUMNS =
    'id, received_at AS receivedAt, envelope_from AS envelopeFrom, envelope_to AS envelopeTo, mailroom_mail_subject(raw) AS subject';

  return {
    add: (m) => Number(add.run(m.receivedAt, m.envelopeFrom, m.envelopeTo, m.raw).lastInsertRowid),
    list: (limit) => list.all(limit) as Omit<MailboxMessage, 'raw'>[],
    page({ search = '', before, after, limit }) {
      const words = search.toLowerCase().split(/\s+/).filter(Boolean);
      const counted = (range: string, ...bound: number[]) =>
        select('COUNT(*)', words.length, range, '').get([...words, ...bound]) as number;
      // Newest first; a page after an id is read oldest first from there, then turned around.
      let rows: MailboxEntry[];
      if (after !== undefined) {
        rows = (
          select(COLUMNS, words.length, 'id > ?', 'ORDER BY id ASC LIMIT ?').all([...words, after, limit + 1]) as MailboxEntry[]
        ).reverse();
        if (rows.length > limit) rows = rows.slice(1);
      } else if (before !== undefined) {
        rows = select(COLUMNS, words.length, 'id < ?', 'ORDER BY id DESC LIMIT ?').all([...words, before, limit + 1]) as MailboxEntry[];
        rows = rows.slice(0, limit);
      } else {
        rows = select(COLUMNS, words.length, '', 'ORDER BY id DESC LIMIT ?').all([...words, limit]) as MailboxEntry[];
      }
      const first = rows[0]?.id;
      const last = rows.at(-1)?.id;
      const newerCount = first === undefined ? 0 : counted('id > ?', first);
      const olderLeft = last === undefined ? 0 : counted('id < ?', last);
      return {
        messages: rows,
        total: counted(''),
        newerCount,
        older: olderLeft > 0 ? last! : null,
        newer: newerCount > 0 ? first! : null,
      };
    },
    get: (id) => get.get(id) as MailboxMessage | undefined,
    count: () => count.get() as number,
  };
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
