/**
 * A/B (and n) tests: a delivery's variants, the test population they are tried on, and the
 * winner the rest of the audience receives.
 *
 * The delivery's own subject, From name, preheader and content are variant A; each further
 * variant changes some of them. Preparation splits a test population (a percentage or a count
 * of To deliver), drawn at random and the same every time the same delivery is prepared,
 * evenly between the variants; the rest waits. Sending starts with the test population; once
 * the wait is over (or when the operator picks one) the winner goes to the rest. A variant wins
 * only when it is clearly better than every other (95 % confidence, two-proportion test);
 * otherwise the first is sent, and the dashboard says so.
 */

import { ENGLISH_WORDS, type PreparationWords } from './preparation-words';
import { compareRates, percent, type Rate } from './stats';
import type { DeliveryContent } from './types';

export type WinnerCriterion = 'opens' | 'clicks' | 'unsubscribes';

/** What a variant changes of the delivery's own content (variant A); a field left out is A's. */
export interface Variant {
  subject?: string;
  fromName?: string;
  preheader?: string;
  html?: string;
}

export interface Experiment {
  /** Variants B, C…: one to four of them. */
  variants: Variant[];
  /** The test population: a percentage (1 to 100) of To deliver, or a count. */
  test: { percent: number } | { count: number };
  criterion: WinnerCriterion;
  /** How long after the start of sending the winner is chosen: 1 to 240 hours. */
  waitHours: number;
}

export const VARIANT_NAMES = ['A', 'B', 'C', 'D', 'E'] as const;
export const MAX_VARIANTS = VARIANT_NAMES.length;
export const WAIT_HOURS = { min: 1, max: 240 } as const;
/** The confidence a variant needs over every other to be the winner. */
export const WINNER_CONFIDENCE = 0.95;

export const CRITERION_LABELS: Record<WinnerCriterion, string> = {
  opens: 'unique opens',
  clicks: 'unique clicks',
  unsubscribes: 'the lowest unsubscribe rate',
};

export const VARIANT_FIELDS = ['subject', 'fromName', 'preheader', 'html'] as const;

/** Returns the content variant `index` sends: the delivery's own for A (0), with the variant's changes for the others. */
export function variantContent<T extends Pick<DeliveryContent, 'subject' | 'fromName' | 'html'> & { preheader?: string }>(
  content: T,
  experiment: { variants: readonly Variant[] } | null | undefined,
  index: number,
): T {
  if (!experiment || index === 0) return content;
  const variant = experiment.variants[index - 1];
  if (!variant) return content;
  const changed = { ...content };
  for (const field of VARIANT_FIELDS) if (variant[field] !== undefined) changed[field] = variant[field]!;
  return changed;
}

/** How many variants the experiment sends, A included. */
export const variantCount = (experiment: { variants: readonly Variant[] } | null | undefined) =>
  experiment ? experiment.variants.length + 1 : 1;

/**
 * Content by language: a translation changes the delivery's own content (the default, for
 * everyone whose locale has none) for the recipients of its locale. It rides on the same
 * variants as an A/B test (variant k + 1 is translation k), so the two cannot be combined.
 */
export interface Translation extends Variant {
  /** A locale as profiles hold it: "nl", "de", "fr-BE"; "nl" also takes "nl-BE" when "nl-BE" has none of its own. */
  locale: string;
}

export const MAX_TRANSLATIONS = 10;

/** The variants a delivery's content has, as one list: its A/B test's, or its translations; null for one content. */
export function contentVariants(delivery: {
  experiment?: Experiment | null;
  translations?: readonly Translation[] | null;
}): { variants: readonly Variant[] } | null {
  if (delivery.experiment) return delivery.experiment;
  return delivery.translations?.length ? { variants: delivery.translations } : null;
}

/** Returns what is wrong with the translations, in `words`, or null. */
export function translationsProblem(translations: readonly Translation[], words: PreparationWords = ENGLISH_WORDS): string | null {
  if (translations.length > MAX_TRANSLATIONS) return words.translationsMax({ max: MAX_TRANSLATIONS });
  const seen = new Set<string>();
  for (const t of translations) {
    const locale = t.locale.trim().toLowerCase();
    if (!/^[a-z]{2,3}(-[a-z0-9]{2,8})*$/.test(locale)) return words.notALocale({ locale: t.locale });
    if (seen.has(locale)) return words.localeTwice({ locale: t.locale });
    seen.add(locale);
    if (VARIANT_FIELDS.every((f) => t[f] === undefined)) return words.translationUnchanged({ locale: t.locale });
  }
  return null;
}

/** Returns the variant a profile's locale gets: 1 + the translation of its locale (or of its language), 0 for the default. */
export function translationFor(translations: readonly Translation[] | null | undefined, locale: string | null | undefined): number {
  if (!translations?.length || !locale) return 0;
  const wanted = locale.trim().toLowerCase().replace('_', '-');
  const exact = translations.findIndex((t) => t.locale.toLowerCase() === wanted);
  if (exact >= 0) return exact + 1;
  const language = wanted.split('-')[0];
  const same = translations.findIndex((t) => t.locale.toLowerCase() === language);
  return same + 1;
}

