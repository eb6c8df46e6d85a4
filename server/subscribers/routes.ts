/**
 * The subscriber's pages over HTTP, open to anyone (a form is posted from any site; the links
 * come from emails): a form's hosted page, its script and its submission; the confirmation
 * of a double opt-in; the preference centre behind every message's unsubscribe link; and a
 * person's own data. What each does is subscribers.ts's; every page is in the person's
 * language. A state change is a POST from a page's button, never a GET: a mail scanner that
 * follows links confirms, unsubscribes and erases nothing.
 */

import { Hono, type Context } from 'hono';
import { pageLocale, type PageLocale, type SubscriberSettings } from '../../shared/subscribers';
import { escapeHtml } from '../../shared/template';
import { clientAddress } from '../http/sign-in-limits';
import type { AppEnv } from '../services';
import { badLinkPage, formFields, page, tokenScript, WORDS } from './pages';

const NO_STORE = { 'Cache-Control': 'no-store, max-age=0' };

/** The language a page is shown in: ?lang=, then the browser's, then `fallback`. */
function localeOf(c: Context<AppEnv>, fallback: PageLocale = 'en'): PageLocale {
  const asked = c.req.query('lang');
  if (asked === 'nl' || asked === 'en') return asked;
  const header = c.req.header('accept-language');
  return header ? pageLocale(header) : fallback;
}

const seen = (c: Context<AppEnv>) => ({ ip: clientAddress(c), userAgent: c.req.header('user-agent') });

async function body(c: Context<AppEnv>): Promise<Record<string, string | string[]>> {
  const parsed = await c.req.parseBody({ all: true }).catch(() => ({}));
  const out: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(parsed)) {
    if (typeof value === 'string') out[key] = value;
    else if (Array.isArray(value)) out[key] = value.filter((v): v is string => typeof v === 'string');
  }
  return out;
}

const html = (c: Context<AppEnv>, status: 200 | 400 | 404 | 429, markup: string) => c.html(markup, status, NO_STORE);

