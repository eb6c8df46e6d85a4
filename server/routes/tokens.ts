/**
 * API tokens, for integrations: an admin makes one with a role and an optional expiry (its
 * secret is in that answer and nowhere else: only its SHA-256 digest is kept), lists them
 * with when each was last used, and revokes one. A token is sent as `Authorization: Bearer`.
 */

import { Hono } from 'hono';
import { z } from 'zod';
import { ROLES } from '../../shared/roles';
import type { AppEnv } from '../services';
import { recordAudit } from './audit-trail';
import { jsonBody, params } from './validate';

const newToken = z.object({
  name: z.string().trim().min(1).max(100),
  role: z.enum(ROLES),
  expiresAt: z.iso.datetime({ offset: true }).nullable(),
});
const tokenParams = z.object({ id: z.string().min(1).max(100) });

export const tokens = new Hono<AppEnv>()
  .get('/', async (c) => c.json({ tokens: await c.var.services.operators.tokens() }, 200))
  .post('/', jsonBody(newToken), async (c) => {
    const { name, role, expiresAt } = c.req.valid('json');
    const { operators, now } = c.var.services;
    const expires = expiresAt === null ? null : new Date(expiresAt);
    if (expires && expires.getTime() <= now().getTime()) {
      const message = `The expiry ${expires.toISOString()} is in the past: choose a later date, or none for a token that does not expire.`;
      return c.json({ error: 'expiry-in-past', message }, 400);
    }
    const { token, secret } = await operators.createToken({ name, role, expiresAt: expires, by: c.var.user }, now());
    const until = token.expiresAt ? `until ${token.expiresAt}` : 'without expiry';
    await recordAudit(c, 'token-created', 'token', token.id, token.name, `role ${token.role}, ${until}`);
    return c.json({ token, secret }, 201);
  })
  .delete('/:id', params(tokenParams), async (c) => {
    const { id } = c.req.valid('param');
    const { operators, now } = c.var.services;
    const outcome = await operators.revokeToken(id, now());
    if (!outcome) return c.json({ error: 'token-not-found', message: 'There is no such API token.' }, 404);
    // Revoking twice answers the same; only the first is an action.
    const { token, revoked } = outcome;
    if (revoked) await recordAudit(c, 'token-revoked', 'token', token.id, token.name);
    return c.json({ token }, 200);
  });
