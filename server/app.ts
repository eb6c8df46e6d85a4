/** The HTTP surface of Mailroom: API, tracking, the mailbox page and the built app, on one port. */

import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { serveStatic } from '@hono/node-server/serve-static';
import { Hono } from 'hono';
import { compress } from 'hono/compress';
import { secureHeaders } from 'hono/secure-headers';
import { audience } from './routes/audience';
import { deliveries } from './routes/deliveries';
import { proofs } from './routes/proofs';
import { requireOperator, session } from './routes/session';
import { settings } from './routes/settings';
import type { AppEnv, Services } from './services';
import { mailboxPage } from './sink/mailbox-page';
import { tracking } from './tracking/routes';

/** Returns the Hono app over the given services. */
export function createApp(services: Services) {
  const api = new Hono<AppEnv>()
    .route('/session', session)
    .use('/audience/*', requireOperator, compress())
    .route('/audience', audience)
    .use('/deliveries/*', requireOperator, async (c, next) => {
      // Figures are read from the database: write the tracking events waiting first.
      c.var.services.tracking.flush();
      await next();
    })
    .route('/deliveries', deliveries)
    .use('/proofs/*', requireOperator)
    .route('/proofs', proofs)
    .use('/settings/*', requireOperator)
    .use('/settings', requireOperator)
    .route('/settings', settings);

  const app = new Hono<AppEnv>()
    .use(async (c, next) => {
      c.set('services', services);
      await next();
    })
    // Tracking pixels and redirects are fetched from other origins (mail clients): no CORP.
    .use(secureHeaders({ crossOriginResourcePolicy: false, crossOriginEmbedderPolicy: false, crossOriginOpenerPolicy: false }))
    .route('/api', api)
    .route('/', tracking)
    .route('/mailbox', mailboxPage);

  app.all('/api/*', (c) => c.json({ error: 'not-found', message: `There is no API at ${c.req.path}.` }, 404));
  if (services.appDir) serveApp(app, services.appDir);

  app.onError((error, c) => {
    console.error(`${c.req.method} ${c.req.path} failed:`, error);
    if (c.req.path.startsWith('/api/')) {
      return c.json({ error: 'internal-error', message: 'The server failed to handle this request; it has been logged. Try again.' }, 500);
    }
    return c.text('The server failed to handle this request; it has been logged.', 500);
  });
  return app;
}

export type AppType = ReturnType<typeof createApp>;

/** Serves the built SPA: assets as files, every other path as index.html (the app routes itself). */
function serveApp(app: Hono<AppEnv>, appDir: string) {
  if (!existsSync(join(appDir, 'index.html'))) {
    throw new Error(`The app is not built: ${join(appDir, 'index.html')} is missing. Run "npm run build" (npm start does it).`);
  }
  const index = readFileSync(join(appDir, 'index.html'), 'utf8');
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
