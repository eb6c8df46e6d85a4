/** The audit log in PostgreSQL (see ../audit.ts). */

import type { AuditEntry, AuditStore } from '../audit';
import type { Pg } from './database';

export function postgresAuditStore(sql: Pg): AuditStore {
  return {
    async record(e) {
      await sql`INSERT INTO audit_log (at, actor, action, object_kind, object_id, object_name, detail)
        VALUES (${e.at}, ${e.actor}, ${e.action}, ${e.objectKind}, ${e.objectId}, ${e.objectName}, ${e.detail})`;
    },
    async list(filter) {
      const rows = await sql<AuditEntry[]>`SELECT id::int AS id, at, actor, action, object_kind AS "objectKind",
          object_id AS "objectId", object_name AS "objectName", detail
        FROM audit_log
        WHERE (${filter.objectId ?? null}::text IS NULL OR object_id = ${filter.objectId ?? null})
          AND (${filter.actor ?? null}::text IS NULL OR actor = ${filter.actor ?? null})
          AND (${filter.action ?? null}::text IS NULL OR action = ${filter.action ?? null})
          AND (${filter.before ?? null}::bigint IS NULL OR id < ${filter.before ?? null})
        ORDER BY id DESC LIMIT ${filter.limit}`;
      return rows.map((r) => ({ ...r }));
    },
  };
}
