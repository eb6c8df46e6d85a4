import { describe, expect, it } from 'vitest';
import { describeAudience, matchesAudience, type AudienceFilter } from './audience-filter';
import { makeProfile } from './test-profile';

const anna = makeProfile({
  email: 'anna@example.com',
  firstName: 'Anna',
  lastName: 'de Vries',
  locale: 'nl',
  attributes: { city: 'Utrecht', interests: ['shoes', 'sale'] },
});
const noName = makeProfile({ ...anna, id: 2, firstName: '' });

const cond = (field: string, operator: string, value = ''): AudienceFilter =>
  ({ kind: 'condition', field, operator, value }) as AudienceFilter;

describe('matchesAudience', () => {
  it.each([
    ['everyone', { kind: 'all' } as AudienceFilter, anna, true],
    ['equals, ignoring case', cond('city', 'equals', 'utrecht'), anna, true],
    ['equals, ignoring spaces', cond('city', 'equals', ' Utrecht '), anna, true],
    ['equals another value', cond('city', 'equals', 'Gent'), anna, false],
    ['not equals', cond('city', 'notEquals', 'Gent'), anna, true],
    ['contains', cond('email', 'contains', '@EXAMPLE'), anna, true],
    ['starts with', cond('email', 'startsWith', 'ann'), anna, true],
    ['starts with, no', cond('email', 'startsWith', 'bob'), anna, false],
    ['is empty', cond('first_name', 'isEmpty'), noName, true],
    ['is empty, no', cond('first_name', 'isEmpty'), anna, false],
    ['is not empty', cond('first_name', 'isNotEmpty'), anna, true],
    [
      'and',
      { kind: 'and', conditions: [cond('city', 'equals', 'Utrecht'), cond('first_name', 'equals', 'Anna')] } as AudienceFilter,
      anna,
      true,
    ],
    [
      'and, one fails',
      { kind: 'and', conditions: [cond('city', 'equals', 'Utrecht'), cond('first_name', 'equals', 'Bea')] } as AudienceFilter,
      anna,
      false,
    ],
    [
      'or, one holds',
      { kind: 'or', conditions: [cond('city', 'equals', 'Gent'), cond('first_name', 'equals', 'Anna')] } as AudienceFilter,
      anna,
      true,
    ],
    ['a tags attribute, as text', cond('interests', 'contains', 'sale'), anna, true],
    ['an attribute the profile lacks is empty', cond('vip', 'isEmpty'), anna, true],
    ['or, none holds', { kind: 'or', conditions: [cond('city', 'equals', 'Gent')] } as AudienceFilter, anna, false],
  ])('%s', (_, filter, profile, expected) => {
    expect(matchesAudience(profile, filter)).toBe(expected);
  });

  it('survives serialization unchanged (the filter travels as JSON)', () => {
    const filter: AudienceFilter = {
      kind: 'or',
      conditions: [cond('city', 'equals', 'Gent'), { kind: 'and', conditions: [cond('email', 'contains', 'example')] }],
    };
    const copy = JSON.parse(JSON.stringify(filter)) as AudienceFilter;
    expect(matchesAudience(anna, copy)).toBe(matchesAudience(anna, filter));
  });
});

describe('describeAudience', () => {
  it('reads as a sentence', () => {
    expect(describeAudience({ kind: 'all' })).toBe('Everyone');
    expect(describeAudience(cond('city', 'equals', 'Gent'))).toBe('city equals "Gent"');
    expect(describeAudience(cond('first_name', 'isEmpty'))).toBe('first_name is empty');
  });
});
