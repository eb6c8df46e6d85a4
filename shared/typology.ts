/**
 * Typologies: named sets of rules a preparation applies. Control rules check the message;
 * filtering rules exclude recipients (built-in causes, or a marketer's own condition in the
 * audience filter language); pressure rules cap how many messages a profile gets in a
 * window of days; capacity rules cap the delivery, the overflow excluded in a stated order.
 * Every rule has a name, a kind, and is on or off.
 */

import { conditionProblem, type AudienceFilter } from './audience-filter';
import { addressProblem, normalizeEmail } from './email-address';
import { contentFacts, type ContentFacts } from './content-checks';
import { extractLinks, htmlToText, isKnownField, SYSTEM_FIELDS, type CompiledMessage } from './message';
import { audienceFields } from './profile-fields';
import type { AttributeDefinition, DeliveryContent, ExclusionCause, LogLevel } from './types';
import { engagementFields } from './engagement';
import { ENGLISH_WORDS, type PreparationWords } from './preparation-words';

export type ControlCheck =
  | 'subject'
  | 'subject-length'
  | 'from'
  | 'fields'
  | 'unsubscribe-link'
  | 'links'
  | 'text-part'
  | 'html-size'
  | 'public-url'
  | 'image-alt'
  | 'link-text'
  | 'preheader'
  | 'dark-mode'
  | 'total-size';
/** Built-in filtering checks on one profile. */
export type ProfileCheck = 'unsubscribed' | 'denylisted' | 'quarantined' | 'invalid-address' | 'pending';

/** Which profiles a capacity rule keeps first; the overflow is the end of this order. */
export type CapacityOrder = { by: 'random' } | { by: 'field'; field: string; direction: 'desc' | 'asc' };

interface RuleBase {
  /** Stable within its typology; what-ifs and traces refer to rules by id. */
  id: string;
  name: string;
  enabled: boolean;
}

export type ControlRule = RuleBase & { kind: 'control'; check: ControlCheck; severity: 'error' | 'warning' };
export type FilteringRule = RuleBase &
  ({ kind: 'filtering'; check: ProfileCheck | 'duplicate-address' } | { kind: 'filtering'; check: 'condition'; filter: AudienceFilter });
/** At most `maxMessages` messages per profile within `days` days of this delivery's send time, this one included. */
export type PressureRule = RuleBase & { kind: 'pressure'; maxMessages: number; days: number };
/** At most `maxMessages` messages for this delivery, or on its send day (counting other deliveries that day). */
export type CapacityRule = RuleBase & { kind: 'capacity'; maxMessages: number; per: 'delivery' | 'day'; keepFirst: CapacityOrder };
/**
 * A control group: of the profiles still kept after every other rule (those matching `among`
 * alone, when it is set), `share` is held out at random and not mailed, with its own cause,
 * so that the delivery's report can compare them with its recipients (the lift). The draw is
 * the same every time the same delivery is prepared: a profile's place in it comes from the
 * delivery's id and its own.
 */
export type HoldoutRule = RuleBase & { kind: 'holdout'; share: HoldoutShare; among: AudienceFilter | null };
/** A percentage (0.1 to 50) of those it draws from, or a count of them. */
export type HoldoutShare = { percent: number } | { count: number };

export type TypologyRule = ControlRule | FilteringRule | PressureRule | CapacityRule | HoldoutRule;
export type RecipientRule = Exclude<TypologyRule, ControlRule>;

export interface Typology {
  id: string;
  name: string;
  rules: TypologyRule[];
  /** Deliveries of this typology are sent only once another operator than their preparer approved the preparation. */
  requiresApproval?: boolean;
  /** Seed addresses: each gets a copy of every variant of every delivery of this typology, in no figure (see SEEDS_MAX). */
  seeds?: string[];
}

export const DEFAULT_TYPOLOGY_ID = 'default';

/** The most seed addresses a delivery's copies go to (its typology's and its own together). */
export const SEEDS_MAX = 100;

/**
 * Returns the seed addresses a delivery's copies go to — its typology's, then its own, in
 * normal form, each once — or what is wrong with them, in words a marketer can act on.
 */
