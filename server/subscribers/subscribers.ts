/**
 * The subscriber's side, as the people on a list meet it: signing up through a form (with a
 * double opt-in: pending, never mailed, until the link in the confirmation email is clicked),
 * choosing topics in the preference centre, and getting or erasing their data. The routes
 * (subscribers/routes.ts and routes/subscribers.ts) only speak HTTP.
 *
 * Decided here: what was submitted at an existing profile's address is applied only once its
 * owner confirms, whatever the form (nobody can change another person's data, or subscribe
 * them again, by typing their address); a single opt-in form subscribes a new address at
 * once, and asks an erased one for a confirmation too (only its owner can bring it back).
 */

import { asciiDomain, emailDomain, normalizeEmail } from '../../shared/email-address';
import {
  DEFAULT_SUBSCRIBER_SETTINGS,
  pageLocale,
  readSubmission,
  TOPICS_ATTRIBUTE,
  type PageLocale,
  type SignupForm,
  type Submission,
  type SubscriberSettings,
} from '../../shared/subscribers';
import { compileTemplate, escapeHtml } from '../../shared/template';
import type { Profile, ProfileInput } from '../../shared/types';
import { clientKey, slidingWindow } from '../http/sign-in-limits';
import type { Messenger } from '../sending/messenger';
import type { AudienceStore } from '../store/audience';
import type { SettingsStore } from '../store/settings';
import type { ConsentRecord, ProfileData, SubscriberStore } from '../store/subscribers';
import { WORDS } from './pages';
import type { SubscriberTokens } from './tokens';

/** A form sent sooner than this after its page loaded is a bot's. */
export const FORM_MIN_AGE_MS = 3_000;
/** A form's page older than this must be loaded again. */
export const FORM_MAX_AGE_MS = 24 * 3_600_000;
/** How long a confirmation link works. */
export const CONFIRM_MAX_AGE_MS = 7 * 86_400_000;
/** How long a link to one's data works. */
export const ACCESS_MAX_AGE_MS = 24 * 3_600_000;
/** Submissions a network may make (per IPv4 address, per IPv6 /64) in SUBMISSION_WINDOW_MS. */
export const SUBMISSIONS_PER_NETWORK = 10;
export const SUBMISSION_WINDOW_MS = 10 * 60_000;
/** Emails (a confirmation, a data link) an address gets at most in EMAIL_WINDOW_MS: nobody floods an inbox through us. */
export const EMAILS_PER_ADDRESS = 3;
export const EMAIL_WINDOW_MS = 60 * 60_000;

const SETTINGS_KEY = 'subscriber-pages';

export interface SubscriberDeps {
  store: SubscriberStore;
  audience: AudienceStore;
  settings: SettingsStore;
  tokens: SubscriberTokens;
  /** The messenger of the moment (the settings may switch relays). */
  messenger: () => Messenger;
  publicUrl: () => string;
  now: () => Date;
  log: (line: string) => void;
}

export interface Seen {
  ip: string | undefined;
  userAgent: string | undefined;
}

export type SubmitOutcome =
  | { kind: 'subscribed'; locale: PageLocale; form: SignupForm }
  | { kind: 'check-inbox'; locale: PageLocale; form: SignupForm; email: string }
  | { kind: 'refused'; status: 400 | 404 | 429; locale: PageLocale; problem: string; form?: SignupForm };

export class Subscribers {
  private readonly networks = slidingWindow(SUBMISSIONS_PER_NETWORK, SUBMISSION_WINDOW_MS, 100_000);
  private readonly inboxes = slidingWindow(EMAILS_PER_ADDRESS, EMAIL_WINDOW_MS, 100_000);

  constructor(private readonly deps: SubscriberDeps) {}

  async settings(): Promise<SubscriberSettings> {
    const raw = await this.deps.settings.get(SETTINGS_KEY);
    return raw ? { ...DEFAULT_SUBSCRIBER_SETTINGS, ...(JSON.parse(raw) as SubscriberSettings) } : { ...DEFAULT_SUBSCRIBER_SETTINGS };
  }

  /** Keeps the settings (checked by the route); with topics, the audience's schema gets its `topics` attribute. */
  async saveSettings(settings: SubscriberSettings): Promise<void> {
    if (settings.topics.length && !(await this.deps.audience.schema()).some((a) => a.name === TOPICS_ATTRIBUTE.name)) {
      await this.deps.audience.declareAttribute(TOPICS_ATTRIBUTE);
    }
    await this.deps.settings.set(SETTINGS_KEY, JSON.stringify(settings));
  }

  /** A signed token of the form's load time, for its script. */
  formToken(formId: string): string {
    return this.deps.tokens.sign('form', formId, this.deps.now());
  }

