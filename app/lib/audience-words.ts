/**
 * The audience's words in the app's language: the builder's operators, and the sentence an
 * audience reads as (shared/audience-filter's describeAudience, English by default).
 */

import { i18n, m, number } from '$lib/i18n.svelte';
import { capitalized, orList, type AudienceWords, type FilterOperator } from '$shared/audience-filter';

/** An operator as the builder offers it (OPERATOR_LABELS, in the app's language). */
export const operatorLabel = (operator: FilterOperator): string =>
  ({
    equals: m.editor_op_equals,
    notEquals: m.editor_op_not_equals,
    inList: m.editor_op_in_list,
    contains: m.editor_op_contains,
    startsWith: m.editor_op_starts_with,
    isEmpty: m.editor_op_is_empty,
    isNotEmpty: m.editor_op_is_not_empty,
    greaterThan: m.editor_op_greater_than,
    lessThan: m.editor_op_less_than,
    between: m.editor_op_between,
    before: m.editor_op_before,
    after: m.editor_op_after,
    withinLastDays: m.editor_op_within_last_days,
    isTrue: m.editor_op_is_true,
    isFalse: m.editor_op_is_false,
    hasTag: m.editor_op_has_tag,
    hasNotTag: m.editor_op_has_not_tag,
    received: m.editor_op_received,
    notReceived: m.editor_op_not_received,
    opened: m.editor_op_opened,
    notOpened: m.editor_op_not_opened,
    clicked: m.editor_op_clicked,
    notClicked: m.editor_op_not_clicked,
  })[operator]();

/** The words of describeAudience in the app's language (read when called: a switch of language re-describes). */
export function audienceWords(): AudienceWords {
  const or = (values: readonly string[]) => orList(values, m.audience_describe_or());
  return {
    tag: i18n.tag,
    everyone: m.audience_describe_everyone(),
    and: m.audience_describe_and(),
    or: m.audience_describe_or(),
    not: m.audience_describe_not(),
    operator: operatorLabel,
    orList: or,
    except: (included, excluded) => m.audience_describe_except({ included, excluded }),
    delivery: (operator, delivery) => m.audience_describe_delivery({ operator: capitalized(operatorLabel(operator)), delivery }),
    between: (label, from, to) => m.audience_describe_between({ label, from, to }),
    withinLastDays: (label, days, count) => m.audience_describe_within_last_days({ label, days, count }),
    inList: (label, items) =>
      items.length > 1 ? m.audience_describe_is_one_of({ label, values: or(items) }) : m.audience_describe_is({ label, value: or(items) }),
    ignored: (sentence, count) => m.audience_describe_ignored({ sentence, count, shown: number(count) }),
  };
}