export function seedsOf(
  typology: Pick<Typology, 'seeds'>,
  delivery: { seeds?: string[] },
  words: PreparationWords = ENGLISH_WORDS,
): { seeds: string[] } | { problem: string } {
  const seeds: string[] = [];
  for (const typed of [...(typology.seeds ?? []), ...(delivery.seeds ?? [])]) {
    const email = normalizeEmail(typed);
    if (email === '') continue;
    const problem = addressProblem(email);
    if (problem) return { problem: words.seedAddress({ typed: typed.trim().slice(0, 100), problem }) };
    if (!seeds.includes(email)) seeds.push(email);
  }
  if (seeds.length > SEEDS_MAX) return { problem: words.seedsMax({ count: seeds.length, max: SEEDS_MAX }) };
  return { seeds };
}

/** The typology Mailroom ships: read-only; a marketer duplicates it to make their own. */
export const DEFAULT_TYPOLOGY: Typology = {
  id: DEFAULT_TYPOLOGY_ID,
  name: 'Default',
  rules: [
    { id: 'subject', name: 'Subject present', kind: 'control', check: 'subject', severity: 'error', enabled: true },
    { id: 'subject-length', name: 'Subject length', kind: 'control', check: 'subject-length', severity: 'warning', enabled: true },
    { id: 'from', name: 'From valid', kind: 'control', check: 'from', severity: 'error', enabled: true },
    { id: 'fields', name: 'Personalization fields', kind: 'control', check: 'fields', severity: 'error', enabled: true },
    { id: 'unsubscribe-link', name: 'Unsubscribe link', kind: 'control', check: 'unsubscribe-link', severity: 'warning', enabled: true },
    { id: 'links', name: 'Links well-formed', kind: 'control', check: 'links', severity: 'warning', enabled: true },
    { id: 'text-part', name: 'Text part', kind: 'control', check: 'text-part', severity: 'warning', enabled: true },
    { id: 'html-size', name: 'HTML size', kind: 'control', check: 'html-size', severity: 'warning', enabled: true },
    { id: 'public-url', name: 'Links reachable', kind: 'control', check: 'public-url', severity: 'warning', enabled: true },
    { id: 'image-alt', name: 'Images described', kind: 'control', check: 'image-alt', severity: 'warning', enabled: true },
    { id: 'link-text', name: 'Links readable', kind: 'control', check: 'link-text', severity: 'warning', enabled: true },
    { id: 'preheader', name: 'Preheader', kind: 'control', check: 'preheader', severity: 'warning', enabled: true },
    { id: 'dark-mode', name: 'Dark mode', kind: 'control', check: 'dark-mode', severity: 'warning', enabled: true },
    { id: 'total-size', name: 'Total size with images', kind: 'control', check: 'total-size', severity: 'warning', enabled: true },
    { id: 'unsubscribed', name: 'Unsubscribed', kind: 'filtering', check: 'unsubscribed', enabled: true },
    { id: 'denylisted', name: 'Denylisted', kind: 'filtering', check: 'denylisted', enabled: true },
    { id: 'quarantined', name: 'Quarantined', kind: 'filtering', check: 'quarantined', enabled: true },
    { id: 'invalid-address', name: 'Invalid address', kind: 'filtering', check: 'invalid-address', enabled: true },
    { id: 'duplicate-address', name: 'Duplicate address', kind: 'filtering', check: 'duplicate-address', enabled: true },
    { id: 'pressure', name: 'At most 5 messages in 7 days', kind: 'pressure', maxMessages: 5, days: 7, enabled: true },
    {
      id: 'capacity',
      name: 'At most 100,000 messages a day',
      kind: 'capacity',
      maxMessages: 100_000,
      per: 'day',
      keepFirst: { by: 'random' },
      enabled: false,
    },
  ],
};

export const KIND_LABELS: Record<TypologyRule['kind'], string> = {
  control: 'Control',
  filtering: 'Filtering',
  pressure: 'Pressure',
  capacity: 'Capacity',
  holdout: 'Control group',
};

/** The cause an exclusion by this rule is recorded with. */
export function causeOf(rule: RecipientRule): ExclusionCause {
  if (rule.kind === 'filtering') return rule.check;
  if (rule.kind === 'holdout') return 'control-group';
  return rule.kind;
}

