/**
 * The audience filter: a typed, serializable condition tree evaluated by the same code in
 * the preparation worker and on the server. Conditions test one field with an operator
 * that fits its type; groups combine conditions with AND or OR to any depth; `not`
 * excludes what it matches ("exclude profiles matching …").
 */

import { CLICKED, DELIVERY_FIELD, deliveryColumn, LAST_CLICK, LAST_OPEN, NOT_RECEIVED, OPENED, RECEIVED } from './engagement';
import { fieldValue, timeOf, type FieldDefinition, type FieldType, type ProfileColumns } from './profile-fields';
import type { AttributeValue, Profile } from './types';

/** A field by name and type: an attribute of the schema, or a field definition. */
type TypedField = { name: string; type: FieldType };

export const FILTER_OPERATORS = [
  'equals',
  'notEquals',
  'inList',
  'contains',
  'startsWith',
  'isEmpty',
  'isNotEmpty',
  'greaterThan',
  'lessThan',
  'between',
  'before',
  'after',
  'withinLastDays',
  'isTrue',
  'isFalse',
  'hasTag',
  'hasNotTag',
  'received',
  'notReceived',
  'opened',
  'notOpened',
  'clicked',
  'notClicked',
] as const;
export type FilterOperator = (typeof FILTER_OPERATORS)[number];

export interface FilterCondition {
  kind: 'condition';
  /** A core field (email, first_name, …) or a custom attribute of the schema. */
  field: string;
  operator: FilterOperator;
  /**
   * The value compared with; for `inList` a comma-separated list; for `withinLastDays` a
   * number of days; for a condition on the `delivery` field, the delivery's id.
   */
  value: string;
  /** The upper bound of `between`. */
  value2?: string;
}

export type AudienceFilter =
  { kind: 'all' } | FilterCondition | { kind: 'and' | 'or'; conditions: AudienceFilter[] } | { kind: 'not'; filter: AudienceFilter };

export const EVERYONE: AudienceFilter = { kind: 'all' };

/** The operators that fit each type of field, in the order the builder offers them. */
export const OPERATORS_BY_TYPE: Record<FieldType, readonly FilterOperator[]> = {
  text: ['equals', 'notEquals', 'inList', 'contains', 'startsWith', 'isEmpty', 'isNotEmpty'],
  number: ['equals', 'notEquals', 'greaterThan', 'lessThan', 'between', 'isEmpty', 'isNotEmpty'],
  date: ['equals', 'before', 'after', 'between', 'withinLastDays', 'isEmpty', 'isNotEmpty'],
  boolean: ['isTrue', 'isFalse', 'isEmpty', 'isNotEmpty'],
  tags: ['hasTag', 'hasNotTag', 'isEmpty', 'isNotEmpty'],
  delivery: ['notOpened', 'opened', 'clicked', 'notClicked', 'received', 'notReceived'],
};

export const OPERATOR_LABELS: Record<FilterOperator, string> = {
  equals: 'equals',
  notEquals: 'does not equal',
  inList: 'is one of',
  contains: 'contains',
  startsWith: 'starts with',
  isEmpty: 'is empty',
  isNotEmpty: 'is not empty',
  greaterThan: 'is greater than',
  lessThan: 'is less than',
  between: 'is between',
  before: 'is before',
  after: 'is after',
  withinLastDays: 'is within the last (days)',
  isTrue: 'is yes',
  isFalse: 'is no',
  hasTag: 'has tag',
  hasNotTag: 'does not have tag',
  received: 'received',
  notReceived: 'did not receive',
  opened: 'opened',
  notOpened: 'received, did not open',
  clicked: 'clicked in',
  notClicked: 'received, did not click in',
};

/** Operators that take no value. */
export const VALUELESS: ReadonlySet<FilterOperator> = new Set(['isEmpty', 'isNotEmpty', 'isTrue', 'isFalse']);

export type ProfilePredicate = (profile: Profile) => boolean;

const DAY = 86_400_000;

/**
 * Returns a predicate for the filter, compiled once for the schema's field types; `now`
 * anchors "within the last N days" (so a preparation is reproducible). Core fields are text.
 */
export function compileAudience(filter: AudienceFilter, schema: readonly TypedField[] = [], now = new Date()): ProfilePredicate {
  return compileTree(filter, schema, now)((field) => (profile: Profile) => fieldValue(profile, field));
}

/**
 * Returns the filter compiled for columns: bound to a block, it tests a position without
 * building the profile, so a scan builds only the profiles that match.
 */
