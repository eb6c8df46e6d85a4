/**
 * The audience filter: a typed, serializable condition tree evaluated by the same code in
 * the preparation worker and on the server.
 */

import { fieldText } from './profile-fields';
import type { Profile } from './types';

export const FILTER_OPERATORS = ['equals', 'notEquals', 'contains', 'startsWith', 'isEmpty', 'isNotEmpty'] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

export type AudienceFilter =
  | { kind: 'all' }
  /** `field` is a core field (email, first_name, …) or a custom attribute of the schema. */
  | { kind: 'condition'; field: string; operator: FilterOperator; value: string }
  | { kind: 'and' | 'or'; conditions: AudienceFilter[] };

export const EVERYONE: AudienceFilter = { kind: 'all' };

/** Returns true when the profile belongs to the audience the filter describes. Text is compared case-insensitively. */
export function matchesAudience(profile: Profile, filter: AudienceFilter): boolean {
  switch (filter.kind) {
    case 'all':
      return true;
    case 'and':
      return filter.conditions.every((c) => matchesAudience(profile, c));
    case 'or':
      return filter.conditions.some((c) => matchesAudience(profile, c));
    case 'condition':
      return testCondition(fieldText(profile, filter.field), filter.operator, filter.value);
  }
}

function testCondition(actual: string, operator: FilterOperator, expected: string): boolean {
  const a = actual.trim().toLowerCase();
  const e = expected.trim().toLowerCase();
  switch (operator) {
    case 'equals':
      return a === e;
    case 'notEquals':
      return a !== e;
    case 'contains':
      return a.includes(e);
    case 'startsWith':
      return a.startsWith(e);
    case 'isEmpty':
      return a === '';
    case 'isNotEmpty':
      return a !== '';
  }
}

/** Returns a short human sentence for the filter, as shown on the dashboard. */
export function describeAudience(filter: AudienceFilter): string {
  switch (filter.kind) {
    case 'all':
      return 'Everyone';
    case 'and':
    case 'or':
      return filter.conditions.map((c) => `(${describeAudience(c)})`).join(` ${filter.kind.toUpperCase()} `);
    case 'condition':
      return filter.operator === 'isEmpty' || filter.operator === 'isNotEmpty'
        ? `${filter.field} ${OPERATOR_LABELS[filter.operator]}`
        : `${filter.field} ${OPERATOR_LABELS[filter.operator]} "${filter.value}"`;
  }
}

export const OPERATOR_LABELS: Record<FilterOperator, string> = {
  equals: 'equals',
  notEquals: 'does not equal',
  contains: 'contains',
  startsWith: 'starts with',
  isEmpty: 'is empty',
  isNotEmpty: 'is not empty',
};
