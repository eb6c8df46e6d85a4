/** The SQLite file of record: opened in WAL mode and migrated forward by `user_version` (migrations.ts). */

import Database from 'better-sqlite3';
import { MIGRATIONS, type MigrationSql } from '../migrations';

export type Db = Database.Database;

/** Returns the database at `file` (':memory:' for one in memory), created and migrated to the latest schema. */
export async function openDatabase(file: string): Promise<Db> {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  await migrate(db);
  return db;
}

/** Takes the steps of migrations.ts the database has not taken, each in one transaction with its backfill. */
async function migrate(db: Db): Promise<void> {
  const current = db.pragma('user_version', { simple: true }) as number;
  // A backfill is asynchronous in form (PostgreSQL's is); here every statement answers at once.
  const sql: MigrationSql = {
    all: async <T>(text: string, params: readonly unknown[] = []) => db.prepare(text).all(...params) as T[],
    run: async (text, params = []) => void db.prepare(text).run(...params),
  };
  for (let version = current; version < MIGRATIONS.length; version++) {
    const step = MIGRATIONS[version];
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(step.sqlite);
      await step.backfill?.(sql);
      db.pragma(`user_version = ${version + 1}`);
      db.exec('COMMIT');
    } catch (error) {
      db.exec('ROLLBACK');
      throw new Error(`migration ${version + 1} of the SQLite database failed (${step.reason})`, { cause: error });
    }
  }
}

/** Returns the next number of the audience change log; every profile write takes one. */
export function nextChangeSeq(db: Db): number {
  const row = db
    .prepare(
      `INSERT INTO meta (key, value) VALUES ('change_seq', '1')
       ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1
       RETURNING CAST(value AS INTEGER) AS seq`,
    )
    .get() as { seq: number };
  return row.seq;
}

/** Takes `count` consecutive numbers of the change log at once; returns the first. */
export function reserveChangeSeqs(db: Db, count: number): number {
  const row = db
    .prepare(
      `INSERT INTO meta (key, value) VALUES ('change_seq', @count)
       ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + @count
       RETURNING CAST(value AS INTEGER) AS last`,
    )
    .get({ count }) as { last: number };
  return row.last - count + 1;
}
