/**
 * Why is this person in or out? The trace of one profile through a delivery: each audience
 * condition with its verdict and the profile's value, then each filtering rule, then the
 * outcome. The same code decides as the preparation does, so the trace cannot disagree.
 */

import { compileAudienceColumns, describeAudience, type AudienceFilter, type FilterCondition } from './audience-filter';
import { DELIVERY_FIELD, deliveryColumn, isEngagementField, type EngagementIndex } from './engagement';
import { fieldText, profilesView } from './profile-fields';
import type { CompiledRules } from './recipient-rules';
import { causeOf, describeHoldout, KIND_LABELS } from './typology';
import type { AttributeDefinition, Exclusion, ExclusionCause, Profile } from './types';

export interface AudienceStep {
  text: string;
  /** What the step is, for a page that says it in another language: a group's kind, or the condition itself. */
  group?: 'and' | 'or' | 'not' | 'all';
  condition?: FilterCondition;
  passed: boolean;
  /** The profile's value of the field a condition tests. */
  value?: string;
  depth: number;
}

export interface RuleStep {
  name: string;
  kind: string;
  cause: ExclusionCause;
  enabled: boolean;
  /** True when the rule would exclude the profile (whether or not it is on). */
  applies: boolean;
  /** What the rule saw, e.g. "3 messages in the window (limit 5)". */
  detail?: string;
}

export interface Trace {
  inAudience: boolean;
  audience: AudienceStep[];
  rules: RuleStep[];
  /** The name of the rule that excludes the profile, or null when it receives the message (or is not targeted). */
  excludedBy: string | null;
  outcome: string;
  /** With an A/B test, the message a recipient gets: a variant's index in the test population, null for the winner (the rest). */
  variant?: number | null;
}

/**
 * Returns the trace of the profile. Duplicates and capacity depend on the other profiles of
 * the delivery: their verdict comes from the preparation's `exclusion` of this profile.
 */
export function explainProfile(
  audience: AudienceFilter,
  schema: readonly AttributeDefinition[],
  profile: Profile,
  compiled: CompiledRules,
  exclusion: Exclusion | undefined,
  now = new Date(),
  engagement?: EngagementIndex,
): Trace {
  const steps: AudienceStep[] = [];
  const alone = profilesView([profile]);
  const view = engagement ? engagement.view(alone) : alone;
  const valueOf = (field: string, value: string) => {
    const column = field === DELIVERY_FIELD ? deliveryColumn(value) : field;
    if (!isEngagementField(column)) return fieldText(profile, field);
    return engagement ? engagement.describe(column, profile.id) : 'not known on this device';
  };
  const walk = (node: AudienceFilter, depth: number): boolean => {
    const passed = compileAudienceColumns(node, schema, now)(view)(0);
    if (node.kind === 'condition') {
      steps.push({ text: describeAudience(node), condition: node, passed, value: valueOf(node.field, node.value), depth });
    } else if (node.kind === 'and' || node.kind === 'or') {
      steps.push({ text: node.kind === 'and' ? 'All of these' : 'Any of these', group: node.kind, passed, depth });
      for (const child of node.conditions) walk(child, depth + 1);
    } else if (node.kind === 'not') {
      steps.push({ text: 'Excluded if it matches', group: 'not', passed, depth });
      walk(node.filter, depth + 1);
    } else steps.push({ text: 'Everyone', group: 'all', passed, depth });
    return passed;
  };
  const inAudience = walk(audience, 0);
  const verdicts = compiled.evaluate(profile);
  const rules: RuleStep[] = compiled.rules.map((rule, index) => {
    const step = { name: rule.name, kind: KIND_LABELS[rule.kind], cause: causeOf(rule), enabled: rule.enabled };
    const bit = compiled.profileRules.findIndex((p) => p.rule === index);
    if (bit >= 0) return { ...step, applies: ((verdicts.mask >>> bit) & 1) === 1 };
    const pressure = compiled.pressure.findIndex((p) => p.rule === index);
    if (pressure >= 0 && rule.kind === 'pressure') {
      const count = verdicts.counts[pressure];
      return {
        ...step,
        applies: count >= rule.maxMessages,
        detail: `${count} other message${count === 1 ? '' : 's'} within ${rule.days} days (at most ${rule.maxMessages} with this one)`,
      };
    }
    const holdout = compiled.holdout.findIndex((h) => h.rule === index);
    if (holdout >= 0 && rule.kind === 'holdout') {
      const applies = exclusion?.rule === rule.name;
      const detail = applies
        ? `drawn at random into the control group (${describeHoldout(rule)})`
        : verdicts.draws[holdout] < 0
          ? 'its condition leaves the profile out of the draw'
          : `not drawn into the control group (${describeHoldout(rule)})`;
      return { ...step, applies, detail };
    }
    return { ...step, applies: exclusion?.rule === rule.name };
  });
  const excludedBy = inAudience ? (rules.find((r) => r.enabled && r.applies)?.name ?? null) : null;
  const outcome = !inAudience
    ? 'Not targeted: the profile is not in the audience.'
    : excludedBy
      ? `Excluded by the rule "${excludedBy}".`
      : 'Receives the message.';
  return { inAudience, audience: steps, rules, excludedBy, outcome };
}
