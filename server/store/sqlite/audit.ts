/** The audit log in SQLite (see ../audit.ts). */

import type { AuditEntry, AuditStore } from '../audit';
import { asAsync, type Sync } from '../sync';
import type { Db } from './database';

const COLUMNS = `id, at, actor, action, object_kind AS objectKind, object_id AS objectId, object_name AS objectName, detail`;

export function sqliteAuditStore(db: Db): AuditStore {
  const insert = db.prepare(
    `INSERT INTO audit_log (at, actor, action, object_kind, object_id, object_name, detail)
     VALUES (@at, @actor, @action, @objectKind, @objectId, @objectName, @detail)`,
  );
  const select = db.prepare(
    `SELECT ${COLUMNS} FROM audit_log
     WHERE (@objectId IS NULL OR object_id = @objectId) AND (@actor IS NULL OR actor = @actor)
       AND (@action IS NULL OR action = @action) AND (@before IS NULL OR id < @before)
     ORDER BY id DESC LIMIT @limit`,
  );
  const store: Sync<AuditStore> = {
    record: (entry) => void insert.run(entry),
    list: (filter) =>
      select.all({
        objectId: filter.objectId ?? null,
        actor: filter.actor ?? null,
        action: filter.action ?? null,
        before: filter.before ?? null,
        limit: filter.limit,
      }) as AuditEntry[],
  };
  return asAsync<AuditStore>(store);
}
