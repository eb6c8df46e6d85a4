/** The team's documents in PostgreSQL (see ../work.ts). */

import { mergeChanged, mergeEdits, type MergeOutcome, type WorkDoc } from '../../../shared/work';
import { fromRow, SERVER_STATUS, toStored, type PushRefusal, type WorkRow, type WorkStore } from '../work';
import { WORK_LOG_LOCK, type Pg, type PgRunner } from './database';

const SELECT = `SELECT w.id, w.kind, w.doc, w.change_seq::bigint AS change_seq, w.deleted, ${SERVER_STATUS} AS status FROM work_docs w`;

export function postgresWorkStore(sql: Pg): WorkStore {
  const get = async (runner: PgRunner, id: string) => {
    const [row] = (await runner.unsafe(`${SELECT} WHERE w.id = $1`, [id])) as unknown as WorkRow[];
    return row && fromRow(row);
  };
  /** Writes the document with the next change number; the caller holds the lock, so numbers commit in order. */
  const save = async (tx: PgRunner, doc: WorkDoc) => {
    const [{ seq }] = await tx<{ seq: number }[]>`SELECT coalesce(max(change_seq), 0)::int + 1 AS seq FROM work_docs`;
    await tx`INSERT INTO work_docs (id, kind, doc, change_seq, deleted)
      VALUES (${doc.id}, ${doc.kind}, ${JSON.stringify(toStored(doc))}, ${seq}, ${doc.deleted ? 1 : 0})
      ON CONFLICT (id) DO UPDATE SET doc = EXCLUDED.doc, change_seq = EXCLUDED.change_seq, deleted = EXCLUDED.deleted`;
    return { ...doc, seq };
  };

  return {
    async push(pushes, by, at, check) {
      const outcomes: MergeOutcome[] = [];
      const refused: PushRefusal[] = [];
      for (const push of pushes) {
        // Checked before the lock is taken: a check may read through the pool, and a transaction
        // holding the lock while it waits for a connection could wait on the others for ever.
        const checked = await get(sql, push.id);
        const verdict = await check(checked, push);
        if (verdict) {
          refused.push({ id: push.id, message: verdict });
          continue;
        }
        await sql.begin(async (tx) => {
          await tx`SELECT pg_advisory_xact_lock(${WORK_LOG_LOCK})`;
          const current = await get(tx, push.id);
          // Changed since it was checked: left out of the answer, so its edits stay waiting and go at the next push.
          if (current?.seq !== checked?.seq) return;
          if (!current && Object.keys(push.edits).length === 0) return;
          const outcome = mergeEdits(current, push, by, at, current?.serverStatus ?? null);
          if (!mergeChanged(current, outcome)) return void outcomes.push({ ...outcome, doc: current! });
          outcomes.push({ ...outcome, doc: await save(tx, outcome.doc) });
        });
      }
      return { outcomes, refused };
    },
    async changesSince(cursor, limit) {
      const rows = (
        (await sql.unsafe(`${SELECT} WHERE w.change_seq > $1 ORDER BY w.change_seq LIMIT $2`, [cursor, limit + 1])) as unknown as WorkRow[]
      ).map(fromRow);
      const docs = rows.slice(0, limit);
      return { docs, cursor: docs.length ? docs[docs.length - 1].seq : cursor, hasMore: rows.length > limit };
    },
    get: (id) => get(sql, id),
    async deliveriesUsing(typologyId) {
      const rows = await sql<{ name: string }[]>`SELECT (doc::json -> 'fields' ->> 'name') AS name FROM work_docs
        WHERE kind = 'delivery' AND deleted = 0 AND (doc::json -> 'fields' ->> 'typologyId') = ${typologyId}
          AND id NOT IN (SELECT id FROM deliveries WHERE committed = 1)`;
      return rows.map((r) => r.name);
    },
    async approve(id, approval) {
      return sql.begin(async (tx) => {
        await tx`SELECT pg_advisory_xact_lock(${WORK_LOG_LOCK})`;
        const current = await get(tx, id);
        return current && save(tx, { ...current, approval });
      });
    },
    async cursor() {
      const [{ seq }] = await sql<{ seq: number }[]>`SELECT coalesce(max(change_seq), 0)::int AS seq FROM work_docs`;
      return seq;
    },
  };
}
