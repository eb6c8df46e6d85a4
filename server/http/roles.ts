/**
 * What each role may do over the API, in one table of rules: reading is `read`; changing the
 * settings, the operators or the API tokens is `admin`, and so is listing the tokens; every
 * other change is `work` (shared/roles.ts says which role holds which). Mounted behind the
 * session check and before the body is read, so a refused request costs no body.
 */

import { createMiddleware } from 'hono/factory';
import { allows, refusedFor, type Permission } from '../../shared/roles';
import type { AppEnv } from '../services';

const READS = new Set(['GET', 'HEAD']);

/** Paths under /api whose changes are the admin's, and whose reads too when `reads` says so. */
const ADMIN_AREAS: readonly { prefix: string; reads: boolean }[] = [
  { prefix: '/api/settings', reads: false },
  { prefix: '/api/operators', reads: false },
  { prefix: '/api/tokens', reads: true },
  { prefix: '/api/webhooks', reads: true },
];

const within = (path: string, prefix: string) => path === prefix || path.startsWith(`${prefix}/`);

/** Returns the permission a request under /api needs: by its method, and for an admin area, by its path. */
export function permissionFor(method: string, path: string): Permission {
  const read = READS.has(method.toUpperCase());
  const area = ADMIN_AREAS.find((a) => within(path, a.prefix));
  if (area && (!read || area.reads)) return 'admin';
  return read ? 'read' : 'work';
}

/** Refuses with 403 and a sentence a request the signed-in role may not make; `requireOperator` has set the role. */
export const requireRole = createMiddleware<AppEnv>(async (c, next) => {
  const permission = permissionFor(c.req.method, c.req.path);
  const { role } = c.var;
  if (allows(role, permission)) return next();
  return c.json({ error: 'forbidden', message: refusedFor(role, permission) }, 403);
});
