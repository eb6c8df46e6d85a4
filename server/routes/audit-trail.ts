/** Recording an action in the audit log from a route: who (the session's operator or token) and when come from the request. */

import type { Context } from 'hono';
import type { AppEnv } from '../services';
import type { AuditAction, AuditObjectKind } from '../store/audit';

/** Records that the request's operator did `action` to the object; resolves once written. */
export function recordAudit(
  c: Context<AppEnv>,
  action: AuditAction,
  objectKind: AuditObjectKind,
  objectId: string,
  objectName: string,
  detail = '',
): Promise<void> {
  const { audit, now } = c.var.services;
  return audit.record({ at: now().toISOString(), actor: c.var.user, action, objectKind, objectId, objectName, detail });
}
