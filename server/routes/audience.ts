/** The audience of record as replicas pull it: changes since a cursor, in pages. */

import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../services';
import { jsonBody, params, query } from './validate';

const changesQuery = z.object({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(20_000).default(5_000),
});

const profileParams = z.object({ id: z.coerce.number().int().min(1) });
const denyBody = z.object({ email: z.string().min(3).max(254), reason: z.string().min(1).max(500) });

export const audience = new Hono<AppEnv>()
  .get('/changes', query(changesQuery), (c) => {
    const { since, limit } = c.req.valid('query');
    return c.json(c.var.services.audience.changesSince(since, limit), 200);
  })
  .get('/count', (c) => c.json({ total: c.var.services.audience.count() }, 200))
  .get('/schema', (c) => c.json({ attributes: c.var.services.audience.schema() }, 200))
  .get('/profiles/:id', params(profileParams), (c) => {
    const { audience } = c.var.services;
    const profile = audience.get(c.req.valid('param').id);
    if (!profile) return c.json({ error: 'profile-not-found', message: 'There is no such profile in the audience of record.' }, 404);
    return c.json({ profile, suppression: audience.suppression(profile.email), recentSends: audience.recentSends(profile.id, 20) }, 200);
  })
  .delete('/profiles/:id', params(profileParams), (c) => {
    const deleted = c.var.services.audience.delete(c.req.valid('param').id);
    return deleted
      ? c.json({ deleted: true }, 200)
      : c.json({ error: 'profile-not-found', message: 'There is no such profile in the audience of record.' }, 404);
  })
  .put('/denylist', jsonBody(denyBody), (c) => {
    const { email, reason } = c.req.valid('json');
    c.var.services.audience.denylist(email, reason, c.var.user, c.var.services.now());
    return c.json({ email: email.trim().toLowerCase(), reason }, 200);
  })
  .delete('/denylist', jsonBody(z.object({ email: z.string().min(3) })), (c) => {
    const removed = c.var.services.audience.undeny(c.req.valid('json').email);
    return removed
      ? c.json({ removed: true }, 200)
      : c.json({ error: 'not-denylisted', message: 'That address is not on the denylist.' }, 404);
  });
