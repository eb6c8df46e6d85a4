/** The one node of a SQLite file (see ../nodes.ts). */

import { NODE_TTL_MS, type NodeInfo, type NodeStore } from '../nodes';
import { asAsync, type Sync } from '../sync';
import type { Db } from './database';

export function sqliteNodeStore(db: Db): NodeStore {
  const join = db.prepare(
    `INSERT INTO nodes (id, host, pid, started_at, seen_at) VALUES (@id, @host, @pid, @startedAt, @seenAt)
     ON CONFLICT (id) DO UPDATE SET seen_at = excluded.seen_at`,
  );
  const heartbeat = db.prepare('UPDATE nodes SET seen_at = ? WHERE id = ?');
  const live = db.prepare(
    'SELECT id, host, pid, started_at AS startedAt, seen_at AS seenAt FROM nodes WHERE seen_at >= ? ORDER BY started_at',
  );
  const leave = db.prepare('DELETE FROM nodes WHERE id = ? OR seen_at < ?');
  const store: Sync<NodeStore> = {
    join: (node, now) => void join.run({ ...node, seenAt: now.getTime() }),
    heartbeat: (id, now) => void heartbeat.run(now.getTime(), id),
    live: (now) => live.all(now.getTime() - NODE_TTL_MS) as NodeInfo[],
    leave: (id, now) => void leave.run(id, now.getTime() - NODE_TTL_MS),
  };
  return asAsync<NodeStore>(store);
}
