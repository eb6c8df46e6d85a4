/**
 * The subscriber's side for operators: the pages' settings (sender, logo, topics), sign-up
 * forms with their embeddable snippet and hosted page, a person's consents, and access and
 * erasure requests handled for them. Changes are audited; an erasure's entry names the
 * profile's number only, never its address.
 */

import { randomUUID } from 'node:crypto';
import { Hono } from 'hono';
import { z } from 'zod';
import {
  newSignupForm,
  PAGE_LOCALES,
  signupFormProblem,
  subscriberSettingsProblem,
  type SignupForm,
  type SubscriberSettings,
} from '../../shared/subscribers';
import type { AppEnv } from '../services';
import { embedSnippet } from '../subscribers/pages';
import { recordAudit } from './audit-trail';
import { jsonBody, params, query } from './validate';

const localized = z.object({ en: z.string().max(20_000), nl: z.string().max(20_000) });
const settingsBody = z.object({
  senderName: z.string().trim().max(200),
  fromAddress: z.string().trim().max(254),
  logoUrl: z.string().trim().max(2000).nullable(),
  topics: z.array(z.object({ id: z.string().trim().max(60), label: localized })).max(100),
});
const formBody = z.object({
  name: z.string().trim().max(200),
  fields: z.array(z.object({ name: z.string().max(100), required: z.boolean() })).max(30),
  topics: z.array(z.string().max(60)).max(50),
  consentText: localized,
  doubleOptIn: z.boolean(),
  confirmation: z.object({ subject: localized, html: localized }),
  locale: z.enum(PAGE_LOCALES),
  redirectUrl: z.string().trim().max(2000).nullable(),
});
const formId = z.object({ id: z.string().min(1).max(100) });
const profileId = z.object({ id: z.coerce.number().int().positive() });
const consentQuery = z.object({ email: z.string().trim().max(254) });
const snippetQuery = z.object({ lang: z.enum(PAGE_LOCALES).optional() });

const refused = (message: string) => ({ error: 'invalid-request', message });

export const subscriberAdmin = new Hono<AppEnv>()
  .get('/settings', async (c) => c.json(await c.var.services.subscribers.settings(), 200))
  .put('/settings', jsonBody(settingsBody), async (c) => {
    const settings: SubscriberSettings = c.req.valid('json');
    const problem = subscriberSettingsProblem(settings);
    if (problem) return c.json(refused(problem), 422);
    const doubleOptIn = (await c.var.services.stores.subscribers.forms()).find((f) => f.doubleOptIn);
    if (!settings.fromAddress && doubleOptIn) {
      return c.json(
        refused(`The form "${doubleOptIn.name}" sends confirmation emails: keep a sender address, or make it single opt-in first.`),
        422,
      );
    }
    await c.var.services.subscribers.saveSettings(settings);
    await recordAudit(c, 'settings-changed', 'settings', 'subscriber-pages', 'Subscriber pages');
    return c.json(settings, 200);
  })
  .get('/forms', async (c) => {
    const { stores, publicUrl } = c.var.services;
    const forms = await stores.subscribers.forms();
    return c.json({ forms: forms.map((form) => ({ ...form, hostedUrl: `${publicUrl()}/f/${encodeURIComponent(form.id)}` })) }, 200);
  })
  .post('/forms', jsonBody(z.object({ name: z.string().trim().min(1).max(200) })), async (c) => {
    const { stores, now } = c.var.services;
    const form = newSignupForm(randomUUID(), c.req.valid('json').name);
    await stores.subscribers.saveForm(form, now());
    await recordAudit(c, 'form-saved', 'form', form.id, form.name, 'created');
    return c.json(form, 201);
  })
  .put('/forms/:id', params(formId), jsonBody(formBody), async (c) => {
    const { stores, audience, subscribers, now } = c.var.services;
    const id = c.req.valid('param').id;
    if (!(await stores.subscribers.form(id))) return c.json({ error: 'form-not-found', message: 'There is no such form.' }, 404);
    const form: SignupForm = { ...c.req.valid('json'), id };
    const settings = await subscribers.settings();
    const problem = signupFormProblem(form, await audience.schema(), settings.topics);
    if (problem) return c.json(refused(problem), 422);
    if (form.doubleOptIn && !settings.fromAddress) {
      return c.json(
        refused("A double opt-in form sends a confirmation email: set the sender's address in the subscriber settings first."),
        422,
      );
    }
    await stores.subscribers.saveForm(form, now());
    await recordAudit(c, 'form-saved', 'form', form.id, form.name);
    return c.json(form, 200);
  })
  .delete('/forms/:id', params(formId), async (c) => {
    const { stores } = c.var.services;
    const id = c.req.valid('param').id;
    const form = await stores.subscribers.form(id);
    if (!form || !(await stores.subscribers.removeForm(id)))
      return c.json({ error: 'form-not-found', message: 'There is no such form.' }, 404);
    await recordAudit(c, 'form-removed', 'form', id, form.name);
    return c.json({ removed: true }, 200);
  })
  .get('/forms/:id/snippet', params(formId), query(snippetQuery), async (c) => {
    const { stores, audience, subscribers, publicUrl } = c.var.services;
    const form = await stores.subscribers.form(c.req.valid('param').id);
    if (!form) return c.json({ error: 'form-not-found', message: 'There is no such form.' }, 404);
    const settings = await subscribers.settings();
    const locale = c.req.valid('query').lang ?? form.locale;
    return c.json({ html: embedSnippet(form, await audience.schema(), settings.topics, publicUrl(), locale), locale }, 200);
  })
  .get('/consents', query(consentQuery), async (c) => {
    return c.json({ consents: await c.var.services.stores.subscribers.consentsOf(c.req.valid('query').email.toLowerCase()) }, 200);
  })
  // A person, for an access or erasure request: their profile (if any), consents, and whether the address was erased.
  .get('/people', query(consentQuery), async (c) => {
    const { audience, stores } = c.var.services;
    const email = c.req.valid('query').email.toLowerCase();
    const [profile, consents, erased] = await Promise.all([
      audience.findByEmail(email),
      stores.subscribers.consentsOf(email),
      stores.subscribers.isErased(email),
    ]);
    return c.json({ profile: profile ?? null, consents, erased }, 200);
  })
  .get('/profiles/:id/data', params(profileId), async (c) => {
    const id = c.req.valid('param').id;
    const data = await c.var.services.subscribers.dataOf(id);
    if (!data) return c.json({ error: 'profile-not-found', message: 'There is no such profile (it may have been erased).' }, 404);
    await recordAudit(c, 'profile-exported', 'audience', String(id), `profile ${id}`);
    return c.json(data, 200, { 'Content-Disposition': `attachment; filename="profile-${id}.json"` });
  })
  .post('/profiles/:id/erase', params(profileId), async (c) => {
    const id = c.req.valid('param').id;
    if (!(await c.var.services.subscribers.erase(id))) {
      return c.json({ error: 'profile-not-found', message: 'There is no such profile (it may have been erased already).' }, 404);
    }
    await recordAudit(c, 'profile-erased', 'audience', String(id), `profile ${id}`, 'at its owner’s request');
    return c.json({ erased: true }, 200);
  });
