/**
 * The subscriber's side: sign-up forms, the topics a recipient may choose, and the pages a
 * recipient sees (a form, its confirmation, the preference centre), in English and Dutch.
 * Pure data and checks, shared by the app (which edits them) and the server (which serves them).
 */

import { isValidEmail, normalizeEmail } from './email-address';
import { compileTemplate } from './template';
import type { AttributeDefinition } from './types';

/** The languages of the pages a recipient sees. */
export const PAGE_LOCALES = ['en', 'nl'] as const;
export type PageLocale = (typeof PAGE_LOCALES)[number];
export type Localized = Record<PageLocale, string>;

/** Returns the page language for a profile's locale or a browser's Accept-Language: Dutch for nl…, English otherwise. */
export function pageLocale(locale: string | null | undefined): PageLocale {
  const first = (locale ?? '').split(',')[0].trim().toLowerCase();
  return first.startsWith('nl') ? 'nl' : 'en';
}

/** A subject a recipient may choose to hear about; kept on the profile as a tag of its `topics` attribute. */
export interface Topic {
  /** A word (a–z, 0–9, -): the tag. */
  id: string;
  label: Localized;
}

/** The profile attribute (tags) that holds the topics a recipient chose: audience conditions and typology rules read it. */
export const TOPICS_ATTRIBUTE: AttributeDefinition = { name: 'topics', label: 'Topics', type: 'tags' };

/** What every page a recipient sees carries: the sender's name and logo, and the topics on offer. */
export interface SubscriberSettings {
  senderName: string;
  /** The From address of the confirmation and data emails; empty until set (no such email goes out without it). */
  fromAddress: string;
  /** An https URL of an image, or null. */
  logoUrl: string | null;
  topics: Topic[];
}

export const DEFAULT_SUBSCRIBER_SETTINGS: SubscriberSettings = { senderName: 'Mailroom', fromAddress: '', logoUrl: null, topics: [] };

/** The profile fields a form may ask for besides the address. */
export const CORE_FORM_FIELDS = ['firstName', 'lastName'] as const;

export interface SignupForm {
  id: string;
  name: string;
  /** Asked besides the address: firstName, lastName, or a text, number or date attribute of the schema. */
  fields: { name: string; required: boolean }[];
  /** The topics offered (ids of the settings' topics); chosen ones are added to the profile's. */
  topics: string[];
  /** Shown above the button and kept with each consent, word for word. */
  consentText: Localized;
  /** The profile is pending, and never mailed, until the link in the confirmation email is clicked. */
  doubleOptIn: boolean;
  /** The confirmation email (Liquid): {{ confirm_url }}, {{ first_name }}, {{ sender_name }}. */
  confirmation: { subject: Localized; html: Localized };
  /** The page's language when the browser asks for neither. */
  locale: PageLocale;
  /** Where the browser goes after a submission (https), or null for the form's own page. */
  redirectUrl: string | null;
}

export const DEFAULT_CONFIRMATION: SignupForm['confirmation'] = {
  subject: { en: 'Please confirm your subscription', nl: 'Bevestig je inschrijving' },
  html: {
    en: '<p>Hello {{ first_name | default: "there" }},</p><p>Please confirm that you want to receive emails from {{ sender_name }}:</p><p><a href="{{ confirm_url }}">Yes, subscribe me</a></p><p>If you did not ask for this, ignore this message: nothing will be sent to you.</p>',
    nl: '<p>Hallo {{ first_name | default: "daar" }},</p><p>Bevestig dat je e-mails van {{ sender_name }} wilt ontvangen:</p><p><a href="{{ confirm_url }}">Ja, schrijf me in</a></p><p>Heb je hier niet om gevraagd? Negeer dan dit bericht: je ontvangt niets.</p>',
  },
};

export const DEFAULT_CONSENT: Localized = {
  en: 'I agree to receive emails about the topics I chose. I can unsubscribe at any time with the link in every email.',
  nl: 'Ik ga akkoord met e-mails over de gekozen onderwerpen. Ik kan me altijd afmelden met de link in elke e-mail.',
};

/** Returns a new form with the defaults filled in. */
export function newSignupForm(id: string, name: string): SignupForm {
  return {
    id,
    name,
    fields: [{ name: 'firstName', required: false }],
    topics: [],
    consentText: { ...DEFAULT_CONSENT },
    doubleOptIn: true,
    confirmation: { subject: { ...DEFAULT_CONFIRMATION.subject }, html: { ...DEFAULT_CONFIRMATION.html } },
    locale: 'en',
    redirectUrl: null,
  };
}

const TOPIC_ID = /^[a-z0-9][a-z0-9-]{0,39}$/;

