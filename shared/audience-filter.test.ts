import { describe, expect, it } from 'vitest';
import {
  compileAudience,
  conditionProblem,
  describeAudience,
  joinAudience,
  splitAudience,
  withoutIncomplete,
  type AudienceFilter,
  type FilterCondition,
  type FilterOperator,
} from './audience-filter';
import { audienceFields } from './profile-fields';
import type { AttributeType } from './types';
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

describe('compileAudience: text fields and groups', () => {
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
    expect(compileAudience(filter)(profile)).toBe(expected);
  });

  it('survives serialization unchanged (the filter travels as JSON)', () => {
    const filter: AudienceFilter = {
      kind: 'or',
      conditions: [cond('city', 'equals', 'Gent'), { kind: 'and', conditions: [cond('email', 'contains', 'example')] }],
    };
    const copy = JSON.parse(JSON.stringify(filter)) as AudienceFilter;
    expect(compileAudience(copy)(anna)).toBe(compileAudience(filter)(anna));
  });
});

describe('describeAudience', () => {
  it('without fields, gives the raw form', () => {
    expect(describeAudience({ kind: 'all' })).toBe('Everyone');
    expect(describeAudience(cond('city', 'equals', 'Gent'))).toBe('city equals "Gent"');
    expect(describeAudience(cond('first_name', 'isEmpty'))).toBe('first_name is empty');
  });

  const fields = audienceFields([
    { name: 'city', label: 'City', type: 'text' },
    { name: 'lifetime_value', label: 'Lifetime value', type: 'number' },
    { name: 'birth_date', label: 'Birth date', type: 'date' },
    { name: 'vip', label: 'VIP', type: 'boolean' },
    { name: 'interests', label: 'Interests', type: 'tags' },
  ]);
  const c = (field: string, operator: FilterOperator, value = '', value2?: string): AudienceFilter => ({
    kind: 'condition',
    field,
    operator,
    value,
    value2,
  });

  it.each<[AudienceFilter, string]>([
    [{ kind: 'all' }, 'Everyone'],
    [c('lifetime_value', 'greaterThan', '500'), 'Lifetime value is greater than 500'],
    [c('lifetime_value', 'between', '1000', '25000.5'), 'Lifetime value is between 1,000 and 25,000.5'],
    [c('city', 'equals', ' Utrecht '), 'City equals "Utrecht"'],
    [c('city', 'inList', 'Utrecht, Gent,Leiden'), 'City is one of "Utrecht", "Gent" or "Leiden"'],
    [c('city', 'inList', 'Utrecht,Gent'), 'City is one of "Utrecht" or "Gent"'],
    [c('city', 'inList', 'Utrecht'), 'City is "Utrecht"'],
    [c('first_name', 'isEmpty'), 'First name is empty'],
    [c('birth_date', 'before', '1990-04-01'), 'Birth date is before 1 Apr 1990'],
    [c('birth_date', 'between', '1990-01-01', '1990-12-31'), 'Birth date is between 1 Jan 1990 and 31 Dec 1990'],
    [c('birth_date', 'withinLastDays', '30'), 'Birth date is within the last 30 days'],
    [c('vip', 'isTrue'), 'VIP is yes'],
    [c('vip', 'isFalse'), 'VIP is no'],
    [c('interests', 'hasTag', 'shoes'), 'Interests has tag "shoes"'],
    [
      {
        kind: 'or',
        conditions: [c('vip', 'isTrue'), { kind: 'and', conditions: [c('city', 'equals', 'Gent'), c('lifetime_value', 'lessThan', '5')] }],
      },
      'VIP is yes or (City equals "Gent" and Lifetime value is less than 5)',
    ],
    [
      joinAudience({
        include: { kind: 'and', conditions: [c('city', 'equals', 'Utrecht')] },
        exclude: { kind: 'or', conditions: [c('vip', 'isTrue'), c('interests', 'hasTag', 'kids')] },
      }),
      'City equals "Utrecht", except where (VIP is yes or Interests has tag "kids")',
    ],
    [
      joinAudience({ include: { kind: 'and', conditions: [] }, exclude: { kind: 'or', conditions: [c('vip', 'isTrue')] } }),
      'Everyone, except where VIP is yes',
    ],
  ])('with fields: %j reads "%s"', (filter, sentence) => {
    expect(describeAudience(filter, fields)).toBe(sentence);
  });

  it('leaves incomplete conditions out and says so', () => {
    const filter = joinAudience({
      include: { kind: 'and', conditions: [c('city', 'equals', 'Utrecht'), c('lifetime_value', 'greaterThan', '')] },
      exclude: { kind: 'or', conditions: [c('vip', 'isTrue'), c('birth_date', 'between', '1990-01-01')] },
    });
    expect(describeAudience(filter, fields)).toBe('City equals "Utrecht", except where VIP is yes (2 incomplete conditions ignored)');
    expect(describeAudience(c('city', 'equals', ''), fields)).toBe('Everyone (an incomplete condition ignored)');
  });
});

