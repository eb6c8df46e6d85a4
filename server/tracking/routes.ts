/**
 * Public tracking endpoints, reached from messages: the open pixel, the click redirect and
 * unsubscribe (a confirm page, and the RFC 8058 one-click POST), over HTTP; what each does is
 * application/tracking-events.ts's. A click only ever redirects to a URL of the delivery's
 * own link table.
 */

import { Hono, type Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';
import { pageLocale, type PageLocale, type SubscriberSettings } from '../../shared/subscribers';
import { escapeHtml } from '../../shared/template';
import type { Profile } from '../../shared/types';
import type { AppEnv } from '../services';
import { badLinkPage, page, WORDS } from '../subscribers/pages';

const PIXEL = Buffer.from('R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7', 'base64');
const NO_STORE = { 'Cache-Control': 'no-store, max-age=0' };

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
  // The preference centre: leave everything (one click, as the List-Unsubscribe header's), choose topics, or ask for one's data.
  .get('/u/:token', async (c) => {
    const found = await preferenceRequest(c);
    if (found instanceof Response) return found;
    return c.html(preferenceCentre(c.req.param('token'), found.locale, found.settings, found.profile), 200, NO_STORE);
  })
  .post('/u/:token', async (c) => {
    const { events, subscribers } = c.var.services;
    const settings = await subscribers.settings();
    if (events.seedCopy(c.req.param('token'), 'u')) return seedPage(c, settings);
    const target = await events.unsubscribe(c.req.param('token'));
    if (!target) return c.text('This unsubscribe link is not valid.', 404);
    const form = await c.req.parseBody().catch(() => ({}) as Record<string, unknown>);
    if (form['List-Unsubscribe'] === 'One-Click') return c.text('Unsubscribed.', 200);
    const profile = await c.var.services.audience.get(target.profileId);
    const locale = pageLocaleOf(c, profile?.locale);
    const w = WORDS[locale];
    return c.html(page(locale, settings, w.unsubscribed, `<p>${w.unsubscribedBody(escapeHtml(target.email))}</p>`), 200, NO_STORE);
  })
  .post('/u/:token/preferences', async (c) => {
    const found = await preferenceRequest(c);
    if (found instanceof Response) return found;
    const { locale, settings, profile } = found;
    const form = await c.req.parseBody({ all: true }).catch(() => ({}) as Record<string, unknown>);
    const given = form.topics === undefined ? [] : ([] as unknown[]).concat(form.topics).filter((t): t is string => typeof t === 'string');
    const topics = await c.var.services.subscribers.chooseTopics(profile, given);
    const saved = { ...profile, attributes: { ...profile.attributes, topics } };
    return c.html(preferenceCentre(c.req.param('token'), locale, settings, saved, WORDS[locale].saved), 200, NO_STORE);
  })
  .post('/u/:token/data', async (c) => {
    const found = await preferenceRequest(c);
    if (found instanceof Response) return found;
    const { locale, settings, profile } = found;
    await c.var.services.subscribers.sendAccessLink(profile);
    // Said the same whether it went or was held back: the page tells nobody how many were asked for.
    return c.html(preferenceCentre(c.req.param('token'), locale, settings, profile, WORDS[locale].linkSent), 200, NO_STORE);
  });

/**
 * What a preference centre request is about: the profile its unsubscribe token names, the
 * page's language and settings; or the page to answer at once (a seed copy's, a link not valid).
 */
async function preferenceRequest(c: Context<AppEnv>) {
  const { events, subscribers, audience } = c.var.services;
  const settings = await subscribers.settings();
  if (events.seedCopy(c.req.param('token')!, 'u')) return seedPage(c, settings);
  const target = await events.unsubscribeTarget(c.req.param('token')!);
  const profile = target && (await audience.get(target.profileId));
  const locale = pageLocaleOf(c, profile?.locale);
  if (!profile) return c.html(badLinkPage(locale, settings), 404, NO_STORE);
  return { settings, profile, locale };
}

/** The page language: ?lang= when asked, else the profile's locale. */
function pageLocaleOf(c: Context<AppEnv>, locale: string | undefined): PageLocale {
  const asked = c.req.query('lang');
  return asked === 'nl' || asked === 'en' ? asked : pageLocale(locale);
}

function seedPage(c: Context<AppEnv>, settings: SubscriberSettings) {
  const locale = pageLocaleOf(c, undefined);
  return c.html(page(locale, settings, WORDS[locale].seedTitle, `<p>${WORDS[locale].seedCopy}</p>`), 200, NO_STORE);
}

/** The preference centre of a profile: its topics (those the settings offer), leaving everything, and its data. */
function preferenceCentre(token: string, locale: PageLocale, settings: SubscriberSettings, profile: Profile, notice?: string): string {
  const w = WORDS[locale];
  const at = `/u/${encodeURIComponent(token)}`;
  const chosen = new Set(Array.isArray(profile.attributes.topics) ? (profile.attributes.topics as string[]) : []);
  const topics = settings.topics.length
    ? `<form method="post" action="${at}/preferences"><fieldset><legend>${w.topics}</legend>${settings.topics
        .map(
          (t) =>
            `<label><input type="checkbox" name="topics" value="${escapeHtml(t.id)}"${chosen.has(t.id) ? ' checked' : ''}> ${escapeHtml(t.label[locale])}</label>`,
        )
        .join('')}</fieldset><button type="submit">${w.save}</button></form>`
    : '';
  return page(
    locale,
    settings,
    w.preferences,
    `${notice ? `<p role="status"><strong>${escapeHtml(notice)}</strong></p>` : ''}<p>${w.preferencesFor(escapeHtml(profile.email))}</p>${topics}
<section><h2>${w.leave}</h2><p>${w.leaveHint}</p><form method="post" action="${at}"><button type="submit" class="quiet">${w.leave}</button></form></section>
${
  // The link goes by email: without a sender address there is none to offer.
  settings.fromAddress
    ? `<section><h2>${w.yourData}</h2><p>${w.yourDataHint}</p><form method="post" action="${at}/data"><button type="submit" class="quiet">${w.sendLink}</button></form></section>`
    : ''
}`,
  );
}

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
