/** The built-in sink's mailbox in SQLite (see ../mailbox.ts). */

import { mailboxTexts, type MailboxEntry, type MailboxMessage, type MailboxStore } from '../mailbox';
import { asAsync, type Sync } from '../sync';
import type { Db } from './database';

export function sqliteMailboxStore(db: Db): MailboxStore {
  return asAsync<MailboxStore>(syncMailboxStore(db));
}

function syncMailboxStore(db: Db): Sync<MailboxStore> {
  // The subject and the search text are kept beside the source when a message arrives (mailboxTexts).
  const add = db.prepare(
    'INSERT INTO mailbox (received_at, envelope_from, envelope_to, raw, subject, search_text) VALUES (?, ?, ?, ?, ?, ?)',
  );
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
      const conditions = [...Array.from({ length: words }, () => 'instr(search_text, ?) > 0'), ...(range ? [range] : [])];
      statement = db.prepare(`SELECT ${what} FROM mailbox ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ${order}`);
      if (what.startsWith('COUNT')) statement.pluck();
      statements.set(key, statement);
    }
    return statement;
  };
  const COLUMNS = 'id, received_at AS receivedAt, envelope_from AS envelopeFrom, envelope_to AS envelopeTo, subject';

  return {
    add(m) {
      const { subject, searchText } = mailboxTexts(m.raw, m.envelopeFrom, m.envelopeTo);
      return Number(add.run(m.receivedAt, m.envelopeFrom, m.envelopeTo, m.raw, subject, searchText).lastInsertRowid);
    },
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
