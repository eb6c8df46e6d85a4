/** The team's documents in SQLite (see ../work.ts). */

import { mergeChanged, mergeEdits, type DocPush, type MergeOutcome, type WorkDoc } from '../../../shared/work';
import { fromRow, SERVER_STATUS, toStored, type PushRefusal, type WorkRow, type WorkStore } from '../work';
import type { Db } from './database';

export function sqliteWorkStore(db: Db): WorkStore {
  const select = `SELECT w.id, w.kind, w.doc, w.change_seq, w.deleted, ${SERVER_STATUS} AS status FROM work_docs w`;
  const byId = db.prepare(`${select} WHERE w.id = ?`);
  const since = db.prepare(`${select} WHERE w.change_seq > ? ORDER BY w.change_seq LIMIT ?`);
  const latest = db.prepare('SELECT coalesce(max(change_seq), 0) FROM work_docs').pluck();
  const write = db.prepare(
    `INSERT INTO work_docs (id, kind, doc, change_seq, deleted) VALUES (@id, @kind, @doc, @seq, @deleted)
     ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, change_seq = excluded.change_seq, deleted = excluded.deleted`,
  );
  const using = db
    .prepare(
      `SELECT json_extract(doc, '$.fields.name') FROM work_docs
       WHERE kind = 'delivery' AND deleted = 0 AND json_extract(doc, '$.fields.typologyId') = ?
         AND id NOT IN (SELECT id FROM deliveries WHERE committed = 1)`,
    )
    .pluck();
  const get = (id: string) => {
    const row = byId.get(id) as WorkRow | undefined;
    return row && fromRow(row);
  };
  const save = (doc: WorkDoc) => {
    const seq = (latest.get() as number) + 1;
    write.run({ id: doc.id, kind: doc.kind, doc: JSON.stringify(toStored(doc)), seq, deleted: doc.deleted ? 1 : 0 });
    return { ...doc, seq };
  };

  // Each push is checked, merged and written in one transaction: SQLite has one writer at a time.
  const pushOne = db.transaction((push: DocPush, by: string, at: string, verdict: string | null) => {
    if (verdict) return { refusal: { id: push.id, message: verdict } };
    const current = get(push.id);
    if (!current && Object.keys(push.edits).length === 0) return { outcome: null };
    const outcome = mergeEdits(current, push, by, at, current?.serverStatus ?? null);
    if (!mergeChanged(current, outcome)) return { outcome: { ...outcome, doc: current! } };
    return { outcome: { ...outcome, doc: save(outcome.doc) } };
  });

  return {
    async push(pushes, by, at, check) {
      const outcomes: MergeOutcome[] = [];
      const refused: PushRefusal[] = [];
      for (const push of pushes) {
        // Nothing yields between the check and the write: the check reads what the merge merges into.
        const current = get(push.id);
        const verdict = await check(current, push);
        // Changed while it was checked: left out of the answer, so its edits stay waiting and go at the next push.
        if (get(push.id)?.seq !== current?.seq) continue;
        const result = pushOne(push, by, at, verdict);
        if (result.refusal) refused.push(result.refusal);
        else if (result.outcome) outcomes.push(result.outcome);
      }
      return { outcomes, refused };
    },
    async changesSince(cursor, limit) {
      const rows = (since.all(cursor, limit + 1) as WorkRow[]).map(fromRow);
      const docs = rows.slice(0, limit);
      return { docs, cursor: docs.length ? docs[docs.length - 1].seq : cursor, hasMore: rows.length > limit };
    },
    async get(id) {
      return get(id);
    },
    async deliveriesUsing(typologyId) {
      return using.all(typologyId) as string[];
    },
    async approve(id, approval) {
      return db.transaction(() => {
        const current = get(id);
        if (!current) return undefined;
        return save({ ...current, approval });
      })();
    },
    async cursor() {
      return latest.get() as number;
    },
  };
}