describe('withoutIncomplete', () => {
  const fields = audienceFields([
    { name: 'city', label: 'City', type: 'text' },
    { name: 'points', label: 'Points', type: 'number' },
    { name: 'vip', label: 'VIP', type: 'boolean' },
  ]);
  const c = (field: string, operator: FilterOperator, value = ''): FilterCondition => ({ kind: 'condition', field, operator, value });
  const gent = makeProfile({ id: 1, attributes: { city: 'Gent', points: 10, vip: true } });
  const utrecht = makeProfile({ id: 2, attributes: { city: 'Utrecht', points: 900, vip: false } });
  const selects = (filter: AudienceFilter) => [gent, utrecht].filter(compileAudience(filter, fields)).map((p) => p.id);

  it.each<[string, AudienceFilter, number[], number]>([
    ['a new, empty condition selects everyone', { kind: 'and', conditions: [c('city', 'equals')] }, [1, 2], 1],
    [
      'beside a complete one, it changes nothing',
      { kind: 'and', conditions: [c('city', 'equals', 'Gent'), c('points', 'greaterThan')] },
      [1],
      1,
    ],
    ['in an OR, it lets nobody in by itself', { kind: 'or', conditions: [c('city', 'equals', 'Gent'), c('city', 'equals', ' ')] }, [1], 1],
    ['a value of another type is left out too', { kind: 'and', conditions: [c('points', 'greaterThan', 'ten')] }, [1, 2], 1],
    [
      'an exclusion of only incomplete conditions excludes nobody',
      joinAudience({
        include: { kind: 'and', conditions: [] },
        exclude: { kind: 'or', conditions: [c('vip', 'isTrue'), c('city', 'equals')] },
      }),
      [2],
      1,
    ],
    [
      'an exclusion left empty excludes nobody',
      joinAudience({
        include: { kind: 'and', conditions: [c('city', 'equals', 'Gent')] },
        exclude: { kind: 'or', conditions: [c('city', 'equals')] },
      }),
      [1],
      1,
    ],
    ['valueless operators are complete', { kind: 'and', conditions: [c('vip', 'isTrue')] }, [1], 0],
  ])('%s', (_, filter, ids, ignored) => {
    const usable = withoutIncomplete(filter, fields);
    expect(usable.ignored).toBe(ignored);
    expect(selects(usable.filter)).toEqual(ids);
  });

  it('returns a complete filter as it is', () => {
    const filter: AudienceFilter = { kind: 'and', conditions: [c('city', 'equals', 'Gent'), { kind: 'not', filter: c('vip', 'isFalse') }] };
    expect(withoutIncomplete(filter, fields)).toEqual({ filter, ignored: 0 });
  });
});

