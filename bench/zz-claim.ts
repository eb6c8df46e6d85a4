import Database from 'better-sqlite3';
import { SUPPRESSED_NOW } from '../server/store/journal';
const db = new Database('/tmp/jb.db');
db.pragma('journal_mode = WAL');
console.log(
  db
    .prepare("SELECT sql FROM sqlite_master WHERE tbl_name IN ('journal','profiles','denylist','quarantine')")
    .all()
    .map((r: any) => r.sql)
    .join('\n'),
);
const q = `SELECT j.*, ${SUPPRESSED_NOW} AS suppressed FROM journal j LEFT JOIN profiles p ON p.id = j.profile_id
     WHERE j.delivery_id = ? AND j.status = 'queued' AND j.id > ? ORDER BY j.id LIMIT ?`;
console.log(
  db
    .prepare('EXPLAIN QUERY PLAN ' + q)
    .all('bench', 0, 20)
    .map((r: any) => r.detail)
    .join('\n'),
);
const sel = db.prepare(q);
const plain = db.prepare(`SELECT j.* FROM journal j WHERE j.delivery_id = ? AND j.status = 'queued' AND j.id > ? ORDER BY j.id LIMIT ?`);
const mark = db.prepare("UPDATE journal SET status = 'sending', claimed_by = ?, lease_until = ?, updated_at = ? WHERE id = ?");
const row = db.prepare('SELECT * FROM journal LIMIT 1').get();
console.log(row);
for (const [name, st] of [
  ['with suppression', sel],
  ['plain', plain],
] as const) {
  let last = 0;
  const t = performance.now();
  let n = 0;
  for (let i = 0; i < 2000; i++) {
    const rows = st.all('bench', last, 20) as any[];
    n += rows.length;
    last = rows.at(-1)?.id ?? 0;
  }
  console.log(name, (((performance.now() - t) * 1000) / n).toFixed(2), 'µs/row');
}
const rows = plain.all('bench', 0, 40000) as any[];
const t = performance.now();
db.transaction(() => {
  for (const r of rows) mark.run('n', 1, '2026', r.id);
})();
console.log('mark', (((performance.now() - t) * 1000) / rows.length).toFixed(2), 'µs/row');
