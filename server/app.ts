/**
 * The HTTP surface of Mailroom: API, tracking, the mailbox page and the built app, on one port.
 *
 * The order of the middleware is the order of the checks, cheapest and least trusting first:
 * security headers on everything; the origin of a state-changing request under /api and
 * /mailbox; the session or API token; the role (http/roles.ts: what it may do); and only then
 * the body, read up to its route's limit. So no body is read for a request that is refused
 * for who sent it (sign-in is the one body taken from anyone, within 8 KiB). Tracking and
 * unsubscribe stay open to any origin. Before all of them, every request is timed and
 * logged once answered (observability/http.ts). The probes (/healthz, /readyz) and /metrics
 * answer JSON or Prometheus text, and no unknown path under them or /api answers the app:
 * those are 404s in JSON.
 */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono, type Context } from 'hono';
import { except } from 'hono/combine';
import { compress } from 'hono/compress';
import { HTTPException } from 'hono/http-exception';
import { bodyLimits } from './http/body-limits';
import { requireRole } from './http/roles';
import { sameOrigin } from './http/same-origin';
import { inlineScriptHashes, securityHeaders } from './http/security-headers';
import { loggedPath, operatorRoutes, requestLog } from './observability/http';
import { assets, assetsPublic } from './routes/assets';
import { providerHooks } from './bounces/routes';
import { audience } from './routes/audience';
import { deliveries } from './routes/deliveries';
import { proofs } from './routes/proofs';
import { requireOperator, session } from './routes/session';
import { settings } from './routes/settings';
import { audit } from './routes/audit';
import { openApiRoute } from './routes/openapi';
import { operators } from './routes/operators';
import { tokens } from './routes/tokens';
import { webhooks } from './routes/webhooks';
import { subscriberAdmin } from './routes/subscribers';
import { subscriberPages } from './subscribers/routes';
import { work } from './routes/work';
import type { AppEnv, Services } from './services';
import { mailboxPage } from './sink/mailbox-page';
import { tracking } from './tracking/routes';

/** Returns the Hono app over the given services. */
export function createApp(services: Services) {
  const index = services.appDir ? readIndex(services.appDir) : null;
  const limits = bodyLimits(services.importMaxBytes);

  const api = new Hono<AppEnv>()
    .use('/audience/*', requireOperator, requireRole, compress())
    .use('/deliveries/*', requireOperator, requireRole)
    .use('/proofs/*', requireOperator, requireRole)
    .use('/settings/*', requireOperator, requireRole)
    .use('/settings', requireOperator, requireRole)
    .use('/work/*', requireOperator, requireRole)
    .use('/operators/*', requireOperator, requireRole)
    .use('/operators', requireOperator, requireRole)
    .use('/tokens/*', requireOperator, requireRole)
    .use('/tokens', requireOperator, requireRole)
    .use('/audit/*', requireOperator, requireRole)
    .use('/audit', requireOperator, requireRole)
    .use('/assets/*', requireOperator, requireRole)
    .use('/assets', requireOperator, requireRole)
    .use('/webhooks/*', requireOperator, requireRole)
    .use('/webhooks', requireOperator, requireRole)
    .use('/subscribers/*', requireOperator, requireRole)
    // Past the session and role checks above: a body is read only for an operator allowed the request, or to sign in.
    .use(limits)
    .route('/session', session)
    .route('/audience', audience)
    .route('/deliveries', deliveries)
    .route('/proofs', proofs)
    .route('/settings', settings)
    .route('/work', work)
    .route('/operators', operators)
    .route('/tokens', tokens)
    .route('/audit', audit)
    .route('/assets', assets)
    .route('/webhooks', webhooks)
    .route('/subscribers', subscriberAdmin);
  api.get('/openapi.json', openApiRoute(api));

  const app = new Hono<AppEnv>()
    .use(async (c, next) => {
      c.set('services', services);
      await next();
    })
    .use(requestLog)
    .use(securityHeaders(index ? inlineScriptHashes(index) : []))
    .use('/api/*', sameOrigin)
    .use('/mailbox/*', sameOrigin)
    // Outside /api only the one-click unsubscribe reads a body; the API applies its limits itself.
    .use(except('/api/*', limits))
    .route('/api', api)
    .route('/', tracking)
    .route('/', subscriberPages)
    .route('/', assetsPublic)
    .route('/', providerHooks)
    .route('/', operatorRoutes)
    .route('/mailbox', mailboxPage);

  app.all('/api/*', (c) => c.json({ error: 'not-found', message: `There is no API at ${c.req.path}.` }, 404));
  if (services.appDir && index) serveApp(app, services.appDir, index);

  app.onError(async (error, c) => {
    if (error instanceof HTTPException && error.status < 500) return refusal(error, c);
    const path = loggedPath(c.req.path);
    services.logger.error({ event: 'request-failed', method: c.req.method, path, err: error }, `${c.req.method} ${path} failed`);
    if (c.req.path.startsWith('/api/')) {
      return c.json({ error: 'internal-error', message: 'The server failed to handle this request; it has been logged. Try again.' }, 500);
    }
    return c.text('The server failed to handle this request; it has been logged.', 500);
  });
  return app;
}

export type AppType = ReturnType<typeof createApp>;

/**
 * Answers an HTTPException (a request Hono's helpers refused, e.g. a body that is not JSON)
 * with its own status and, under /api, a JSON sentence; nothing is logged, it is expected.
 */
async function refusal(error: HTTPException, c: Context<AppEnv>): Promise<Response> {
  if (!c.req.path.startsWith('/api/')) return error.getResponse();
  if (error.status === 400 && /json/i.test(error.message)) {
    return c.json({ error: 'invalid-json', message: `The request body is not valid JSON: ${await jsonProblem(c)}.` }, 400);
  }
  const message = error.message ? `${error.message.replace(/\.$/, '')}.` : `The request was refused (${error.status}).`;
  return c.json({ error: error.status === 413 ? 'body-too-large' : 'invalid-request', message }, error.status);
}

/** Returns what is wrong with the body as JSON (Hono's validator keeps only "Malformed JSON"). */
async function jsonProblem(c: Context<AppEnv>): Promise<string> {
  try {
    JSON.parse(await c.req.text()); // the text the validator read, kept by Hono
    return 'it could not be parsed';
  } catch (error) {
    return (error as Error).message.replace(/\.$/, '');
  }
}

/** Returns the built app's index.html; throws when the app is not built. */
function readIndex(appDir: string): string {
  if (!existsSync(join(appDir, 'index.html'))) {
    throw new Error(`The app is not built: ${join(appDir, 'index.html')} is missing. Run "npm run build" (npm start does it).`);
  }
  return readFileSync(join(appDir, 'index.html'), 'utf8');
}

/** Serves the built SPA: assets as files, every other path as index.html (the app routes itself). */
function serveApp(app: Hono<AppEnv>, appDir: string, index: string) {
  app.use('/_app/immutable/*', async (c, next) => {
    await next();
    c.header('Cache-Control', 'public, max-age=31536000, immutable');
  });
  app.use('/sw.js', async (c, next) => {
    await next();
    c.header('Cache-Control', 'no-cache');
  });
  app.use('*', serveStatic({ root: appDir }));
  app.get('*', (c) => c.html(index, 200, { 'Cache-Control': 'no-cache' }));
}
