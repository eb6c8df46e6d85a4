/**
 * The PostgreSQL database of record (DATABASE_URL), through postgres.js — chosen by
 * measurement (bench/pg-client.ts). Migrated forward at start from the same list as SQLite
 * (migrations.ts), under an advisory lock, so nodes that start together migrate once.
 *
 * 64-bit integers (ids, change numbers, counts) come back as JavaScript numbers: every one of
 * them stays far below 2^53.
 */

import postgres from 'postgres';
import { MIGRATIONS, type MigrationSql } from '../migrations';

export type Pg = postgres.Sql;
export type PgTransaction = postgres.TransactionSql;
/** A connection to run statements on: the pool, or one transaction's. */
export type PgRunner = Pg | PgTransaction;

/** The advisory lock every migration runs under (any number, the same on every node). */
const MIGRATION_LOCK = 7_274_001;
/** The advisory lock every write of the audience change log holds until its commit (see audience.ts). */
export const CHANGE_LOG_LOCK = 7_274_002;
/** Held by whoever writes a work document (drafts, typologies: store/work.ts), so their change numbers commit in order. */
export const WORK_LOG_LOCK = 7_274_003;

/** Resolves the database at `url`, migrated to the latest schema; `created` when it had none of Mailroom's. */
export async function openPostgres(url: string, options: { max?: number } = {}): Promise<{ sql: Pg; created: boolean }> {
  const sql = postgres(url, {
    max: options.max ?? 10,
    onnotice: () => {},
    // Numbers of every integer kind; no statement of Mailroom's counts past 2^53.
    types: {
      bigint: { to: 20, from: [20], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
      numeric: { to: 1700, from: [1700], serialize: (x: number) => String(x), parse: (x: string) => Number(x) },
    },
    connection: { application_name: 'mailroom' },
  });
  try {
    const created = await migrate(sql);
    return { sql, created };
  } catch (error) {
    await sql.end({ timeout: 1 });
    throw error;
  }
}

/** Takes the steps of migrations.ts the database has not taken, each in one transaction; resolves true when it took the first. */
async function migrate(sql: Pg): Promise<boolean> {
  return sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${MIGRATION_LOCK})`;
    await tx`CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)`;
    const [row] = await tx<{ version: number }[]>`SELECT version FROM schema_version`;
    const current = row?.version ?? 0;
    if (!row) await tx`INSERT INTO schema_version (version) VALUES (0)`;
    const runner: MigrationSql = {
      all: <T>(text: string, params: readonly unknown[] = []) => tx.unsafe(numbered(text), params as never[]) as unknown as Promise<T[]>,
      run: async (text, params = []) => void (await tx.unsafe(numbered(text), params as never[])),
    };
    for (let version = current; version < MIGRATIONS.length; version++) {
      const step = MIGRATIONS[version];
      try {
        await tx.unsafe(step.postgres);
        await step.backfill?.(runner);
        await tx`UPDATE schema_version SET version = ${version + 1}`;
      } catch (error) {
        throw new Error(`migration ${version + 1} of the PostgreSQL database failed (${step.reason})`, { cause: error });
      }
    }
    return current === 0;
  }) as Promise<boolean>;
}

/** Returns SQL written with `?` placeholders (as the backfills are, for both engines) with PostgreSQL's `$1, $2…`. */
export function numbered(text: string): string {
  let n = 0;
  return text.replace(/\?/g, () => `$${++n}`);
}
