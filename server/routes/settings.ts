/** Sending settings: read them, change them (the pool is rebuilt at once), and test a relay. */

import { Hono } from 'hono';
import { publicUrlProblems } from '../../shared/typology';
import { settingsBody, testBody } from '../sending/settings';
import type { AppEnv } from '../services';
import { jsonBody } from './validate';

export const settings = new Hono<AppEnv>()
  .get('/', async (c) => {
    const publicUrl = c.var.services.publicUrl();
    // Recipients must reach tracking and unsubscribe links: say so when they cannot.
    return c.json({ ...(await c.var.services.settings.current()), publicUrl, publicUrlProblems: publicUrlProblems(publicUrl) }, 200);
  })
  .put('/', jsonBody(settingsBody), async (c) => {
    try {
      return c.json(await c.var.services.settings.apply(c.req.valid('json')), 200);
    } catch (error) {
      return c.json({ error: 'settings-refused', message: (error as Error).message }, 422);
    }
  })
  .post('/test-connection', jsonBody(testBody), async (c) => c.json(await c.var.services.settings.test(c.req.valid('json').relayUrl), 200));
