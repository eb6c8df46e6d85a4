import { copyFileSync } from 'node:fs';
import { openDatabase } from '../server/store/sqlite/database';
import { sqliteSendJournal } from '../server/store/sqlite/journal';
copyFileSync('/tmp/jb.db', '/tmp/jb2.db');
const db = await openDatabase('/tmp/jb2.db');
const journal = sqliteSendJournal(db, 'node-a');
let claimT = 0,
  recordT = 0,
  n = 0,
  last = 0;
const t0 = performance.now();
for (;;) {
  let t = performance.now();
  const { entries, lastId } = await journal.claim('bench', last, 20, new Date());
  claimT += performance.now() - t;
  if (entries.length === 0) break;
  last = lastId;
  n += entries.length;
  t = performance.now();
  await journal.record(
    entries.map((e) => ({ id: e.id, outcome: { kind: 'sent', reply: `250 2.0.0 Message ${e.id} accepted` } })),
    new Date(),
  );
  recordT += performance.now() - t;
}
console.log(
  `rows ${n}: claim ${((claimT * 1000) / n).toFixed(1)} µs/row, record ${((recordT * 1000) / n).toFixed(1)} µs/row, total ${(((performance.now() - t0) * 1000) / n).toFixed(1)}`,
);