describe('compileAudience: operators that fit each type', () => {
  const schema = [
    { name: 'city', label: 'City', type: 'text' as const },
    { name: 'points', label: 'Points', type: 'number' as const },
    { name: 'birth', label: 'Birth date', type: 'date' as const },
    { name: 'last_order', label: 'Last order', type: 'date' as const },
    { name: 'vip', label: 'VIP', type: 'boolean' as const },
    { name: 'interests', label: 'Interests', type: 'tags' as const },
  ];
  const now = new Date('2026-11-28T12:00:00Z');
  const eva = makeProfile({
    email: 'eva@example.com',
    firstName: 'Eva',
    attributes: { city: 'Gent', points: 1200, birth: '1990-04-01', last_order: '2026-11-20', vip: true, interests: ['Shoes', 'sale'] },
  });
  const bare = makeProfile({ email: 'bare@example.com' });
  const c = (field: string, operator: FilterOperator, value = '', value2?: string): AudienceFilter => ({
    kind: 'condition',
    field,
    operator,
    value,
    value2,
  });
  const test = (filter: AudienceFilter, profile = eva) => compileAudience(filter, schema, now)(profile);

  it.each<[string, AudienceFilter, boolean]>([
    ['text in list', c('city', 'inList', 'Leiden, gent ,Utrecht'), true],
    ['text in list, no', c('city', 'inList', 'Leiden,Utrecht'), false],
    ['number equals', c('points', 'equals', '1200'), true],
    ['number greater', c('points', 'greaterThan', '1000'), true],
    ['number less', c('points', 'lessThan', '1000'), false],
    ['number between (either order)', c('points', 'between', '1500', '1000'), true],
    ['number not equals', c('points', 'notEquals', '5'), true],
    ['date before', c('birth', 'before', '2000-01-01'), true],
    ['date after', c('birth', 'after', '2000-01-01'), false],
    ['date between', c('birth', 'between', '1990-01-01', '1990-12-31'), true],
    ['date equals', c('birth', 'equals', '1990-04-01'), true],
    ['within the last 10 days', c('last_order', 'withinLastDays', '10'), true],
    ['within the last 5 days', c('last_order', 'withinLastDays', '5'), false],
    ['boolean yes', c('vip', 'isTrue'), true],
    ['boolean no', c('vip', 'isFalse'), false],
    ['has tag, any case', c('interests', 'hasTag', 'shoes'), true],
    ['does not have tag', c('interests', 'hasNotTag', 'kids'), true],
    ['tags not empty', c('interests', 'isNotEmpty'), true],
  ])('%s', (_, filter, expected) => {
    expect(test(filter)).toBe(expected);
  });

  it('treats a missing value as empty and never as a match of a comparison', () => {
    for (const filter of [
      c('points', 'greaterThan', '0'),
      c('points', 'lessThan', '99999'),
      c('birth', 'before', '2100-01-01'),
      c('vip', 'isFalse'),
      c('interests', 'hasTag', 'x'),
    ]) {
      expect(test(filter, bare)).toBe(false);
    }
    expect(test(c('points', 'isEmpty'), bare)).toBe(true);
    expect(test(c('interests', 'hasNotTag', 'x'), bare)).toBe(true);
  });

  it('lets an empty group, of either kind, constrain nothing', () => {
    expect(test({ kind: 'and', conditions: [c('city', 'equals', 'Gent'), { kind: 'or', conditions: [] }] })).toBe(true);
    expect(test({ kind: 'or', conditions: [] })).toBe(true);
    expect(test({ kind: 'and', conditions: [] })).toBe(true);
    expect(describeAudience({ kind: 'and', conditions: [c('city', 'equals', 'Gent'), { kind: 'or', conditions: [] }] })).toBe(
      'city equals "Gent"',
    );
    // Inside an OR it does not let everyone in either.
    expect(
      test({ kind: 'or', conditions: [c('city', 'equals', 'Leiden'), { kind: 'and', conditions: [{ kind: 'or', conditions: [] }] }] }),
    ).toBe(false);
  });

  it('nests AND and OR to any depth, and excludes with NOT', () => {
    const filter: AudienceFilter = {
      kind: 'and',
      conditions: [
        {
          kind: 'or',
          conditions: [
            c('city', 'equals', 'Leiden'),
            { kind: 'and', conditions: [c('vip', 'isTrue'), c('points', 'greaterThan', '1000')] },
          ],
        },
        { kind: 'not', filter: c('email', 'contains', '@example.org') },
      ],
    };
    expect(test(filter)).toBe(true);
    expect(
      test({
        ...filter,
        conditions: [...(filter as { conditions: AudienceFilter[] }).conditions, { kind: 'not', filter: c('first_name', 'equals', 'eva') }],
      }),
    ).toBe(false);
    expect(describeAudience(filter)).toBe(
      '(city equals "Leiden" OR (vip is yes AND points is greater than "1000")) AND NOT (email contains "@example.org")',
    );
  });

  it.each<[string, FilterCondition, AttributeType, string | null]>([
    ['a good condition', { kind: 'condition', field: 'points', operator: 'greaterThan', value: '10' }, 'number', null],
    [
      'an operator of another type',
      { kind: 'condition', field: 'points', operator: 'hasTag', value: 'x' },
      'number',
      '"has tag" does not fit a number field.',
    ],
    ['no value', { kind: 'condition', field: 'city', operator: 'equals', value: ' ' }, 'text', 'Give a value for city.'],
    ['not a number', { kind: 'condition', field: 'points', operator: 'equals', value: 'ten' }, 'number', '"ten" is not a number.'],
    [
      'not a date',
      { kind: 'condition', field: 'birth', operator: 'before', value: '1/2/90' },
      'date',
      '"1/2/90" is not a date (YYYY-MM-DD).',
    ],
    ['half a range', { kind: 'condition', field: 'points', operator: 'between', value: '1' }, 'number', 'Give both ends of the range.'],
  ])('conditionProblem: %s', (_, condition, type, problem) => {
    expect(conditionProblem(condition, type)).toBe(problem);
  });
});

describe('splitAudience and joinAudience', () => {
  const city: AudienceFilter = { kind: 'condition', field: 'city', operator: 'equals', value: 'Gent' };
  const vip: AudienceFilter = { kind: 'condition', field: 'vip', operator: 'isTrue', value: '' };

  it('round-trips include and exclude', () => {
    const parts = { include: { kind: 'and' as const, conditions: [city] }, exclude: { kind: 'or' as const, conditions: [vip] } };
    expect(splitAudience(joinAudience(parts))).toEqual(parts);
  });

  it('reads older filters as include only, and drops empty groups', () => {
    expect(splitAudience({ kind: 'all' })).toEqual({ include: { kind: 'and', conditions: [] }, exclude: { kind: 'or', conditions: [] } });
    expect(splitAudience(city).include.conditions).toEqual([city]);
    expect(joinAudience({ include: { kind: 'and', conditions: [] }, exclude: { kind: 'or', conditions: [] } })).toEqual({ kind: 'all' });
    const excludeOnly = joinAudience({ include: { kind: 'and', conditions: [] }, exclude: { kind: 'or', conditions: [vip] } });
    expect(compileAudience(excludeOnly)(makeProfile({ attributes: { vip: true } }))).toBe(false);
    expect(compileAudience(excludeOnly)(makeProfile())).toBe(true);
  });
});