  /**
   * Takes a submission: refused for a bot (the hidden field filled, no time token or one too
   * new or too old), a network over its limit, or a value that is not right (said in the page's
   * language); otherwise the person is subscribed, or asked to confirm by email.
   */
  async submit(formId: string, body: Record<string, string | string[]>, seen: Seen, acceptLanguage?: string): Promise<SubmitOutcome> {
    const { store, audience, tokens, now } = this.deps;
    const form = await store.form(formId);
    const asked = typeof body.lang === 'string' && (body.lang === 'nl' || body.lang === 'en') ? body.lang : undefined;
    const locale = asked ?? (acceptLanguage ? pageLocale(acceptLanguage) : (form?.locale ?? 'en'));
    const w = WORDS[locale];
    if (!form) return { kind: 'refused', status: 404, locale, problem: w.noForm };
    const at = now().getTime();
    const network = networkKey(seen.ip);
    if (this.networks.waitMs(network, at) > 0) return { kind: 'refused', status: 429, locale, problem: w.tooMany, form };
    this.networks.add(network, at);
    const time = typeof body.t === 'string' ? tokens.verify(body.t, 'form') : null;
    const honeypot = typeof body.website === 'string' && body.website.trim() !== '';
    if (honeypot || !time || time.subject !== form.id || at - time.at < FORM_MIN_AGE_MS || at - time.at > FORM_MAX_AGE_MS) {
      this.deps.log(
        `sign-up form ${form.id}: a submission was refused as a bot's (${honeypot ? 'the hidden field was filled' : 'no valid time token'}).`,
      );
      return { kind: 'refused', status: 400, locale, problem: w.tooFast, form };
    }
    const schema = await audience.schema();
    const read = readSubmission(form, schema, body, locale);
    if (!read.ok) return { kind: 'refused', status: 400, locale, problem: read.problem, form };
    const submission = read.submission;
    const existing = await audience.findByEmail(submission.email);
    // Only a new address is subscribed at once by a single opt-in form: what is typed at an existing one (its owner's name,
    // an unsubscription, a pending confirmation) waits for its owner's confirmation, and so does an erased address.
    const confirm = form.doubleOptIn || existing !== undefined || (await store.isErased(submission.email));
    const consent = {
      email: submission.email,
      formId: form.id,
      status: 'pending' as const,
      textShown: form.consentText[locale],
      locale,
      ip: seen.ip ?? null,
      userAgent: seen.userAgent?.slice(0, 300) ?? null,
      submittedAt: now().toISOString(),
      payload: submission,
    };
    if (!confirm) {
      await audience.upsertMany([profileInput(submission, existing, locale, 'subscribed')], `sign-up form ${form.name}`, now());
      const profile = await audience.findByEmail(submission.email);
      const id = await store.addConsent({ ...consent, profileId: profile?.id ?? null });
      await store.confirmConsent(id, seen.ip ?? null, now());
      return { kind: 'subscribed', locale, form };
    }
    // A new address is kept at once, pending: visible in the audience, excluded with its own cause until confirmed.
    if (!existing) {
      await audience.upsertMany(
        [{ ...profileInput(submission, undefined, locale, 'subscribed'), pending: true }],
        `sign-up form ${form.name}`,
        now(),
      );
    }
    const profile = existing ?? (await audience.findByEmail(submission.email));
    const id = await store.addConsent({ ...consent, profileId: profile?.id ?? null });
    await this.sendConfirmation(form, id, submission, locale);
    return { kind: 'check-inbox', locale, form, email: submission.email };
  }

  /** The consent a confirmation link names, while it can still be confirmed; undefined otherwise. */
  async pendingConsent(token: string): Promise<ConsentRecord | undefined> {
    const claims = this.deps.tokens.verify(token, 'confirm');
    if (!claims || this.deps.now().getTime() - claims.at > CONFIRM_MAX_AGE_MS) return undefined;
    const consent = await this.deps.store.consent(Number(claims.subject));
    return consent?.status === 'pending' ? consent : undefined;
  }

  /**
   * Confirms a consent, once: the profile is no longer pending, gets what was submitted and
   * is subscribed (also when its owner had unsubscribed: this is their own choice again).
   */
  async confirm(token: string, seen: Seen): Promise<ConsentRecord | undefined> {
    const { store, audience, now } = this.deps;
    const consent = await this.pendingConsent(token);
    if (!consent || !(await store.confirmConsent(consent.id, seen.ip ?? null, now()))) return undefined;
    const form = await store.form(consent.formId);
    const source = `sign-up form ${form?.name ?? consent.formId}, confirmed`;
    await store.unerase(consent.email);
    const existing = await audience.findByEmail(consent.email);
    await audience.upsertMany(
      [{ ...profileInput(consent.payload, existing, pageLocale(consent.locale), undefined), pending: false }],
      source,
      now(),
    );
    const profile = await audience.findByEmail(consent.email);
    if (profile?.status === 'unsubscribed') await audience.optIn(profile.id, source, now());
    return { ...consent, status: 'confirmed' };
  }

