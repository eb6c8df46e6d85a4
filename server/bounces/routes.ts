/**
 * The relay providers' webhooks: POST /hooks/ses, /hooks/sendgrid, /hooks/mailgun and
 * /hooks/postmark, open to the providers (no session: each request is checked by the
 * provider's own signature or credentials, providers.ts), acted on as bounce reports are
 * (application/late-outcomes.ts). A request that does not verify is refused and changes nothing.
 */

import { Hono } from 'hono';
import type { AppEnv } from '../services';
import { PROVIDERS, readProviderRequest, type Provider } from './providers';

export const providerHooks = new Hono<AppEnv>().post('/hooks/:provider', async (c) => {
  const provider = c.req.param('provider') as Provider;
  if (!PROVIDERS.includes(provider))
    return c.json({ error: 'not-found', message: `There is no webhook for ${provider.slice(0, 40)}.` }, 404);
  const { lateOutcomes, providerKeys, fetchCertificate, now, logger } = c.var.services;
  const read = await readProviderRequest(provider, await c.req.text(), c.req.raw.headers, providerKeys, { now: now(), fetchCertificate });
  if (!read.ok) {
    logger.warn({ event: 'provider-webhook-refused', provider }, read.message);
    return c.json({ error: 'refused', message: read.message }, read.status);
  }
  if (read.confirm) {
    // Amazon SNS asks once whether the topic may post here: yes, by visiting its URL.
    await fetch(read.confirm, { signal: AbortSignal.timeout(10_000) });
    return c.json({ confirmed: true }, 200);
  }
  return c.json({ recorded: await lateOutcomes.receiveEvents(read.events) }, 200);
});
