/**
 * The subscriber's side through its real routes, on SQLite and PostgreSQL: a form posted from
 * another site makes a pending profile (excluded with its own cause), the confirmation email
 * carries the link that confirms it, bots and floods are refused, the preference centre's
 * topics are what a delivery's audience then reads, and an erasure leaves nothing personal —
 * and keeps the address from coming back by an import.
 */

import { simpleParser } from 'mailparser';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SignupForm } from '../../shared/subscribers';
import type { OutgoingMessage } from '../sending/compose';
import {
  createKit,
  eventually,
  handOver,
  newProfile,
  prepareOnServerAudience,
  PUBLIC_URL,
  recordingMessenger,
  SAMPLE_DELIVERY,
  type Kit,
} from '../test-kit';
import { SUBMISSIONS_PER_NETWORK } from '../subscribers/subscribers';

let kit: Kit;
let sent: OutgoingMessage[];
let clock = Date.now();
const OTHER_SITE = 'https://shop.example.org';

beforeEach(async () => {
  const recorder = recordingMessenger();
  sent = recorder.sent;
  clock = Date.now();
  kit = await createKit({ messenger: recorder.messenger });
  kit.services.now = () => new Date(clock);
  const settings = await kit.request('/api/subscribers/settings', {
    method: 'PUT',
    json: {
      senderName: 'Bakkerij Jansen',
      fromAddress: 'hallo@bakkerij.example.com',
      logoUrl: 'https://bakkerij.example.com/logo.png',
      topics: [
        { id: 'news', label: { en: 'News', nl: 'Nieuws' } },
        { id: 'offers', label: { en: 'Offers', nl: 'Aanbiedingen' } },
      ],
    },
  });
  expect(settings.status).toBe(200);
});
afterEach(() => kit.close());

async function newForm(change: Partial<SignupForm> = {}): Promise<SignupForm> {
  const created = await kit.request('/api/subscribers/forms', { method: 'POST', json: { name: 'Newsletter' } });
  expect(created.status).toBe(201);
  const form = (await created.json()) as SignupForm;
  const { id: _, ...rest } = { ...form, topics: ['news', 'offers'], ...change };
  const saved = await kit.request(`/api/subscribers/forms/${form.id}`, { method: 'PUT', json: rest });
  expect(saved.status, await saved.clone().text()).toBe(200);
  return saved.json();
}

/** Loads the form's script as a browser would, and returns its time token. */
async function timeToken(formId: string): Promise<string> {
  const script = await (await kit.app.request(`/f/${formId}/form.js`)).text();
  return /i\.value="([^"]+)"/.exec(script)![1];
}

/** Posts a form as a page on another site does: a plain form post. */
function post(path: string, fields: Record<string, string | string[]>, language = 'en') {
  const body = new URLSearchParams();
  for (const [key, value] of Object.entries(fields)) for (const v of [value].flat()) body.append(key, v);
  return kit.app.request(path, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', origin: OTHER_SITE, 'accept-language': language },
  });
}

async function signUp(formId: string, fields: Record<string, string | string[]>, language = 'en') {
  const t = await timeToken(formId);
  clock += 5_000; // a person takes a few seconds
  return post(`/f/${formId}`, { t, ...fields }, language);
}

const profileAt = (email: string) => kit.services.audience.findByEmail(email);
const confirmLink = async (message: OutgoingMessage) => {
  const parsed = await simpleParser(`Content-Type: text/html; charset=utf-8\r\n\r\n${message.html}`);
  return /href="([^"]+\/f\/confirm\/[^"]+)"/.exec(String(parsed.html))![1].slice(PUBLIC_URL.length);
};