  /** Replaces the topics a profile chose (those the settings still offer). */
  async chooseTopics(profile: Profile, chosen: readonly string[]): Promise<string[]> {
    const offered = new Set((await this.settings()).topics.map((t) => t.id));
    const topics = [...new Set(chosen)].filter((t) => offered.has(t));
    await this.deps.audience.upsertMany([{ email: profile.email, attributes: { topics } }], 'preference centre', this.deps.now());
    return topics;
  }

  /** Emails the profile's owner a link to their data (at most EMAILS_PER_ADDRESS an hour); false when held back. */
  async sendAccessLink(profile: Profile): Promise<boolean> {
    const { tokens, now, publicUrl } = this.deps;
    const settings = await this.settings();
    const locale = pageLocale(profile.locale);
    const url = `${publicUrl()}/p/${tokens.sign('access', String(profile.id), now())}`;
    const w = WORDS[locale];
    return this.email(profile.email, settings, w.accessSubject, w.accessEmail(escapeHtml(url), escapeHtml(settings.senderName)), 'access');
  }

  /** The profile an access link names, while the link works. */
  async accessTo(token: string): Promise<Profile | undefined> {
    const claims = this.deps.tokens.verify(token, 'access');
    if (!claims || this.deps.now().getTime() - claims.at > ACCESS_MAX_AGE_MS) return undefined;
    return this.deps.audience.get(Number(claims.subject));
  }

  dataOf(profileId: number): Promise<ProfileData | undefined> {
    return this.deps.store.dataOf(profileId);
  }

  /** Erases a profile (store/subscribers.ts says what is left); returns the address erased. */
  async erase(profileId: number): Promise<string | undefined> {
    const email = await this.deps.store.erase(profileId, this.deps.now());
    if (email) this.deps.log(`profile ${profileId} erased at its owner's or an operator's request; only its address's hash is kept.`);
    return email;
  }

  private async sendConfirmation(form: SignupForm, consentId: number, submission: Submission, locale: PageLocale): Promise<boolean> {
    const { tokens, now, publicUrl } = this.deps;
    const settings = await this.settings();
    const url = `${publicUrl()}/f/confirm/${tokens.sign('confirm', String(consentId), now())}`;
    const values = { confirm_url: url, first_name: submission.firstName ?? null, sender_name: settings.senderName };
    const subject = compileTemplate(form.confirmation.subject[locale]);
    const html = compileTemplate(form.confirmation.html[locale]);
    if (!subject.ok || !html.ok) {
      this.deps.log(`sign-up form ${form.id}: its ${locale} confirmation email does not compile; nothing was sent to ${submission.email}.`);
      return false;
    }
    return this.email(
      submission.email,
      settings,
      subject.template.render(values, 'header', now()),
      html.template.render(values, 'html', now()),
      'confirm',
    );
  }

  /** Sends one message of ours to a person (not a delivery's: no journal, no tracking). */
  private async email(to: string, settings: SubscriberSettings, subject: string, html: string, kind: string): Promise<boolean> {
    const { now, log } = this.deps;
    const key = `${kind}:${normalizeEmail(to)}`;
    const at = now().getTime();
    if (this.inboxes.waitMs(key, at) > 0) {
      log(`${kind} email to ${to} held back: it already had ${EMAILS_PER_ADDRESS} in the last hour.`);
      return false;
    }
    this.inboxes.add(key, at);
    if (!settings.fromAddress) {
      log(`${kind} email to ${to} not sent: set the sender's address in Subscribers › Settings.`);
      return false;
    }
    const domain = asciiDomain(emailDomain(settings.fromAddress));
    const outcome = await this.deps.messenger().send({
      from: { name: settings.senderName, address: settings.fromAddress },
      to,
      subject,
      html,
      text: html
        .replace(/<[^>]+>/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
      messageId: `<${kind}.${at}.${Math.random().toString(36).slice(2)}@${domain}>`,
      headers: {},
    });
    if (outcome.kind !== 'sent') log(`${kind} email to ${to} not sent: ${outcome.reply}`);
    return outcome.kind === 'sent';
  }
}

/** What a submission writes on a profile: the values given, and the topics chosen added to those it has. */
function profileInput(
  submission: Submission,
  existing: Profile | undefined,
  locale: PageLocale,
  status: 'subscribed' | undefined,
): ProfileInput {
  const had = Array.isArray(existing?.attributes.topics) ? (existing.attributes.topics as string[]) : [];
  const topics = [...new Set([...had, ...submission.topics])];
  return {
    email: submission.email,
    ...(submission.firstName ? { firstName: submission.firstName } : {}),
    ...(submission.lastName ? { lastName: submission.lastName } : {}),
    ...(existing?.locale ? {} : { locale }),
    ...(status ? { status } : {}),
    attributes: { ...submission.attributes, ...(topics.length ? { topics } : {}) },
  };
}

/** The network a submission is counted under: an IPv4 address, an IPv6 /64 (as sign-in counts them). */
const networkKey = (ip: string | undefined): string => (ip ? clientKey(ip) : 'in-process');
