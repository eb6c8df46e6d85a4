/**
 * The names of the rules Mailroom ships (the default typology's, and the pending rule every
 * preparation applies) in the app's language, where a chart, the what-if or Why shows them. A
 * rule's name is data, kept as written: a rule of the team's own, or a shipped one renamed,
 * shows as written; one still named as shipped shows the name in the page's language.
 */

// The compiled messages themselves, not $lib/i18n.svelte: the preparation's worker names rules too (in the locale it is given).
import { m } from '$lib/paraglide/messages';
import type { Locale } from '$lib/paraglide/runtime';
import { DEFAULT_TYPOLOGY, KIND_LABELS, PENDING_RULE, type TypologyRule } from '$shared/typology';

const WORDS: Record<string, (inputs?: Record<string, never>, options?: { locale?: Locale }) => string> = {
  subject: m.typologies_builtin_subject,
  'subject-length': m.typologies_builtin_subject_length,
  from: m.typologies_builtin_from,
  fields: m.typologies_builtin_fields,
  'unsubscribe-link': m.typologies_builtin_unsubscribe_link,
  links: m.typologies_builtin_links,
  'text-part': m.typologies_builtin_text_part,
  'html-size': m.typologies_builtin_html_size,
  'public-url': m.typologies_builtin_public_url,
  'image-alt': m.typologies_builtin_image_alt,
  'link-text': m.typologies_builtin_link_text,
  preheader: m.typologies_builtin_preheader,
  'dark-mode': m.typologies_builtin_dark_mode,
  'total-size': m.typologies_builtin_total_size,
  unsubscribed: m.typologies_builtin_unsubscribed,
  denylisted: m.typologies_builtin_denylisted,
  quarantined: m.typologies_builtin_quarantined,
  'invalid-address': m.typologies_builtin_invalid_address,
  'duplicate-address': m.typologies_builtin_duplicate_address,
  pressure: m.typologies_builtin_pressure,
  capacity: m.typologies_builtin_capacity,
  pending: m.typologies_builtin_pending,
};

const KINDS: Record<TypologyRule['kind'], () => string> = {
  control: m.typologies_kind_control,
  filtering: m.typologies_kind_filtering,
  pressure: m.typologies_kind_pressure,
  capacity: m.typologies_kind_capacity,
  holdout: m.typologies_kind_holdout,
};
/** Each kind's English label (a trace names kinds by it), to the kind. */
const KIND_OF = new Map(Object.entries(KIND_LABELS).map(([kind, label]) => [label, kind as TypologyRule['kind']]));

/** Returns a rule's kind in the app's language: given as the kind, or by its English label (KIND_LABELS); an unknown label as it is. */
export function ruleKind(kind: string): string {
  const known = kind in KINDS ? (kind as TypologyRule['kind']) : KIND_OF.get(kind);
  return known ? KINDS[known]() : kind;
}

/** Each shipped rule's English name, to its id. */
const SHIPPED = new Map([...DEFAULT_TYPOLOGY.rules, PENDING_RULE].map((rule) => [rule.name, rule.id]));

/** Returns a rule's name as the page shows it: a shipped rule's in the app's language (or `locale`), any other as written. */
export function ruleName(name: string, locale?: Locale): string {
  const id = SHIPPED.get(name);
  return id && WORDS[id] ? WORDS[id]({}, locale ? { locale } : {}) : name;
}