export function compileAudienceColumns(
  filter: AudienceFilter,
  schema: readonly TypedField[] = [],
  now = new Date(),
): (block: ProfileColumns) => (position: number) => boolean {
  const bind = compileTree(filter, schema, now);
  return (block) =>
    bind((field) => {
      const values = block.column(field);
      return (i: number) => values[i];
    });
}

type Reader<R> = (field: string) => (row: R) => AttributeValue | undefined;

/** Compiles the conditions once; the result binds them to a way of reading a field of a row. */
function compileTree(filter: AudienceFilter, schema: readonly TypedField[], now: Date): <R>(read: Reader<R>) => (row: R) => boolean {
  const types = new Map<string, FieldType>(schema.map((a) => [a.name, a.type]));
  const compile = (node: AudienceFilter): (<R>(read: Reader<R>) => (row: R) => boolean) => {
    switch (node.kind) {
      case 'all':
        return () => () => true;
      case 'and':
      case 'or': {
        // Empty groups (just added in the builder) take no part: they constrain nothing.
        const parts = node.conditions.filter((c) => !isEmptyGroup(c)).map(compile);
        if (parts.length === 0) return () => () => true;
        return <R>(read: Reader<R>) => {
          const tests = parts.map((part) => part(read));
          // Plain loops: this runs for every profile of a million-profile scan.
          if (node.kind === 'and')
            return (row: R) => {
              for (let t = 0; t < tests.length; t++) if (!tests[t](row)) return false;
              return true;
            };
          return (row: R) => {
            for (let t = 0; t < tests.length; t++) if (tests[t](row)) return true;
            return false;
          };
        };
      }
      case 'not': {
        const inner = compile(node.filter);
        return <R>(read: Reader<R>) => {
          const test = inner(read);
          return (row: R) => !test(row);
        };
      }
      case 'condition': {
        const test = compileCondition(node, types.get(node.field) ?? builtInType(node), now.getTime());
        // A condition on a delivery reads that delivery's column.
        const column = node.field === DELIVERY_FIELD ? deliveryColumn(String(node.value).trim()) : node.field;
        return <R>(read: Reader<R>) => {
          const value = read(column);
          return (row: R) => test(value(row));
        };
      }
    }
  };
  return compile(filter);
}

/** Returns true for a group with no condition in it, at any depth. */
function isEmptyGroup(filter: AudienceFilter): boolean {
  return (filter.kind === 'and' || filter.kind === 'or') && filter.conditions.every(isEmptyGroup);
}

/** The type of a field the schema does not declare: an engagement field's, or the one its operator asks for. */
function builtInType(condition: FilterCondition): FieldType {
  if (condition.field === LAST_OPEN || condition.field === LAST_CLICK) return 'date';
  if (condition.field === DELIVERY_FIELD) return 'delivery';
  return typeForOperator(condition.operator);
}

/** The type a field must have for an operator, when the schema does not say (a core field, an unknown attribute). */
function typeForOperator(operator: FilterOperator): FieldType {
  return (
    (['number', 'date', 'boolean', 'tags', 'delivery'] as const).find(
      (type) => !OPERATORS_BY_TYPE.text.includes(operator) && OPERATORS_BY_TYPE[type].includes(operator),
    ) ?? 'text'
  );
}

type ValueTest = (value: AttributeValue | undefined) => boolean;

const isEmptyValue = (v: AttributeValue | undefined) => v === null || v === undefined || v === '' || (Array.isArray(v) && v.length === 0);
const text = (v: AttributeValue | undefined) =>
  (v === null || v === undefined ? '' : Array.isArray(v) ? v.join(', ') : String(v)).trim().toLowerCase();
const toNumber = (v: AttributeValue | undefined) =>
  typeof v === 'number' ? v : v === null || v === undefined || v === '' ? NaN : Number(v);