export const CAUSE_LABELS: Record<ExclusionCause, string> = {
  unsubscribed: 'Unsubscribed',
  denylisted: 'Denylisted',
  quarantined: 'Quarantined',
  'invalid-address': 'Invalid address',
  'duplicate-address': 'Duplicate address',
  condition: "Marketer's condition",
  pressure: 'Pressure',
  capacity: 'Capacity',
  'control-group': 'Control group',
  pending: 'Not confirmed yet',
};

/**
 * The rules of the typology that act on recipients, in the order they apply: filtering and
 * pressure rules as listed (the first that applies excludes), then duplicates (which depend
 * on who is kept), then capacity (which depends on how many are kept), then control groups
 * (drawn from those who would be mailed, so that they are like them).
 */
export function recipientRules(typology: Typology): RecipientRule[] {
  const phase = (rule: RecipientRule) =>
    rule.kind === 'holdout' ? 3 : rule.kind === 'capacity' ? 2 : rule.kind === 'filtering' && rule.check === 'duplicate-address' ? 1 : 0;
  const rules = typology.rules.filter((rule): rule is RecipientRule => rule.kind !== 'control' && !isPendingRule(rule));
  // Whatever the typology says, someone who has not confirmed a double opt-in is not mailed: the rule comes first, on.
  return [PENDING_RULE, ...rules.sort((a, b) => phase(a) - phase(b))];
}

/** The rule every preparation applies first, in every typology: profiles pending their double opt-in's confirmation. */
export const PENDING_RULE: RecipientRule = { id: 'pending', name: 'Not confirmed yet', kind: 'filtering', check: 'pending', enabled: true };

const isPendingRule = (rule: TypologyRule) => rule.kind === 'filtering' && rule.check === 'pending';

export interface ControlFinding {
  rule: string;
  level: Exclude<LogLevel, 'info'>;
  message: string;
}

/** Gmail clips messages whose HTML is larger than this. */
export const HTML_CLIP_BYTES = 102 * 1024;

/**
 * Returns copies of the default typology's control rules that `typology` has no rule of the
 * same check for: what a typology copied before they existed lacks. Their ids are the
 * default's (a typology holds one rule per control check).
 */
export function missingControlRules(typology: Pick<Typology, 'rules'>): ControlRule[] {
  const has = new Set(typology.rules.flatMap((rule) => (rule.kind === 'control' ? [rule.check] : [])));
  return DEFAULT_TYPOLOGY.rules
    .filter((rule): rule is ControlRule => rule.kind === 'control' && !has.has(rule.check))
    .map((rule) => ({ ...rule }));
}

/** What control rules know besides the message. */
export interface ControlContext {
  /**
   * Where the server puts tracking and unsubscribe links (its MAILROOM_PUBLIC_URL, or its own
   * address when none is set), as last heard from it; undefined when not known yet.
   */
  publicUrl?: string;
  /** The size in bytes of each image uploaded to Mailroom, by its URL (as the server last listed them); others are not known. */
  imageSizes?: Readonly<Record<string, number>>;
  /** The words findings are said in (English when not given). */
  words?: PreparationWords;
}

/**
 * The weight past which a message with its images loads slowly on a phone's data: about 1 MB
 * (images are fetched when the message is opened; an email's are best under 200 KB each).
 */
export const TOTAL_SIZE_BYTES = 1024 * 1024;

/** Returns what the typology's enabled control rules found wrong with the message; errors fail the preparation. */
export function checkMessage(
  content: DeliveryContent,
  message: CompiledMessage,
  schema: readonly AttributeDefinition[] = [],
  rules: readonly TypologyRule[] = DEFAULT_TYPOLOGY.rules,
  context: ControlContext = {},
): ControlFinding[] {
  const findings: ControlFinding[] = [];
  // The markup is read once, by the first rule that asks about it.
  let facts: ContentFacts | undefined;
  const markup = () => (facts ??= contentFacts(content.html));
  for (const rule of rules) {
    if (rule.kind !== 'control' || !rule.enabled) continue;
    for (const problem of controlProblems(rule.check, content, message, schema, context, markup)) {
      findings.push({ rule: rule.name, level: rule.severity, message: problem });
    }
  }
  return findings;
}