/** Returns what is wrong with the experiment, in words a marketer can act on (`words`), or null. */
export function experimentProblem(experiment: Experiment, words: PreparationWords = ENGLISH_WORDS): string | null {
  const { variants, test, criterion, waitHours } = experiment;
  if (variants.length < 1 || variants.length > MAX_VARIANTS - 1) return words.variantCount({ max: MAX_VARIANTS });
  for (const [i, variant] of variants.entries()) {
    if (!VARIANT_FIELDS.some((field) => variant[field] !== undefined)) return words.variantUnchanged({ name: VARIANT_NAMES[i + 1] });
  }
  if ('percent' in test) {
    if (!(Number.isFinite(test.percent) && test.percent >= 1 && test.percent <= 100)) return words.testPercent();
  } else if (!(Number.isInteger(test.count) && test.count >= 2)) return words.testCount();
  if (!(criterion in CRITERION_LABELS)) return words.criterionMissing();
  if (!(Number.isFinite(waitHours) && waitHours >= WAIT_HOURS.min && waitHours <= WAIT_HOURS.max))
    return words.winnerWait({ min: WAIT_HOURS.min, max: WAIT_HOURS.max });
  return null;
}

/** Returns how many of `toDeliver` recipients the test population holds. */
export function testSize(experiment: Experiment, toDeliver: number): number {
  const { test } = experiment;
  return 'percent' in test ? Math.round((toDeliver * test.percent) / 100) : Math.min(test.count, toDeliver);
}

/** One variant's figures in the test population: messages delivered, and the people among them who did each. */
export interface VariantFigures {
  variant: number;
  delivered: number;
  opened: number;
  clicked: number;
  unsubscribed: number;
}

/** The rate the criterion reads for a variant. */
export function rateOf(criterion: WinnerCriterion, f: VariantFigures): Rate {
  const count = criterion === 'opens' ? f.opened : criterion === 'clicks' ? f.clicked : f.unsubscribed;
  return { count, of: f.delivered };
}

export interface Standing {
  /** The variant leading by the criterion (0 when none leads), and whether it is clearly better than every other. */
  leader: number;
  clear: boolean;
  /** False while the groups are too small for the test to tell. */
  enough: boolean;
  /** Per other variant: the confidence that the leader is better than it. */
  against: { variant: number; confidence: number }[];
  /** In words: "B beats A with 97 % confidence." */
  statement: string;
}

/**
 * Returns where the test stands: the leader by the criterion (higher opens or clicks, lower
 * unsubscribes; ties go to the earlier variant), the confidence that it is better than each
 * other variant, and whether that is clear (WINNER_CONFIDENCE against every one, with enough people).
 */
export function standing(criterion: WinnerCriterion, figures: readonly VariantFigures[]): Standing {
  const lower = criterion === 'unsubscribes';
  const rate = (f: VariantFigures) => {
    const r = rateOf(criterion, f);
    return r.of > 0 ? r.count / r.of : 0;
  };
  let leader = figures[0];
  for (const f of figures) if (lower ? rate(f) < rate(leader) : rate(f) > rate(leader)) leader = f;
  const against = figures
    .filter((f) => f.variant !== leader.variant)
    .map((f) => {
      const c = lower
        ? compareRates(rateOf(criterion, f), rateOf(criterion, leader))
        : compareRates(rateOf(criterion, leader), rateOf(criterion, f));
      return { variant: f.variant, confidence: c.confidence, enough: c.enough };
    });
  const enough = against.every((a) => a.enough);
  const clear = enough && against.every((a) => a.confidence >= WINNER_CONFIDENCE);
  const name = (v: number) => VARIANT_NAMES[v];
  const rates = figures.map((f) => `${name(f.variant)} ${percent(rate(f))}`).join(', ');
  const statement = !enough
    ? `Too few yet to tell the variants apart (${rates}).`
    : against
        .map((a) => `${name(leader.variant)} beats ${name(a.variant)} with ${Math.floor(a.confidence * 100)} % confidence`)
        .join('; ') + ` (${rates}).`;
  return {
    leader: leader.variant,
    clear,
    enough,
    against: against.map(({ variant, confidence }) => ({ variant, confidence })),
    statement,
  };
}

/**
 * Returns the winner when the wait is over: the leader when it is clearly better, else the
 * first variant (A), with the reason in words for the dashboard and the log.
 */
export function decideWinner(criterion: WinnerCriterion, figures: readonly VariantFigures[]): { winner: number; reason: string } {
  const s = standing(criterion, figures);
  if (s.clear) return { winner: s.leader, reason: `${VARIANT_NAMES[s.leader]} won by ${CRITERION_LABELS[criterion]}: ${s.statement}` };
  return {
    winner: 0,
    reason: `No variant was clearly better by ${CRITERION_LABELS[criterion]}, so the first (A) is sent: ${s.statement}`,
  };
}