function compileCondition(condition: FilterCondition, type: FieldType, now: number): ValueTest {
  const { operator } = condition;
  const expected = String(condition.value).trim().toLowerCase();
  if (operator === 'isEmpty') return isEmptyValue;
  if (operator === 'isNotEmpty') return (v) => !isEmptyValue(v);
  switch (type) {
    case 'number': {
      const a = Number(condition.value);
      const b = Number(condition.value2 ?? '');
      if (operator === 'greaterThan') return (v) => toNumber(v) > a;
      if (operator === 'lessThan') return (v) => toNumber(v) < a;
      if (operator === 'between') return (v) => toNumber(v) >= Math.min(a, b) && toNumber(v) <= Math.max(a, b);
      if (operator === 'notEquals') return (v) => toNumber(v) !== a;
      return (v) => toNumber(v) === a;
    }
    case 'date': {
      const a = timeOf(condition.value);
      const b = timeOf(condition.value2 ?? '');
      if (operator === 'before') return (v) => timeOf(v) < a;
      if (operator === 'after') return (v) => timeOf(v) > a;
      if (operator === 'between') return (v) => timeOf(v) >= Math.min(a, b) && timeOf(v) <= Math.max(a, b);
      if (operator === 'withinLastDays') {
        const since = now - Number(condition.value) * DAY;
        return (v) => timeOf(v) >= since && timeOf(v) <= now;
      }
      return (v) => timeOf(v) === a;
    }
    case 'boolean':
      if (operator === 'isFalse') return (v) => v === false || v === 'false';
      return (v) => v === true || v === 'true';
    case 'tags': {
      const has = (v: AttributeValue | undefined) => Array.isArray(v) && v.some((t) => t.toLowerCase() === expected);
      return operator === 'hasNotTag' ? (v) => !has(v) : has;
    }
    case 'delivery': {
      // The column holds the profile's standing with the delivery (NOT_RECEIVED … CLICKED).
      if (operator === 'notReceived') return (v) => v === NOT_RECEIVED;
      if (operator === 'opened') return (v) => v === OPENED || v === CLICKED;
      if (operator === 'notOpened') return (v) => v === RECEIVED;
      if (operator === 'clicked') return (v) => v === CLICKED;
      if (operator === 'notClicked') return (v) => v === RECEIVED || v === OPENED;
      return (v) => typeof v === 'number' && v !== NOT_RECEIVED;
    }
    case 'text': {
      if (operator === 'notEquals') return (v) => text(v) !== expected;
      if (operator === 'contains') return (v) => text(v).includes(expected);
      if (operator === 'startsWith') return (v) => text(v).startsWith(expected);
      if (operator === 'inList') {
        const list = new Set(
          condition.value
            .split(',')
            .map((x) => x.trim().toLowerCase())
            .filter(Boolean),
        );
        return (v) => list.has(text(v));
      }
      return (v) => text(v) === expected;
    }
  }
}

/** Returns why a condition cannot be used (a missing or malformed value), or null. */
export function conditionProblem(
  condition: FilterCondition,
  type: FieldType,
  /** The deliveries this device knows (engagement's): one not among them cannot be told apart from one nobody received. */
  choices?: readonly { value: string }[],
): string | null {
  if (!OPERATORS_BY_TYPE[type].includes(condition.operator))
    return `"${OPERATOR_LABELS[condition.operator]}" does not fit a ${type} field.`;
  if (VALUELESS.has(condition.operator)) return null;
  if (type === 'delivery' && String(condition.value).trim() === '') return 'Choose a delivery.';
  if (type === 'delivery' && choices && !choices.some((c) => c.value === String(condition.value).trim()))
    return 'This delivery’s engagement is not on this device (sent over a year ago, or not pulled yet): sync, or choose another.';
  if (String(condition.value).trim() === '') return `Give a value for ${condition.field}.`;
  if (type === 'number' && Number.isNaN(Number(condition.value))) return `"${condition.value}" is not a number.`;
  const isDate = (v: string) => /^\d{4}-\d{2}-\d{2}$/.test(String(v).trim()) && !Number.isNaN(timeOf(String(v).trim()));
  if (type === 'date' && condition.operator !== 'withinLastDays' && !isDate(condition.value))
    return `"${condition.value}" is not a date (YYYY-MM-DD).`;
  if (condition.operator === 'withinLastDays' && !(Number(condition.value) > 0)) return 'Give a number of days.';
  if (condition.operator === 'between' && String(condition.value2 ?? '').trim() === '') return 'Give both ends of the range.';
  return null;
}

/**
 * Returns the filter without the conditions that cannot be used yet (a value not given, or
 * not of the field's type: see conditionProblem), and without what they leave empty: a group
 * with nothing left, a NOT of nothing. What remains selects as if those conditions were not
 * there, so a condition just added constrains nothing until it is filled in. `ignored`
 * counts the conditions left out. Unknown fields take their type from the operator.
 */
