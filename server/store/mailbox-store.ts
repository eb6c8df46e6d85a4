/** The built-in sink's mailbox: every message it accepted, as received. */

import type { Db } from './database';

export interface MailboxMessage {
  id: number;
  receivedAt: string;
  envelopeFrom: string;
  envelopeTo: string;
  raw: Buffer;
}

export interface MailboxStore {
  add(message: Omit<MailboxMessage, 'id'>): number;
  /** Returns the newest messages first, without their raw source. */
  list(limit: number): Omit<MailboxMessage, 'raw'>[];
  get(id: number): MailboxMessage | undefined;
  count(): number;
}

export function sqliteMailboxStore(db: Db): MailboxStore {
  const add = db.prepare('INSERT INTO mailbox (received_at, envelope_from, envelope_to, raw) VALUES (?, ?, ?, ?)');
  const list = db.prepare(
    'SELECT id, received_at AS receivedAt, envelope_from AS envelopeFrom, envelope_to AS envelopeTo FROM mailbox ORDER BY id DESC LIMIT ?',
  );
  const get = db.prepare(
    'SELECT id, received_at AS receivedAt, envelope_from AS envelopeFrom, envelope_to AS envelopeTo, raw FROM mailbox WHERE id = ?',
  );
  const count = db.prepare('SELECT COUNT(*) FROM mailbox').pluck();
  return {
    add: (m) => Number(add.run(m.receivedAt, m.envelopeFrom, m.envelopeTo, m.raw).lastInsertRowid),
    list: (limit) => list.all(limit) as Omit<MailboxMessage, 'raw'>[],
    get: (id) => get.get(id) as MailboxMessage | undefined,
    count: () => count.get() as number,
  };
}