export const subscriberPages = new Hono<AppEnv>()
  // The hosted page of a form.
  .get('/f/:id', async (c) => {
    const { subscribers, audience } = c.var.services;
    const form = await c.var.services.stores.subscribers.form(c.req.param('id'));
    const settings = await subscribers.settings();
    if (!form) return html(c, 404, page(localeOf(c), settings, WORDS[localeOf(c)].badLink, `<p>${WORDS[localeOf(c)].noForm}</p>`));
    const locale = localeOf(c, form.locale);
    return html(c, 200, formPage(form.id, locale, settings, formFields(form, await audience.schema(), settings.topics, locale)));
  })
  // The form's script: its time token, fresh at each load (the bot check).
  .get('/f/:id/form.js', async (c) => {
    const form = await c.var.services.stores.subscribers.form(c.req.param('id'));
    if (!form) return c.body('/* no such form */\n', 404, { 'Content-Type': 'text/javascript; charset=utf-8', ...NO_STORE });
    const script = tokenScript(c.var.services.subscribers.formToken(form.id), form.id);
    return c.body(script, 200, { 'Content-Type': 'text/javascript; charset=utf-8', ...NO_STORE });
  })
  .post('/f/:id', async (c) => {
    const { subscribers, audience } = c.var.services;
    const given = await body(c);
    const outcome = await subscribers.submit(c.req.param('id'), given, seen(c), c.req.header('accept-language'));
    const settings = await subscribers.settings();
    const w = WORDS[outcome.locale];
    if (outcome.kind === 'refused') {
      const again = outcome.form
        ? formFields(outcome.form, await audience.schema(), settings.topics, outcome.locale, stringsOf(given))
        : '';
      const problem = `<p class="problem" role="alert">${escapeHtml(outcome.problem)}</p>`;
      const markup = outcome.form
        ? formPage(outcome.form.id, outcome.locale, settings, `${problem}${again}`, w.refused)
        : page(outcome.locale, settings, w.refused, problem);
      return html(c, outcome.status, markup);
    }
    if (outcome.form.redirectUrl) return c.redirect(outcome.form.redirectUrl, 303);
    return outcome.kind === 'subscribed'
      ? html(c, 200, page(outcome.locale, settings, w.subscribed, `<p>${w.subscribedBody}</p>`))
      : html(c, 200, page(outcome.locale, settings, w.checkInbox, `<p>${w.checkInboxBody(escapeHtml(outcome.email))}</p>`));
  })
  // The confirmation link of a double opt-in: a page with the button that confirms.
  .get('/f/confirm/:token', async (c) => {
    const { subscribers } = c.var.services;
    const settings = await subscribers.settings();
    const consent = await subscribers.pendingConsent(c.req.param('token'));
    const locale = localeOf(c, pageLocale(consent?.locale));
    const w = WORDS[locale];
    if (!consent) return html(c, 404, badLinkPage(locale, settings));
    return html(
      c,
      200,
      page(
        locale,
        settings,
        w.confirmTitle,
        `<p>${w.confirmBody(escapeHtml(consent.email))}</p><form method="post"><button type="submit">${w.confirmButton}</button></form>`,
      ),
    );
  })
  .post('/f/confirm/:token', async (c) => {
    const { subscribers } = c.var.services;
    const settings = await subscribers.settings();
    const consent = await subscribers.confirm(c.req.param('token'), seen(c));
    const locale = localeOf(c, pageLocale(consent?.locale));
    const w = WORDS[locale];
    if (!consent) return html(c, 404, badLinkPage(locale, settings));
    return html(c, 200, page(locale, settings, w.confirmed, `<p>${w.confirmedBody}</p>`));
  })
  // A person's own data, from the link they asked for in the preference centre.
  .get('/p/:token', async (c) => {
    const { subscribers } = c.var.services;
    const settings = await subscribers.settings();
    const profile = await subscribers.accessTo(c.req.param('token'));
    const locale = localeOf(c, pageLocale(profile?.locale));
    const w = WORDS[locale];
    if (!profile) return html(c, 404, badLinkPage(locale, settings));
    const token = encodeURIComponent(c.req.param('token'));
    return html(
      c,
      200,
      page(
        locale,
        settings,
        w.dataTitle,
        `<p>${w.dataBody(escapeHtml(profile.email))}</p>
<p><a href="/p/${token}/data.json" download="my-data.json">${w.download}</a></p>
<section><h2>${w.erase}</h2><p>${w.eraseHint}</p>
<form method="post" action="/p/${token}/erase"><button type="submit" class="quiet">${w.erase}</button></form></section>`,
      ),
    );
  })
  .get('/p/:token/data.json', async (c) => {
    const { subscribers } = c.var.services;
    const profile = await subscribers.accessTo(c.req.param('token'));
    const data = profile && (await subscribers.dataOf(profile.id));
    if (!data) return c.json({ error: 'not-valid', message: 'This link is not valid (any more).' }, 404);
    return c.json(data, 200, { 'Content-Disposition': 'attachment; filename="my-data.json"', ...NO_STORE });
  })
  .post('/p/:token/erase', async (c) => {
    const { subscribers } = c.var.services;
    const settings = await subscribers.settings();
    const profile = await subscribers.accessTo(c.req.param('token'));
    const locale = localeOf(c, pageLocale(profile?.locale));
    const w = WORDS[locale];
    if (!profile || !(await subscribers.erase(profile.id))) return html(c, 404, badLinkPage(locale, settings));
    return html(c, 200, page(locale, settings, w.erased, `<p>${w.erasedBody}</p>`));
  });

/** A form's hosted page: the form, posting to itself, and its script. */
function formPage(formId: string, locale: PageLocale, settings: SubscriberSettings, fields: string, title = WORDS[locale].signUp): string {
  const id = escapeHtml(formId);
  return page(
    locale,
    settings,
    title,
    `<form id="mailroom-form-${id}" method="post" action="/f/${encodeURIComponent(formId)}" accept-charset="utf-8">${fields}</form>
<script src="/f/${encodeURIComponent(formId)}/form.js"></script>`,
  );
}

/** The text values given, to fill a form in again after a refusal. */
function stringsOf(given: Record<string, string | string[]>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(given).flatMap(([k, v]) => (typeof v === 'string' && k !== 't' && k !== 'website' ? [[k, v]] : [])),
  );
}
