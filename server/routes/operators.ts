/**
 * The team: every operator with a role, and for an admin, adding one, changing a role,
 * disabling and enabling, and setting a new password (given, or generated and shown once).
 * Disabling or a new password ends the operator's sessions at once. The last enabled admin
 * can be neither demoted nor disabled: someone must be able to manage the team.
 */

import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { ROLE_LABELS, ROLES } from '../../shared/roles';
import type { AppEnv } from '../services';
import { generatePassword, type Operator } from '../store/operators';
import { recordAudit } from './audit-trail';
import { jsonBody, params } from './validate';

const username = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[A-Za-z0-9._-]+$/, 'a username of letters, digits, ".", "_" and "-"');
const role = z.enum(ROLES);
const password = z.string().min(12, 'a password of at least 12 characters').max(500);
const newOperator = z.object({ username, role, password: password.optional() });
const change = z
  .object({ role: role.optional(), disabled: z.boolean().optional() })
  .refine((c) => c.role !== undefined || c.disabled !== undefined, 'a role or disabled to change');
const usernameParams = z.object({ username });

const notFound = (c: Context<AppEnv>, name: string) =>
  c.json({ error: 'operator-not-found', message: `There is no operator "${name}".` }, 404);

/** Returns what a change did, in words, for the audit log ("role viewer → marketer; disabled"). */
function changed(before: Operator, after: Operator): string {
  const parts: string[] = [];
  if (before.role !== after.role) parts.push(`role ${before.role} → ${after.role}`);
  if (before.disabled !== after.disabled) parts.push(after.disabled ? 'disabled' : 'enabled');
  return parts.join('; ') || 'nothing changed';
}

export const operators = new Hono<AppEnv>()
  .get('/', async (c) => c.json({ operators: await c.var.services.operators.list() }, 200))
  .post('/', jsonBody(newOperator), async (c) => {
    const body = c.req.valid('json');
    const { operators, now } = c.var.services;
    const secret = body.password ?? generatePassword();
    const operator = await operators.create(body.username, body.role, secret, c.var.user, now());
    if (!operator) {
      const message = `There is already an operator "${body.username}". Choose another username, or change that operator's role.`;
      return c.json({ error: 'operator-exists', message }, 409);
    }
    await recordAudit(c, 'operator-created', 'operator', operator.username, operator.username, `role ${operator.role}`);
    return c.json({ operator, password: secret }, 201);
  })
  .patch('/:username', params(usernameParams), jsonBody(change), async (c) => {
    const { username } = c.req.valid('param');
    const { operators } = c.var.services;
    const before = await operators.operator(username);
    if (!before) return notFound(c, username);
    const outcome = await operators.change(username, c.req.valid('json'));
    if (!outcome.ok && outcome.reason === 'not-found') return notFound(c, username);
    if (!outcome.ok) {
      const message = `"${username}" is the last enabled admin: someone must be able to manage the team. Make another operator ${ROLE_LABELS.admin.toLowerCase()} first.`;
      return c.json({ error: 'last-admin', message }, 409);
    }
    const detail = changed(before, outcome.operator);
    if (detail !== 'nothing changed') await recordAudit(c, 'operator-changed', 'operator', username, username, detail);
    return c.json({ operator: outcome.operator }, 200);
  })
  .post('/:username/password', params(usernameParams), jsonBody(z.object({ password: password.optional() })), async (c) => {
    const { username } = c.req.valid('param');
    const given = c.req.valid('json').password;
    const secret = given ?? generatePassword();
    if (!(await c.var.services.operators.resetPassword(username, secret))) return notFound(c, username);
    await recordAudit(c, 'password-reset', 'operator', username, username, given ? 'a password was set' : 'a password was generated');
    return c.json({ password: secret }, 200);
  });
