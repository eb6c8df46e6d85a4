/**
 * Public tracking endpoints, reached from messages: the open pixel, the click redirect and
 * unsubscribe (a confirm page, and the RFC 8058 one-click POST). Tokens are verified before
 * anything is read; a click only ever redirects to a URL of the delivery's own link table.
 */

import { Hono, type Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { escapeHtml } from '../../shared/template';
import { classifyClick, classifyOpen } from './classify';
import type { AppEnv } from '../services';
import { RECIPIENT_SOURCE } from '../store/audience-store';

const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const NO_STORE = { 'Cache-Control': 'no-store, max-age=0' };

export const tracking = new Hono<AppEnv>()
  .get('/t/o/:token', (c) => {
    const { signer, tracking, bus, now } = c.var.services;
    const claims = signer.verify(c.req.param('token'), 'o');
    if (claims && tracking.recipient(claims.journalId)?.deliveryId === claims.deliveryId) {
      const seen = { userAgent: c.req.header('user-agent'), ip: remoteAddress(c) };
      tracking.record(
        { deliveryId: claims.deliveryId, journalId: claims.journalId, kind: 'open', ...seen, machine: classifyOpen(seen) === 'machine' },
        now(),
      );
      bus.changed(claims.deliveryId);
    }
    // Answer with the image either way: a mail client shows no broken picture for a bad token.
    return c.body(PIXEL, 200, { 'Content-Type': 'image/gif', ...NO_STORE });
  })
  .get('/t/c/:token', (c) => {
    const { signer, tracking, bus, now } = c.var.services;
    const claims = signer.verify(c.req.param('token'), 'c');
    const url = claims && tracking.linkUrl(claims.deliveryId, claims.linkId!);
    const recipient = claims && tracking.recipient(claims.journalId);
    if (!claims || !url || recipient?.deliveryId !== claims.deliveryId) return c.text('This link is not valid.', 404);
    const at = now();
    const aSecondAgo = new Date(at.getTime() - 1000);
    const seen = { userAgent: c.req.header('user-agent'), ip: remoteAddress(c) };
    // The reads and the re-marking of a click in one transaction: one consistent view of its recipient.
    c.var.services.db.transaction(() => {
      const machine =
        classifyClick({
          ...seen,
          secondsAfterDelivery: recipient.sentAt ? (at.getTime() - Date.parse(recipient.sentAt)) / 1000 : null,
          otherLinksWithinASecond: tracking.otherLinksClicked(claims.journalId, claims.linkId!, aSecondAgo),
        }) === 'machine';
      // A scanner found out by its burst of clicks: the clicks it made just before are its too.
      if (machine) tracking.markClicksMachine(claims.journalId, aSecondAgo);
      const event = { deliveryId: claims.deliveryId, journalId: claims.journalId, ...seen, machine };
      // A person's click proves the message was opened, even when images were blocked.
      if (!machine && !tracking.opened(claims.journalId)) tracking.record({ ...event, kind: 'open' }, at);
      tracking.record({ ...event, kind: 'click', linkId: claims.linkId }, at);
    })();
    bus.changed(claims.deliveryId);
    return c.redirect(url, 302);
  })
  .get('/u/:token', (c) => {
    const target = unsubscribeTarget(c);
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
    const target = unsubscribeTarget(c);
    if (!target) return c.text('This unsubscribe link is not valid.', 404);
    const { audience, tracking, bus, now } = c.var.services;
    audience.unsubscribe(target.profileId, `${RECIPIENT_SOURCE} of delivery ${target.deliveryId}`, now());
    tracking.record({ deliveryId: target.deliveryId, journalId: target.journalId, kind: 'unsubscribe' }, now());
    bus.changed(target.deliveryId);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    if (form['List-Unsubscribe'] === 'One-Click') return c.text('Unsubscribed.', 200);
    return c.html(page('Unsubscribed', `<p><strong>${escapeHtml(target.email)}</strong> will receive no more of these emails.</p>`), 200);
  });

/** The address the request came from (none when the app is called in-process, as in tests). */
function remoteAddress(c: Context<AppEnv>): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

function unsubscribeTarget(c: Context<AppEnv>) {
  const { signer, tracking } = c.var.services;
  const claims = signer.verify(c.req.param('token')!, 'u');
  const recipient = claims && tracking.recipient(claims.journalId);
  if (!claims || !recipient || recipient.deliveryId !== claims.deliveryId) return undefined;
  return { ...recipient, journalId: claims.journalId };
}

function page(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>${title}</title><style>body{font:16px/1.5 system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem}
button{font:inherit;padding:.5rem 1rem;border-radius:6px;border:1px solid #1d3557;background:#1d3557;color:#fff;cursor:pointer}</style>
</head><body><h1>${title}</h1>${body}</body></html>`;
}