/** Returns what is wrong with the settings, or null. */
export function subscriberSettingsProblem(settings: SubscriberSettings): string | null {
  if (!settings.senderName.trim()) return 'The sender name is empty: say whose pages these are (your organization).';
  if (settings.senderName.length > 100) return 'The sender name is longer than 100 characters.';
  if (settings.fromAddress && !isValidEmail(settings.fromAddress)) {
    return 'The sender address is not a valid email address: give the address confirmation emails come from.';
  }
  if (settings.logoUrl !== null && !/^https:\/\/[^\s"'<>]+$/.test(settings.logoUrl)) {
    return 'The logo is not an https URL: give the address of an image served over https, or none.';
  }
  if (settings.topics.length > 50) return 'There are more than 50 topics.';
  const seen = new Set<string>();
  for (const topic of settings.topics) {
    if (!TOPIC_ID.test(topic.id)) return `Topic "${topic.id}": its tag must be a word of a–z, 0–9 and hyphens, at most 40.`;
    if (seen.has(topic.id)) return `Topic "${topic.id}" is listed twice.`;
    seen.add(topic.id);
    for (const locale of PAGE_LOCALES) {
      if (!topic.label[locale]?.trim()) return `Topic "${topic.id}" has no ${LANGUAGE_NAMES[locale]} label.`;
    }
  }
  return null;
}

export const LANGUAGE_NAMES: Record<PageLocale, string> = { en: 'English', nl: 'Dutch' };

/** Returns what is wrong with the form, or null. */
export function signupFormProblem(form: SignupForm, schema: readonly AttributeDefinition[], topics: readonly Topic[]): string | null {
  if (!form.name.trim()) return 'The form has no name.';
  const seen = new Set<string>();
  for (const field of form.fields) {
    if (seen.has(field.name)) return `The field "${field.name}" is asked twice.`;
    seen.add(field.name);
    if ((CORE_FORM_FIELDS as readonly string[]).includes(field.name)) continue;
    const attribute = schema.find((a) => a.name === field.name);
    if (!attribute) return `The field "${field.name}" is not in the audience's schema: declare it first, or remove it.`;
    if (attribute.type === 'tags' || attribute.type === 'boolean') {
      return `The field "${field.name}" is a ${attribute.type} attribute: a form asks for text, numbers and dates (topics are offered apart).`;
    }
  }
  for (const id of form.topics) {
    if (!topics.some((t) => t.id === id)) return `The topic "${id}" is not one of the settings' topics.`;
  }
  for (const locale of PAGE_LOCALES) {
    if (!form.consentText[locale]?.trim()) return `The consent text in ${LANGUAGE_NAMES[locale]} is empty: say what the person agrees to.`;
    if (form.doubleOptIn) {
      if (!form.confirmation.subject[locale]?.trim()) return `The confirmation email has no ${LANGUAGE_NAMES[locale]} subject.`;
      for (const [part, source] of [
        ['subject', form.confirmation.subject[locale]],
        ['body', form.confirmation.html[locale]],
      ] as const) {
        const compiled = compileTemplate(source);
        if (!compiled.ok) {
          return `The ${LANGUAGE_NAMES[locale]} confirmation email's ${part} has an error at line ${compiled.error.line}: ${compiled.error.message}`;
        }
      }
      if (!form.confirmation.html[locale]?.includes('confirm_url')) {
        return `The ${LANGUAGE_NAMES[locale]} confirmation email has no {{ confirm_url }}: without it nobody can confirm.`;
      }
    }
  }
  if (form.redirectUrl !== null && !/^https?:\/\/[^\s"'<>]+$/.test(form.redirectUrl)) {
    return 'The address to go to after signing up is not an http(s) URL.';
  }
  return null;
}

/** What a submission carries, read from the form's fields. */
export interface Submission {
  email: string;
  firstName?: string;
  lastName?: string;
  attributes: Record<string, string | number>;
  topics: string[];
}

/** Reads a submission against its form: the values, or what is wrong in words the person can act on. */
export function readSubmission(
  form: SignupForm,
  schema: readonly AttributeDefinition[],
  body: Record<string, string | string[]>,
  locale: PageLocale,
): { ok: true; submission: Submission } | { ok: false; problem: string } {
  const text = (name: string) => {
    const value = body[name];
    return (Array.isArray(value) ? value[0] : (value ?? '')).trim();
  };
  const words = PROBLEMS[locale];
  const email = normalizeEmail(text('email'));
  if (!isValidEmail(email)) return { ok: false, problem: words.email };
  const submission: Submission = { email, attributes: {}, topics: [] };
  for (const field of form.fields) {
    const value = text(field.name).slice(0, 200);
    if (!value) {
      if (field.required) return { ok: false, problem: words.required(fieldLabel(field.name, schema, locale)) };
      continue;
    }
    if (field.name === 'firstName' || field.name === 'lastName') {
      submission[field.name] = value;
      continue;
    }
    const attribute = schema.find((a) => a.name === field.name);
    if (attribute?.type === 'number') {
      const n = Number(value.replace(',', '.'));
      if (!Number.isFinite(n)) return { ok: false, problem: words.number(fieldLabel(field.name, schema, locale)) };
      submission.attributes[field.name] = n;
    } else if (attribute?.type === 'date') {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(value)) return { ok: false, problem: words.date(fieldLabel(field.name, schema, locale)) };
      submission.attributes[field.name] = value;
    } else submission.attributes[field.name] = value;
  }
  const chosen = body.topics === undefined ? [] : Array.isArray(body.topics) ? body.topics : [body.topics];
  submission.topics = [...new Set(chosen)].filter((t) => form.topics.includes(t));
  return { ok: true, submission };
}

/** A field's label on a form: the schema's label for an attribute. */
export function fieldLabel(name: string, schema: readonly AttributeDefinition[], locale: PageLocale): string {
  if (name === 'firstName') return locale === 'nl' ? 'Voornaam' : 'First name';
  if (name === 'lastName') return locale === 'nl' ? 'Achternaam' : 'Last name';
  return schema.find((a) => a.name === name)?.label ?? name;
}

const PROBLEMS: Record<
  PageLocale,
  { email: string; required: (f: string) => string; number: (f: string) => string; date: (f: string) => string }
> = {
  en: {
    email: 'That is not a valid email address: check it and try again.',
    required: (f) => `Fill in ${f}.`,
    number: (f) => `${f} must be a number.`,
    date: (f) => `${f} must be a date (YYYY-MM-DD).`,
  },
  nl: {
    email: 'Dat is geen geldig e-mailadres: controleer het en probeer het opnieuw.',
    required: (f) => `Vul ${f} in.`,
    number: (f) => `${f} moet een getal zijn.`,
    date: (f) => `${f} moet een datum zijn (JJJJ-MM-DD).`,
  },
};