export function withoutIncomplete(
  filter: AudienceFilter,
  fields: readonly { name: string; type: FieldType; choices?: readonly { value: string }[] }[],
): { filter: AudienceFilter; ignored: number } {
  const types = new Map(fields.map((f) => [f.name, f.type]));
  const choices = new Map(fields.map((f) => [f.name, f.choices]));
  let ignored = 0;
  const prune = (node: AudienceFilter): AudienceFilter | null => {
    switch (node.kind) {
      case 'all':
        return node;
      case 'condition':
        if (conditionProblem(node, types.get(node.field) ?? builtInType(node), choices.get(node.field)) === null) return node;
        ignored++;
        return null;
      case 'not': {
        const inner = prune(node.filter);
        return inner && { kind: 'not', filter: inner };
      }
      case 'and':
      case 'or': {
        const conditions = node.conditions.map(prune).filter((c) => c !== null);
        return conditions.length ? { kind: node.kind, conditions } : null;
      }
    }
  };
  return { filter: prune(filter) ?? EVERYONE, ignored };
}

/**
 * Returns a short human sentence for the filter, as shown on the dashboard. With the
 * fields, it reads as the builder shows it: fields by their labels, values as their type
 * (numbers and dates formatted, yes/no, lists joined with "or"), incomplete conditions left
 * out and said to be ignored, e.g. `Loyalty points is greater than 500 and City is one of
 * "Utrecht" or "Gent"`. Without them, the raw form: field names and values as stored.
 */
export function describeAudience(
  filter: AudienceFilter,
  fields?: readonly FieldDefinition[],
  words: AudienceWords = ENGLISH_AUDIENCE,
): string {
  if (!fields) return describeRaw(filter, words);
  const usable = withoutIncomplete(filter, fields);
  const byName = new Map(fields.map((f) => [f.name, f]));
  const sentence = describeTyped(usable.filter, byName, words);
  return usable.ignored === 0 ? sentence : words.ignored(sentence, usable.ignored);
}

/** The words an audience is described in (the app gives them in its language; English by default). */
export interface AudienceWords {
  /** The Intl tag numbers and dates are written in. */
  tag: string;
  everyone: string;
  and: string;
  or: string;
  not: string;
  operator(operator: FilterOperator): string;
  /** "a", "a or b", "a, b or c". */
  orList(values: readonly string[]): string;
  except(included: string, excluded: string): string;
  /** An engagement condition on a delivery: "Received the delivery "X"". */
  delivery(operator: FilterOperator, delivery: string): string;
  between(label: string, from: string, to: string): string;
  withinLastDays(label: string, days: string, count: number): string;
  /** "City is "Gent"", "City is one of "Gent" or "Utrecht"". */
  inList(label: string, items: readonly string[]): string;
  ignored(sentence: string, count: number): string;
}

/** A list as a sentence writes it, with `or` the language's word: "a", "a or b", "a, b or c". */
export function orList(values: readonly string[], or: string): string {
  return values.length <= 1 ? (values[0] ?? '') : `${values.slice(0, -1).join(', ')} ${or} ${values.at(-1)}`;
}

/** An operator's label with a capital, to begin a sentence. */
export const capitalized = (text: string) => text.replace(/^./, (c) => c.toUpperCase());

export const ENGLISH_AUDIENCE: AudienceWords = {
  tag: 'en-GB',
  everyone: 'Everyone',
  and: 'and',
  or: 'or',
  not: 'not',
  operator: (operator) => OPERATOR_LABELS[operator],
  orList: (values) => orList(values, 'or'),
  except: (included, excluded) => `${included}, except where ${excluded}`,
  delivery: (operator, delivery) => `${capitalized(OPERATOR_LABELS[operator])} the delivery "${delivery}"`,
  between: (label, from, to) => `${label} is between ${from} and ${to}`,
  withinLastDays: (label, days, count) => `${label} is within the last ${days} day${count === 1 ? '' : 's'}`,
  inList: (label, items) => `${label} is ${items.length > 1 ? 'one of ' : ''}${ENGLISH_AUDIENCE.orList(items)}`,
  ignored: (sentence, count) => `${sentence} (${count === 1 ? 'an incomplete condition' : `${count} incomplete conditions`} ignored)`,
};

function describeRaw(filter: AudienceFilter, words: AudienceWords): string {
  switch (filter.kind) {
    case 'all':
      return words.everyone;
    case 'and':
    case 'or': {
      const parts = filter.conditions.filter((c) => !isEmptyGroup(c));
      if (parts.length === 0) return words.everyone;
      if (parts.length === 1) return describeRaw(parts[0], words);
      return parts
        .map((c) => (c.kind === 'and' || c.kind === 'or' ? `(${describeRaw(c, words)})` : describeRaw(c, words)))
        .join(` ${words[filter.kind].toUpperCase()} `);
    }
    case 'not':
      return `${words.not.toUpperCase()} (${describeRaw(filter.filter, words)})`;
    case 'condition': {
      const operator = words.operator(filter.operator);
      if (VALUELESS.has(filter.operator)) return `${filter.field} ${operator}`;
      if (filter.operator === 'between') return `${filter.field} ${operator} "${filter.value}" ${words.and} "${filter.value2 ?? ''}"`;
      return `${filter.field} ${operator} "${filter.value}"`;
    }
  }
}

