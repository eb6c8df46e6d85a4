/**
 * Webhooks out over HTTP, for admins: register an endpoint for events (its secret is shown
 * once, when it is made), remove it, send it a test event, and read its log of deliveries.
 */

import { randomBytes, randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import type { AppEnv } from '../services';
import { WEBHOOK_EVENTS, type Webhook } from '../store/webhooks';
import { recordAudit } from './audit-trail';
import { jsonBody, params, query } from './validate';

const url = z
  .string()
  .trim()
  .max(2000)
  .refine((value) => {
    try {
      return ['http:', 'https:'].includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, 'an http(s) URL, e.g. https://crm.example.com/hooks/mailroom');

const create = z.object({ url, events: z.array(z.enum(WEBHOOK_EVENTS)).min(1).max(WEBHOOK_EVENTS.length) });
const id = z.object({ id: z.string().uuid() });
const logQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) });

/** An endpoint as listed: its secret stays on the server. */
const listed = ({ secret: _secret, ...webhook }: Webhook) => webhook;

export const webhooks = new Hono<AppEnv>()
  .get('/', async (c) => c.json({ webhooks: (await c.var.services.stores.webhooks.list()).map(listed), events: WEBHOOK_EVENTS }, 200))
  .post('/', jsonBody(create), async (c) => {
    const { stores, webhooks: service, now } = c.var.services;
    const body = c.req.valid('json');
    const webhook: Webhook = {
      id: randomUUID(),
      url: body.url,
      events: [...new Set(body.events)],
      secret: `whsec_${randomBytes(24).toString('base64url')}`,
      createdBy: c.var.user,
      createdAt: now().toISOString(),
    };
    await stores.webhooks.add(webhook);
    service.changed();
    await recordAudit(c, 'webhook-created', 'webhook', webhook.id, new URL(webhook.url).host, `for ${webhook.events.join(', ')}`);
    return c.json({ webhook: listed(webhook), secret: webhook.secret }, 201);
  })
  .delete('/:id', params(id), async (c) => {
    const { stores, webhooks: service } = c.var.services;
    const webhookId = c.req.valid('param').id;
    const found = (await stores.webhooks.list()).find((w) => w.id === webhookId);
    if (!found || !(await stores.webhooks.remove(webhookId))) {
      return c.json({ error: 'webhook-not-found', message: 'There is no such webhook.' }, 404);
    }
    service.changed();
    await recordAudit(c, 'webhook-removed', 'webhook', webhookId, new URL(found.url).host);
    return c.json({ removed: true }, 200);
  })
  .post('/:id/test', params(id), async (c) => {
    const { stores, webhooks: service } = c.var.services;
    const webhookId = c.req.valid('param').id;
    if (!(await stores.webhooks.list()).some((w) => w.id === webhookId)) {
      return c.json({ error: 'webhook-not-found', message: 'There is no such webhook.' }, 404);
    }
    await service.test(webhookId);
    const [latest] = await stores.webhooks.log(webhookId, 1);
    return c.json({ delivery: latest }, 200);
  })
  .get('/:id/deliveries', params(id), query(logQuery), async (c) =>
    c.json({ deliveries: await c.var.services.stores.webhooks.log(c.req.valid('param').id, c.req.valid('query').limit) }, 200),
  );