describe('a sign-up form with double opt-in', () => {
  it('makes a pending profile from a post on another site, mails the confirmation in Dutch, and the link confirms', async () => {
    const form = await newForm();
    const page = await kit.app.request(`/f/${form.id}`, { headers: { 'accept-language': 'nl-NL,nl;q=0.9' } });
    expect(page.status).toBe(200);
    const hosted = await page.text();
    expect(hosted).toContain('lang="nl"');
    expect(hosted).toContain('Bakkerij Jansen');
    expect(hosted).toContain('Aanbiedingen');
    expect(hosted).toContain(form.consentText.nl);
    // The page may be sent on to the operator's "after signing up" page: the browser checks that redirect against form-action.
    expect(page.headers.get('content-security-policy')).toContain("form-action 'self' https: http:");

    const response = await signUp(form.id, { email: 'Anna@Example.com', firstName: 'Anna', topics: ['offers'], lang: 'nl' }, 'nl');
    expect(response.status).toBe(200);
    expect(await response.text()).toContain('Kijk in je inbox');
    const pending = await profileAt('anna@example.com');
    expect(pending).toMatchObject({ pending: true, firstName: 'Anna', status: 'subscribed' });

    // Pending: excluded from a delivery with its own cause.
    const prepared = await prepareOnServerAudience(kit, { ...SAMPLE_DELIVERY, id: 'd' });
    expect(prepared.exclusions.find((e) => e.profileId === pending!.id)).toMatchObject({ cause: 'pending' });

    const [consent] = (await (await kit.request('/api/subscribers/consents?email=anna@example.com')).json()).consents;
    expect(consent).toMatchObject({ status: 'pending', formId: form.id, textShown: form.consentText.nl, locale: 'nl', confirmedAt: null });

    expect(sent).toHaveLength(1);
    const mail = sent[0];
    expect(mail).toMatchObject({
      to: 'anna@example.com',
      subject: 'Bevestig je inschrijving',
      from: { address: 'hallo@bakkerij.example.com' },
    });
    const link = await confirmLink(mail);
    // Following the link shows a button; only the button's post confirms (a mail scanner's GET changes nothing).
    const confirmPage = await kit.app.request(link);
    expect(await confirmPage.text()).toContain('Ja, bevestigen');
    expect((await profileAt('anna@example.com'))!.pending).toBe(true);
    const confirmed = await kit.app.request(link, { method: 'POST' });
    expect(confirmed.status).toBe(200);
    expect(await confirmed.text()).toContain('Inschrijving bevestigd');
    const profile = await profileAt('anna@example.com');
    expect(profile!.pending).toBeUndefined();
    expect(profile!.attributes.topics).toEqual(['offers']);
    const [after] = (await (await kit.request('/api/subscribers/consents?email=anna@example.com')).json()).consents;
    expect(after.status).toBe('confirmed');
    expect(after.confirmedAt).toBe(new Date(clock).toISOString());
    // A link works once.
    expect((await kit.app.request(link, { method: 'POST' })).status).toBe(404);
  });

  it('keeps the sender address while a double opt-in form needs it, and a form that cannot confirm is refused', async () => {
    const form = await newForm();
    const settings = await (await kit.request('/api/subscribers/settings')).json();
    const dropped = await kit.request('/api/subscribers/settings', { method: 'PUT', json: { ...settings, fromAddress: '' } });
    expect(dropped.status).toBe(422);
    expect((await dropped.json()).message).toContain('"Newsletter" sends confirmation emails');
    const { id: _, ...rest } = form;
    const broken = await kit.request(`/api/subscribers/forms/${form.id}`, {
      method: 'PUT',
      json: { ...rest, confirmation: { ...rest.confirmation, html: { ...rest.confirmation.html, nl: '<p>Bevestig</p>' } } },
    });
    expect(broken.status).toBe(422);
    expect((await broken.json()).message).toBe('The Dutch confirmation email has no {{ confirm_url }}: without it nobody can confirm.');
  });

  it.each([true, false])(
    'applies what was typed at an existing address only once its owner confirms (double opt-in: %s)',
    async (doubleOptIn) => {
      await kit.services.audience.upsertMany(
        [newProfile({ email: 'ben@example.com', firstName: 'Ben', locale: 'en', status: 'unsubscribed' })],
        'an operator',
        new Date(),
      );
      const form = await newForm({ doubleOptIn });
      const typed = await signUp(form.id, { email: 'ben@example.com', firstName: 'Mallory' });
      expect(await typed.text()).toContain('Check your inbox');
      expect(await profileAt('ben@example.com')).toMatchObject({ firstName: 'Ben', status: 'unsubscribed' });
      await kit.app.request(await confirmLink(sent[0]), { method: 'POST' });
      expect(await profileAt('ben@example.com')).toMatchObject({ firstName: 'Mallory', status: 'subscribed' });
    },
  );

  it('refuses bots: the hidden field filled, no time token, a post within seconds of loading, a flood from one network', async () => {
    const form = await newForm({ doubleOptIn: false });
    const t = await timeToken(form.id);
    expect((await post(`/f/${form.id}`, { email: 'bot1@example.com', t })).status).toBe(400); // within a second
    clock += 5_000;
    expect((await post(`/f/${form.id}`, { email: 'bot2@example.com', t, website: 'http://spam.example' })).status).toBe(400);
    expect((await post(`/f/${form.id}`, { email: 'bot3@example.com' })).status).toBe(400);
    expect((await post(`/f/${form.id}`, { email: 'bot4@example.com', t: `${t}x` })).status).toBe(400);
    expect(await kit.value("SELECT COUNT(*) FROM profiles WHERE email LIKE 'bot%'")).toBe(0);
    const refused = await post(`/f/${form.id}`, { email: 'not an address', t });
    expect(refused.status).toBe(400);
    expect(await refused.text()).toContain('That is not a valid email address');
    // A person gets in (single opt-in: subscribed at once)…
    const ok = await post(`/f/${form.id}`, { email: 'carla@example.com', t });
    expect(ok.status).toBe(200);
    expect(await profileAt('carla@example.com')).toMatchObject({ status: 'subscribed' });
    expect((await profileAt('carla@example.com'))!.pending).toBeUndefined();
    // …until the network has sent too many.
    for (let i = 6; i < SUBMISSIONS_PER_NETWORK; i++) await post(`/f/${form.id}`, { email: `p${i}@example.com`, t });
    const flood = await post(`/f/${form.id}`, { email: 'late@example.com', t });
    expect(flood.status).toBe(429);
    expect(await profileAt('late@example.com')).toBeUndefined();
  });
});