/** Describes a filter already without incomplete conditions (withoutIncomplete). */
function describeTyped(filter: AudienceFilter, fields: ReadonlyMap<string, FieldDefinition>, words: AudienceWords): string {
  const part = (node: AudienceFilter) => {
    const text = describeTyped(node, fields, words);
    return (node.kind === 'and' || node.kind === 'or') && node.conditions.length > 1 ? `(${text})` : text;
  };
  switch (filter.kind) {
    case 'all':
      return words.everyone;
    case 'not':
      return `${words.not} ${part(filter.filter)}`;
    case 'and':
    case 'or': {
      // The builder's shape: who is in, then NOT who of them is excluded.
      const and = filter.kind === 'and';
      const excluded = and ? filter.conditions.flatMap((c) => (c.kind === 'not' ? [c.filter] : [])) : [];
      const kept = and ? filter.conditions.filter((c) => c.kind !== 'not') : filter.conditions;
      const included =
        kept.length === 0
          ? words.everyone
          : kept.length === 1
            ? describeTyped(kept[0], fields, words)
            : kept.map(part).join(` ${words[filter.kind]} `);
      return excluded.length === 0 ? included : words.except(included, excluded.map(part).join(` ${words.or} `));
    }
    case 'condition': {
      const field = fields.get(filter.field);
      const label = field?.label ?? filter.field;
      const type = field?.type ?? builtInType(filter);
      const value = (raw: string) => typedValue(raw, type, filter.operator, words.tag);
      const { operator } = filter;
      if (type === 'delivery')
        return words.delivery(operator, field?.choices?.find((c) => c.value === filter.value)?.label ?? filter.value);
      if (VALUELESS.has(operator)) return `${label} ${words.operator(operator)}`;
      if (operator === 'between') return words.between(label, value(filter.value), value(filter.value2 ?? ''));
      if (operator === 'withinLastDays') return words.withinLastDays(label, value(filter.value), Number(filter.value));
      if (operator === 'inList') {
        const items = filter.value
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
        return words.inList(
          label,
          items.map((x) => `"${x}"`),
        );
      }
      return `${label} ${words.operator(operator)} ${value(filter.value)}`;
    }
  }
}

/** Returns a condition's value as its type reads: a number with separators, a date in words, text in quotes. */
function typedValue(raw: string, type: FieldType, operator: FilterOperator, tag: string): string {
  const trimmed = String(raw).trim();
  if (type === 'number' || operator === 'withinLastDays') return Number(trimmed).toLocaleString(tag, { maximumFractionDigits: 20 });
  if (type === 'date')
    return new Intl.DateTimeFormat(tag, { day: 'numeric', month: 'short', year: 'numeric', timeZone: 'UTC' }).format(timeOf(trimmed));
  return `"${trimmed}"`;
}

export type FilterGroup = { kind: 'and' | 'or'; conditions: AudienceFilter[] };

/** The audience as the builder edits it: who is in, and who of them is excluded. */
export interface AudienceParts {
  include: FilterGroup;
  exclude: FilterGroup;
}

const asGroup = (filter: AudienceFilter): FilterGroup =>
  filter.kind === 'and' || filter.kind === 'or' ? filter : { kind: 'and', conditions: filter.kind === 'all' ? [] : [filter] };

/** Returns the include and exclude groups of a filter written by `joinAudience` (any other filter is all include). */
export function splitAudience(filter: AudienceFilter): AudienceParts {
  if (filter.kind === 'and' && filter.conditions.length === 2 && filter.conditions[1].kind === 'not') {
    return { include: asGroup(filter.conditions[0]), exclude: asGroup(filter.conditions[1].filter) };
  }
  return { include: asGroup(filter), exclude: { kind: 'or', conditions: [] } };
}

/** Returns the filter for an include group minus an exclude group; empty groups drop out. */
export function joinAudience({ include, exclude }: AudienceParts): AudienceFilter {
  const included: AudienceFilter = include.conditions.length === 0 ? EVERYONE : include;
  if (exclude.conditions.length === 0) return included;
  return {
    kind: 'and',
    conditions: [included.kind === 'all' ? { kind: 'and', conditions: [] } : included, { kind: 'not', filter: exclude }],
  };
}
