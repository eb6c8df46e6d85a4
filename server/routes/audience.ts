/** The audience of record as replicas pull it: changes since a cursor, in pages. */

import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../services';
import { query } from './validate';

const changesQuery = z.object({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(20_000).default(5_000),
});

export const audience = new Hono<AppEnv>()
  .get('/changes', query(changesQuery), (c) => {
    const { since, limit } = c.req.valid('query');
    return c.json(c.var.services.audience.changesSince(since, limit), 200);
  })
  .get('/count', (c) => c.json({ total: c.var.services.audience.count() }, 200));