describe('the preference centre', () => {
  it("changes the recipient's topics, and a delivery for a topic follows it", async () => {
    await kit.services.audience.upsertMany(
      [newProfile({ email: 'dirk@example.com', locale: 'nl', attributes: { topics: ['news'] } }), newProfile({ email: 'eva@example.com' })],
      'test',
      new Date(),
    );
    const handed = await handOver(kit, 'weekly', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/weekly/send', { json: { contentHash: handed.contentHash, scheduledAt: null } });
    await eventually(() => sent.some((m) => m.to === 'dirk@example.com'));
    const message = sent.find((m) => m.to === 'dirk@example.com')!;
    const unsubscribe = /<(https?:[^>]+)>/.exec(message.headers['List-Unsubscribe'])![1].slice(PUBLIC_URL.length);

    const centre = await (await kit.app.request(unsubscribe)).text();
    expect(centre).toContain('Je e-mailvoorkeuren');
    expect(centre).toMatch(/value="news" checked/);
    const saved = await post(`${unsubscribe}/preferences`, { topics: ['offers'] }, 'nl');
    expect(saved.status).toBe(200);
    expect(await saved.text()).toContain('Je keuzes zijn opgeslagen');
    expect((await profileAt('dirk@example.com'))!.attributes.topics).toEqual(['offers']);
    expect((await profileAt('dirk@example.com'))!.status).toBe('subscribed');

    const forTopic = (topic: string) =>
      prepareOnServerAudience(kit, {
        ...SAMPLE_DELIVERY,
        id: `for-${topic}`,
        audience: { kind: 'condition', field: 'topics', operator: 'hasTag', value: topic },
      });
    expect((await forTopic('news')).recipients.map((r) => r.email)).not.toContain('dirk@example.com');
    expect((await forTopic('offers')).recipients.map((r) => r.email)).toContain('dirk@example.com');
  });
});

describe('erasure', () => {
  it('leaves nothing personal, reaches the replicas by a tombstone, and keeps the address from coming back by an import', async () => {
    await kit.services.audience.upsertMany(
      [newProfile({ email: 'fien@example.com' }), newProfile(), newProfile({ email: 'hans@example.com', status: 'unsubscribed' })],
      'test',
      new Date(),
    );
    const handed = await handOver(kit, 'sent', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/sent/send', { json: { contentHash: handed.contentHash, scheduledAt: null } });
    await eventually(async () => (await kit.services.deliveries.status('sent')) === 'completed');
    const message = sent.find((m) => m.to === 'fien@example.com')!;
    const pixel = /src="([^"]+\/t\/o\/[^"]+)"/.exec(message.html)![1].slice(PUBLIC_URL.length);
    await kit.app.request(pixel, { headers: { 'user-agent': 'Mozilla/5.0 (Windows NT 10.0) Chrome/124.0' } });
    const fien = (await profileAt('fien@example.com'))!;
    await eventually(async () => Number(await kit.value('SELECT COUNT(*) FROM tracking_events')) > 0);

    const exported = await kit.request(`/api/subscribers/profiles/${fien.id}/data`);
    const data = await exported.json();
    expect(data.profile.email).toBe('fien@example.com');
    expect(data.messages.map((m: { status: string }) => m.status)).toEqual(['sent']);
    expect(data.events.map((e: { kind: string }) => e.kind)).toContain('open');

    const { cursor } = await kit.services.audience.changesSince(0, 1_000_000);
    expect((await kit.request(`/api/subscribers/profiles/${fien.id}/erase`, { method: 'POST' })).status).toBe(200);
    expect(await profileAt('fien@example.com')).toBeUndefined();
    expect((await kit.services.audience.changesSince(cursor, 100)).deleted).toEqual([fien.id]);
    expect(await kit.value("SELECT COUNT(*) FROM journal WHERE email = 'fien@example.com'")).toBe(0);
    expect(await kit.value('SELECT COUNT(*) FROM journal WHERE profile_id = ? AND (vals <> ? OR subject <> ?)', [fien.id, '{}', ''])).toBe(
      0,
    );
    expect(await kit.value('SELECT COUNT(*) FROM tracking_events WHERE ip IS NOT NULL OR user_agent IS NOT NULL')).toBe(0);
    expect(await kit.value('SELECT COUNT(*) FROM sends WHERE profile_id = ?', [fien.id])).toBe(0);
    // The delivery's figures keep their count.
    expect((await (await kit.request('/api/deliveries/sent')).json()).delivered).toBe(2);
    expect((await kit.request(`/api/subscribers/profiles/${fien.id}/data`)).status).toBe(404);
    // An excluded profile's address goes from the delivery's exclusion log too.
    const hans = (await profileAt('hans@example.com'))!;
    expect(await kit.value("SELECT COUNT(*) FROM exclusions WHERE email = 'hans@example.com'")).toBe(1);
    expect((await kit.request(`/api/subscribers/profiles/${hans.id}/erase`, { method: 'POST' })).status).toBe(200);
    expect(await kit.value("SELECT COUNT(*) FROM exclusions WHERE email = 'hans@example.com'")).toBe(0);
    expect(await kit.value('SELECT COUNT(*) FROM exclusions WHERE profile_id = ?', [hans.id])).toBe(1);

    const counts = await kit.services.audience.upsertMany([{ email: 'Fien@Example.com', firstName: 'Fien' }], 'a later import', new Date());
    expect(counts).toMatchObject({ inserted: 0, erased: 1 });
    expect(await profileAt('fien@example.com')).toBeUndefined();

    // Her own sign-up brings her back, pending until she confirms; confirming forgets the hash.
    const form = await newForm({ doubleOptIn: false });
    await signUp(form.id, { email: 'fien@example.com' });
    expect((await profileAt('fien@example.com'))!.pending).toBe(true);
    await kit.app.request(await confirmLink(sent[sent.length - 1]), { method: 'POST' });
    expect((await profileAt('fien@example.com'))!.pending).toBeUndefined();
    expect(await kit.services.stores.subscribers.isErased('fien@example.com')).toBe(false);
  });

  it('the recipient asks from the preference centre, confirms by the emailed link, downloads and erases', async () => {
    await kit.services.audience.upsertMany([newProfile({ email: 'gert@example.com', locale: 'en' })], 'test', new Date());
    const handed = await handOver(kit, 'one', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/one/send', { json: { contentHash: handed.contentHash, scheduledAt: null } });
    await eventually(() => sent.some((m) => m.to === 'gert@example.com'));
    const message = sent.find((m) => m.to === 'gert@example.com')!;
    const unsubscribe = /<(https?:[^>]+)>/.exec(message.headers['List-Unsubscribe'])![1].slice(PUBLIC_URL.length);
    const asked = await post(`${unsubscribe}/data`, {});
    expect(await asked.text()).toContain('We sent you a message with a link');
    const mail = sent[sent.length - 1];
    expect(mail).toMatchObject({ to: 'gert@example.com', subject: 'Your data: the link you asked for' });
    const access = /href="([^"]+\/p\/[^"]+)"/.exec(mail.html)![1].slice(PUBLIC_URL.length);
    expect(await (await kit.app.request(access)).text()).toContain('Erase my data');
    const download = await kit.app.request(`${access}/data.json`);
    expect((await download.json()).profile.email).toBe('gert@example.com');
    const erased = await kit.app.request(`${access}/erase`, { method: 'POST' });
    expect(await erased.text()).toContain('Your data is erased');
    expect(await profileAt('gert@example.com')).toBeUndefined();
    expect((await kit.app.request(access)).status).toBe(404);
    // A day later the link no longer works, whatever it names.
    clock += 25 * 3_600_000;
    expect((await kit.app.request(`${access}/data.json`)).status).toBe(404);
  });
});
