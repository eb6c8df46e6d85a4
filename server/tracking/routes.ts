/**
 * Public tracking endpoints, reached from messages: the open pixel, the click redirect and
 * unsubscribe (a confirm page, and the RFC 8058 one-click POST), over HTTP; what each does is
 * application/tracking-events.ts's. A click only ever redirects to a URL of the delivery's
 * own link table.
 */

import { Hono, type Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { escapeHtml } from '../../shared/template';
import type { AppEnv } from '../services';

const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const NO_STORE = { 'Cache-Control': 'no-store, max-age=0' };
const SEED_COPY =
  '<p>This is a seed copy of the message, sent to check it: its unsubscribe link changes nothing, and nobody is unsubscribed.</p>';

export const tracking = new Hono<AppEnv>()
  .get('/t/o/:token', async (c) => {
    await c.var.services.events.open(c.req.param('token'), seenBy(c));
    // Answer with the image either way: a mail client shows no broken picture for a bad token.
    return c.body(PIXEL, 200, { 'Content-Type': 'image/gif', ...NO_STORE });
  })
  .get('/t/c/:token', async (c) => {
    const url = await c.var.services.events.click(c.req.param('token'), seenBy(c));
    return url ? c.redirect(url, 302) : c.text('This link is not valid.', 404);
  })
  .get('/u/:token', async (c) => {
    if (c.var.services.events.seedCopy(c.req.param('token'), 'u')) return c.html(page('Seed copy', SEED_COPY), 200);
    const target = await c.var.services.events.unsubscribeTarget(c.req.param('token'));
    if (!target)
      return c.html(page('Link not valid', '<p>This unsubscribe link is not valid. Use the link from the message itself.</p>'), 404);
    return c.html(
      page(
        'Unsubscribe',
        `<p>Stop receiving these emails at <strong>${escapeHtml(target.email)}</strong>?</p>
         <form method="post"><button type="submit">Unsubscribe</button></form>`,
      ),
      200,
    );
  })
  .post('/u/:token', async (c) => {
    if (c.var.services.events.seedCopy(c.req.param('token'), 'u')) return c.html(page('Seed copy', SEED_COPY), 200);
    const target = await c.var.services.events.unsubscribe(c.req.param('token'));
    if (!target) return c.text('This unsubscribe link is not valid.', 404);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    if (form['List-Unsubscribe'] === 'One-Click') return c.text('Unsubscribed.', 200);
    return c.html(page('Unsubscribed', `<p><strong>${escapeHtml(target.email)}</strong> will receive no more of these emails.</p>`), 200);
  });

/** What the request shows of who made it: its user agent and address. */
function seenBy(c: Context<AppEnv>) {
  return { userAgent: c.req.header('user-agent'), ip: remoteAddress(c) };
}

/** The address the request came from (none when the app is called in-process, as in tests). */
function remoteAddress(c: Context<AppEnv>): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#1d2433}
strong{overflow-wrap:anywhere}
button{font:inherit;min-height:2.75rem;padding:.5rem 1.2rem;border-radius:7px;border:1px solid #1d3557;background:#1d3557;color:#fff;cursor:pointer}
@media (max-width:40rem){body{margin:2rem auto}button{width:100%}}</style>
</head><body><h1>${title}</h1>${body}</body></html>`;
}