function controlProblems(
  check: ControlCheck,
  content: DeliveryContent,
  message: CompiledMessage,
  schema: readonly AttributeDefinition[],
  context: ControlContext,
  markup: () => ContentFacts,
): string[] {
  const words = context.words ?? ENGLISH_WORDS;
  switch (check) {
    case 'subject':
      return content.subject.trim() === '' ? [words.subjectEmpty()] : [];
    case 'subject-length':
      return content.subject.length > 200 ? [words.subjectLong()] : [];
    case 'from': {
      // The From goes into every envelope: an address only an SMTPUTF8 relay takes is no From for a campaign.
      const problem = addressProblem(normalizeEmail(content.fromAddress));
      return problem === null ? [] : [words.fromUnusable({ address: content.fromAddress, problem })];
    }
    case 'fields':
      return [...new Set([...message.subject.fields, ...message.html.fields])]
        .filter((field) => !isKnownField(field, schema))
        .map((field) => words.unknownField({ field }));
    case 'unsubscribe-link':
      return message.html.fields.includes(SYSTEM_FIELDS[0]) ? [] : [words.noUnsubscribeLink()];
    case 'links':
      return extractLinks(content.html)
        .filter((link) => !link.includes('{{') && !/^https?:\/\/[^\s/$.?#][^\s]*$/i.test(link) && !link.startsWith('mailto:'))
        .map((link) => words.linkNotAbsolute({ link }));
    case 'text-part':
      // The text part as every recipient gets it at the least: Liquid left out; alt text counts.
      return htmlToText(content.html.replace(/\{\{[^}]*\}\}|\{%[^%]*%\}/g, '')) === '' ? [words.textPartEmpty()] : [];
    case 'html-size':
      return new TextEncoder().encode(content.html).length > HTML_CLIP_BYTES ? [words.htmlLarge()] : [];
    case 'public-url':
      return context.publicUrl === undefined ? [] : publicUrlProblems(context.publicUrl, words);
    case 'image-alt': {
      const missing = markup().imagesWithoutAlt;
      return missing.length === 0 ? [] : [words.imagesWithoutAlt({ images: missing })];
    }
    case 'link-text': {
      const bare = markup().linksWithoutText;
      return bare.length === 0 ? [] : [words.linksWithoutText({ links: bare })];
    }
    case 'preheader':
      return content.preheader?.trim() || markup().preheader !== null ? [] : [words.noPreheader()];
    case 'total-size':
      return totalSizeProblems(content.html, markup().images, context.imageSizes ?? {}, words);
    case 'dark-mode': {
      const dark = markup().darkTextWithoutBackground;
      return dark.length === 0 ? [] : [words.darkText({ colours: dark })];
    }
  }
}

/** Says when the HTML and the images whose size is known weigh more than TOTAL_SIZE_BYTES. */
function totalSizeProblems(
  html: string,
  images: readonly string[],
  sizes: Readonly<Record<string, number>>,
  words: PreparationWords,
): string[] {
  const htmlBytes = new TextEncoder().encode(html).length;
  const known = images.filter((src) => Object.hasOwn(sizes, src));
  const imageBytes = known.reduce((sum, src) => sum + sizes[src], 0);
  if (htmlBytes + imageBytes <= TOTAL_SIZE_BYTES) return [];
  const totalBytes = htmlBytes + imageBytes;
  return [words.totalSize({ totalBytes, htmlBytes, imageBytes, images: known.length, uncounted: images.length - known.length })];
}

/**
 * Returns what is wrong with the address recipients reach tracking and unsubscribe links at:
 * a local address no recipient can reach, or plain http (mail clients warn, and the token in
 * the link travels unencrypted). Empty when it is a public https address.
 */
export function publicUrlProblems(publicUrl: string, words: PreparationWords = ENGLISH_WORDS): string[] {
  let url: URL;
  try {
    url = new URL(publicUrl);
  } catch {
    return [words.publicUrlInvalid({ url: publicUrl })];
  }
  const local = /^(localhost|127\.\d+\.\d+\.\d+|\[::1\]|0\.0\.0\.0)$|\.local$|\.localhost$/.test(url.hostname);
  if (local) return [words.publicUrlLocal({ origin: url.origin })];
  if (url.protocol !== 'https:') return [words.publicUrlHttp({ origin: url.origin })];
  return [];
}

/** Rules that decide per profile are recorded as bits of one 32-bit mask. */
export const MAX_PROFILE_RULES = 30;

/** Returns what is wrong with the typology (in words a marketer can act on), or null. */
export function typologyProblem(typology: Typology, schema: readonly AttributeDefinition[]): string | null {
  if (typology.name.trim() === '') return 'Give the typology a name.';
  const names = new Set<string>();
  for (const rule of typology.rules) {
    const key = rule.name.trim().toLowerCase();
    if (key === '') return 'Every rule needs a name.';
    if (names.has(key)) return `Two rules are called "${rule.name}": give each its own name.`;
    names.add(key);
    if (rule.kind === 'pressure' && !(isWhole(rule.maxMessages) && rule.maxMessages >= 1 && isWhole(rule.days) && rule.days >= 1))
      return `"${rule.name}": the number of messages and of days must be whole numbers of at least 1.`;
    if (rule.kind === 'capacity' && !(isWhole(rule.maxMessages) && rule.maxMessages >= 0))
      return `"${rule.name}": the number of messages must be a whole number.`;
    if (rule.kind === 'capacity' && rule.keepFirst.by === 'field') {
      const field = audienceFields(schema).find((f) => f.name === (rule.keepFirst as { field: string }).field);
      if (!field || !['number', 'date', 'boolean'].includes(field.type))
        return `"${rule.name}": choose a number, date or yes/no field to order by.`;
    }
    if (rule.kind === 'filtering' && rule.check === 'condition') {
      const problem = filterProblem(rule.filter, schema);
      if (problem) return `"${rule.name}": ${problem}`;
    }
    if (rule.kind === 'holdout') {
      const problem = holdoutProblem(rule, schema);
      if (problem) return `"${rule.name}": ${problem}`;
    }
  }
  const perProfile = typology.rules.filter((r) => r.kind === 'pressure' || (r.kind === 'filtering' && r.check !== 'duplicate-address'));
  if (perProfile.length > MAX_PROFILE_RULES) return `A typology can hold at most ${MAX_PROFILE_RULES} filtering and pressure rules.`;
  return null;
}

function filterProblem(filter: AudienceFilter, schema: readonly AttributeDefinition[]): string | null {
  switch (filter.kind) {
    case 'all':
      return null;
    case 'not':
      return filterProblem(filter.filter, schema);
    case 'and':
    case 'or':
      for (const child of filter.conditions) {
        const problem = filterProblem(child, schema);
        if (problem) return problem;
      }
      return null;
    case 'condition': {
      // Engagement fields too: a typology names a delivery by id, whichever this device knows.
      const field = [...audienceFields(schema), ...engagementFields([])].find((f) => f.name === filter.field);
      return field ? conditionProblem(filter, field.type) : `the field "${filter.field}" does not exist in the audience.`;
    }
  }
}

const isWhole = (n: number) => Number.isInteger(n);

/** The share a control group may hold out: enough to measure, never most of the delivery. */
export const HOLDOUT_PERCENT = { min: 0.1, max: 50 } as const;

function holdoutProblem(rule: HoldoutRule, schema: readonly AttributeDefinition[]): string | null {
  const { share } = rule;
  if ('percent' in share) {
    if (!(Number.isFinite(share.percent) && share.percent >= HOLDOUT_PERCENT.min && share.percent <= HOLDOUT_PERCENT.max))
      return `hold out between ${HOLDOUT_PERCENT.min} % and ${HOLDOUT_PERCENT.max} % of the recipients.`;
  } else if (!(isWhole(share.count) && share.count >= 1)) return 'the number of profiles to hold out must be a whole number of at least 1.';
  return rule.among ? filterProblem(rule.among, schema) : null;
}

/** Says how much a control group holds out, in words: "5 %" or "1,000 profiles", "of those matching the condition". */
export function describeHoldout(rule: HoldoutRule): string {
  const share = 'percent' in rule.share ? `${rule.share.percent} %` : `${rule.share.count.toLocaleString('en-US')} profiles`;
  return rule.among && rule.among.kind !== 'all' ? `${share} of those matching its condition` : share;
}
