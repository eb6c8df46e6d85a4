/**
 * What-if: the KPIs a preparation would give with some filtering rules switched off,
 * computed without scanning the audience again. While preparing, every targeted profile is
 * recorded with ALL the rules that would exclude it (not just the first) and its mailbox;
 * a what-if then walks two typed arrays, applying the enabled rules in the same order as
 * the preparation does.
 */

import { isValidEmail, mailboxKey, normalizeEmail } from './email-address';
import type { ExclusionCause, PreparationKpis, Profile } from './types';

/** The filtering rules a what-if can switch, in the order preparation applies them. */
export const SWITCHABLE_RULES = [
  'unsubscribed',
  'denylisted',
  'quarantined',
  'invalid-address',
  'duplicate-address',
] as const satisfies readonly ExclusionCause[];
export type SwitchableRule = (typeof SWITCHABLE_RULES)[number];

const BIT: Record<Exclude<SwitchableRule, 'duplicate-address'>, number> = {
  unsubscribed: 1,
  denylisted: 2,
  quarantined: 4,
  'invalid-address': 8,
};
const ORDER = ['unsubscribed', 'denylisted', 'quarantined', 'invalid-address'] as const;

/** Targeted profiles as a what-if needs them. */
export interface AudienceAnalysis {
  /** Per targeted profile: the rules that would exclude it, as bits. */
  masks: Uint8Array;
  /** Per targeted profile: a number standing for its mailbox (same number, same mailbox). */
  mailboxes: Int32Array;
  length: number;
}

/** Records targeted profiles, in preparation order. */
export class AnalysisBuilder {
  private masks = new Uint8Array(1024);
  private mailboxes = new Int32Array(1024);
  private length = 0;
  private readonly ids = new Map<string, number>();

  /** Records a targeted profile; returns the rules that would exclude it (bits) and its mailbox (-1: none). */
  add(profile: Profile): { mask: number; mailbox: number } {
    if (this.length === this.masks.length) {
      const masks = new Uint8Array(this.length * 2);
      masks.set(this.masks);
      this.masks = masks;
      const mailboxes = new Int32Array(this.length * 2);
      mailboxes.set(this.mailboxes);
      this.mailboxes = mailboxes;
    }
    const { mask, key } = exclusionBits(profile);
    let mailbox = -1;
    if (key !== null) {
      mailbox = this.ids.get(key) ?? this.ids.size;
      if (mailbox === this.ids.size) this.ids.set(key, mailbox);
    }
    this.masks[this.length] = mask;
    this.mailboxes[this.length] = mailbox;
    this.length++;
    return { mask, mailbox };
  }

  finish(): AudienceAnalysis {
    return { masks: this.masks.slice(0, this.length), mailboxes: this.mailboxes.slice(0, this.length), length: this.length };
  }
}

/**
 * Returns the rules (other than duplicates) that would exclude the profile, as bits, and
 * the mailbox its address reaches (null for an invalid address): the one evaluation of the
 * filtering rules that preparation, what-if and why share.
 */
export function exclusionBits(profile: Profile): { mask: number; key: string | null } {
  const address = normalizeEmail(profile.email);
  const valid = isValidEmail(address);
  let mask = 0;
  if (profile.status === 'unsubscribed') mask |= BIT.unsubscribed;
  if (profile.denylisted) mask |= BIT.denylisted;
  if (profile.quarantined) mask |= BIT.quarantined;
  if (!valid) mask |= BIT['invalid-address'];
  return { mask, key: valid ? mailboxKey(address) : null };
}

/** Returns true when the rule's bit is in `mask` (never for duplicates, which depend on other profiles). */
export function ruleApplies(mask: number, rule: SwitchableRule): boolean {
  return rule !== 'duplicate-address' && (mask & BIT[rule]) !== 0;
}

/** Returns the first rule, in preparation order, whose bit is in `mask`; null when none is. */
export function firstCause(mask: number): Exclude<SwitchableRule, 'duplicate-address'> | null {
  for (const rule of ORDER) if (mask & BIT[rule]) return rule;
  return null;
}

/** Returns the KPIs with only the `enabled` rules applied (in preparation order). */
export function whatIf(analysis: AudienceAnalysis, enabled: ReadonlySet<SwitchableRule>): PreparationKpis {
  const kpis: PreparationKpis = { targeted: analysis.length, toDeliver: 0, excluded: 0, excludedByCause: {} };
  const rules = ORDER.filter((rule) => enabled.has(rule)).map((rule) => [rule, BIT[rule]] as const);
  const dedupe = enabled.has('duplicate-address');
  const kept = new Uint8Array(dedupe ? analysis.length : 0);
  const counts: Partial<Record<ExclusionCause, number>> = {};
  for (let i = 0; i < analysis.length; i++) {
    const mask = analysis.masks[i];
    let cause: ExclusionCause | null = null;
    for (const [rule, bit] of rules) {
      if (mask & bit) {
        cause = rule;
        break;
      }
    }
    const mailbox = analysis.mailboxes[i];
    if (!cause && dedupe && mailbox >= 0) {
      if (kept[mailbox]) cause = 'duplicate-address';
      else kept[mailbox] = 1;
    }
    if (cause) counts[cause] = (counts[cause] ?? 0) + 1;
    else kpis.toDeliver++;
  }
  kpis.excluded = kpis.targeted - kpis.toDeliver;
  kpis.excludedByCause = counts;
  return kpis;
}
