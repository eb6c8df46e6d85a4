import { afterEach, describe, expect, it } from 'vitest';
import { audienceWords, operatorLabel } from './audience-words';
import { i18n } from './i18n.svelte';
import { describeAudience, OPERATOR_LABELS, type AudienceFilter, type FilterOperator } from '$shared/audience-filter';
import type { FieldDefinition } from '$shared/profile-fields';

const FIELDS: FieldDefinition[] = [
  { name: 'city', label: 'City', type: 'text' },
  { name: 'loyalty_points', label: 'Loyalty points', type: 'number' },
];
const AUDIENCE: AudienceFilter = {
  kind: 'and',
  conditions: [
    { kind: 'condition', field: 'city', operator: 'inList', value: 'Gent, Utrecht' },
    { kind: 'not', filter: { kind: 'condition', field: 'loyalty_points', operator: 'lessThan', value: '1500' } },
  ],
};

afterEach(() => {
  i18n.locale = 'en';
});

describe("the audience's words", () => {
  it('say in English exactly what shared/ says', () => {
    expect(describeAudience(AUDIENCE, FIELDS, audienceWords())).toBe(describeAudience(AUDIENCE, FIELDS));
    for (const operator of Object.keys(OPERATOR_LABELS) as FilterOperator[])
      expect(operatorLabel(operator)).toBe(OPERATOR_LABELS[operator]);
  });

  it('describe an audience in Dutch, its numbers written the Dutch way', () => {
    i18n.locale = 'nl';
    expect(describeAudience(AUDIENCE, FIELDS, audienceWords())).toBe(
      'City is een van "Gent" of "Utrecht", behalve waar Loyalty points is kleiner dan 1.500',
    );
    expect(describeAudience({ kind: 'all' }, undefined, audienceWords())).toBe('Iedereen');
  });
});
