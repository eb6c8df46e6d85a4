/**
 * Why is this person in or out? The trace of one profile through a delivery: each audience
 * condition with its verdict and the profile's value, then each filtering rule, then the
 * outcome. The same code decides as the preparation does, so the trace cannot disagree.
 */

import { compileAudience, describeAudience, type AudienceFilter } from './audience-filter';
import { fieldText } from './profile-fields';
import { CAUSE_LABELS } from './typology';
import type { AttributeDefinition, ExclusionCause, Profile } from './types';
import { exclusionBits, ruleApplies, SWITCHABLE_RULES } from './what-if';

export interface AudienceStep {
  text: string;
  passed: boolean;
  /** The profile's value of the field a condition tests. */
  value?: string;
  depth: number;
}

export interface RuleStep {
  rule: ExclusionCause;
  label: string;
  /** True when the rule would exclude the profile. */
  applies: boolean;
}

export interface Trace {
  inAudience: boolean;
  audience: AudienceStep[];
  rules: RuleStep[];
  /** The rule that excludes the profile, or null when it receives the message (or is not targeted). */
  excludedBy: ExclusionCause | null;
  outcome: string;
}

/**
 * Returns the trace of the profile. `duplicateOfEarlier` says whether an earlier profile of
 * the delivery already holds its mailbox (known from the preparation's exclusions).
 */
export function explainProfile(
  audience: AudienceFilter,
  schema: readonly AttributeDefinition[],
  profile: Profile,
  duplicateOfEarlier: boolean,
  now = new Date(),
): Trace {
  const steps: AudienceStep[] = [];
  const walk = (node: AudienceFilter, depth: number): boolean => {
    const passed = compileAudience(node, schema, now)(profile);
    if (node.kind === 'condition') {
      steps.push({ text: describeAudience(node), passed, value: fieldText(profile, node.field), depth });
    } else if (node.kind === 'and' || node.kind === 'or') {
      steps.push({ text: node.kind === 'and' ? 'All of these' : 'Any of these', passed, depth });
      for (const child of node.conditions) walk(child, depth + 1);
    } else if (node.kind === 'not') {
      steps.push({ text: 'Excluded if it matches', passed, depth });
      walk(node.filter, depth + 1);
    } else steps.push({ text: 'Everyone', passed, depth });
    return passed;
  };
  const inAudience = walk(audience, 0);
  const { mask, key } = exclusionBits(profile);
  const rules: RuleStep[] = SWITCHABLE_RULES.map((rule) => ({
    rule,
    label: CAUSE_LABELS[rule],
    applies: rule === 'duplicate-address' ? key !== null && duplicateOfEarlier : ruleApplies(mask, rule),
  }));
  const excludedBy = inAudience ? (rules.find((r) => r.applies)?.rule ?? null) : null;
  const outcome = !inAudience
    ? 'Not targeted: the profile is not in the audience.'
    : excludedBy
      ? `Excluded by the rule "${CAUSE_LABELS[excludedBy]}".`
      : 'Receives the message.';
  return { inAudience, audience: steps, rules, excludedBy, outcome };
}
