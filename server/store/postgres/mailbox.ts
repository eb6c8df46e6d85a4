/** The built-in sink's mailbox in PostgreSQL (see ../mailbox.ts). */

import { mailboxTexts, type MailboxEntry, type MailboxMessage, type MailboxStore } from '../mailbox';
import { numbered, type Pg } from './database';

const COLUMNS = `id, received_at AS "receivedAt", envelope_from AS "envelopeFrom", envelope_to AS "envelopeTo"`;

export function postgresMailboxStore(sql: Pg): MailboxStore {
  /** Rows of the messages matching every word (each found in the search text) and `range`. */
  const select = async <T>(what: string, words: readonly string[], range: string, order: string, params: unknown[]) => {
    const conditions = [...words.map(() => 'strpos(search_text, ?) > 0'), ...(range ? [range] : [])];
    const text = `SELECT ${what} FROM mailbox ${conditions.length ? `WHERE ${conditions.join(' AND ')}` : ''} ${order}`;
    return (await sql.unsafe(numbered(text), [...words, ...params] as never[], { prepare: true })) as unknown as T[];
  };
  const counted = async (words: readonly string[], range: string, ...bound: number[]) =>
    Number((await select<{ n: number }>('COUNT(*) AS n', words, range, '', bound))[0].n);
  return {
    async add(m) {
      const { subject, searchText } = mailboxTexts(m.raw, m.envelopeFrom, m.envelopeTo);
      const [row] = await sql<{ id: number }[]>`INSERT INTO mailbox (received_at, envelope_from, envelope_to, raw, subject, search_text)
        VALUES (${m.receivedAt}, ${m.envelopeFrom}, ${m.envelopeTo}, ${m.raw}, ${subject}, ${searchText}) RETURNING id`;
      return row.id;
    },
    list: (limit) => sql<Omit<MailboxMessage, 'raw'>[]>`SELECT ${sql.unsafe(COLUMNS)} FROM mailbox ORDER BY id DESC LIMIT ${limit}`,
    async page({ search = '', before, after, limit }) {
      const words = search.toLowerCase().split(/\s+/).filter(Boolean);
      const columns = `${COLUMNS}, subject`;
      // Newest first; a page after an id is read oldest first from there, then turned around.
      let rows: MailboxEntry[];
      if (after !== undefined) {
        rows = (await select<MailboxEntry>(columns, words, 'id > ?', 'ORDER BY id ASC LIMIT ?', [after, limit + 1])).reverse();
        if (rows.length > limit) rows = rows.slice(1);
      } else if (before !== undefined) {
        rows = (await select<MailboxEntry>(columns, words, 'id < ?', 'ORDER BY id DESC LIMIT ?', [before, limit + 1])).slice(0, limit);
      } else {
        rows = await select<MailboxEntry>(columns, words, '', 'ORDER BY id DESC LIMIT ?', [limit]);
      }
      const first = rows[0]?.id;
      const last = rows.at(-1)?.id;
      const newerCount = first === undefined ? 0 : await counted(words, 'id > ?', first);
      const olderLeft = last === undefined ? 0 : await counted(words, 'id < ?', last);
      return {
        messages: rows,
        total: await counted(words, ''),
        newerCount,
        older: olderLeft > 0 ? last! : null,
        newer: newerCount > 0 ? first! : null,
      };
    },
    async get(id) {
      const [row] = await sql<MailboxMessage[]>`SELECT ${sql.unsafe(COLUMNS)}, raw FROM mailbox WHERE id = ${id}`;
      return row && { ...row, raw: Buffer.from(row.raw) };
    },
    async count() {
      const [row] = await sql<{ n: number }[]>`SELECT COUNT(*) AS n FROM mailbox`;
      return row.n;
    },
  };
}
