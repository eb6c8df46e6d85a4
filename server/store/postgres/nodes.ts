/** The nodes sharing one PostgreSQL database (see ../nodes.ts). */

import { NODE_TTL_MS, type NodeInfo, type NodeStore } from '../nodes';
import type { Pg } from './database';

export function postgresNodeStore(sql: Pg): NodeStore {
  return {
    async join(node, now) {
      await sql`INSERT INTO nodes (id, host, pid, started_at, seen_at) VALUES (${node.id}, ${node.host}, ${node.pid}, ${node.startedAt}, ${now.getTime()})
        ON CONFLICT (id) DO UPDATE SET seen_at = EXCLUDED.seen_at`;
    },
    async heartbeat(id, now) {
      await sql`UPDATE nodes SET seen_at = ${now.getTime()} WHERE id = ${id}`;
    },
    live: (now) =>
      sql<NodeInfo[]>`SELECT id, host, pid, started_at AS "startedAt", seen_at AS "seenAt" FROM nodes
        WHERE seen_at >= ${now.getTime() - NODE_TTL_MS} ORDER BY started_at`,
    async leave(id, now) {
      await sql`DELETE FROM nodes WHERE id = ${id} OR seen_at < ${now.getTime() - NODE_TTL_MS}`;
    },
  };
}
