import { afterEach, describe, expect, it } from 'vitest';
import { i18n } from './i18n.svelte';
import { ruleKind, ruleName } from './rule-names';
import { DEFAULT_TYPOLOGY, PENDING_RULE } from '$shared/typology';

afterEach(() => {
  i18n.locale = 'en';
});

describe('the shipped rules’ names', () => {
  it('are in English exactly as the default typology names them', () => {
    for (const rule of [...DEFAULT_TYPOLOGY.rules, PENDING_RULE]) expect(ruleName(rule.name)).toBe(rule.name);
  });

  it('are in Dutch when the page is, each its own; a rule of the team’s own keeps its name', () => {
    i18n.locale = 'nl';
    const dutch = [...DEFAULT_TYPOLOGY.rules, PENDING_RULE].map((rule) => ruleName(rule.name));
    expect(new Set(dutch).size).toBe(dutch.length);
    expect(ruleName('Unsubscribed')).toBe('Afgemeld');
    expect(ruleName('Few points')).toBe('Few points');
  });

  it('name a rule’s kind, given as the kind or by its English label, in the page’s language', () => {
    expect(ruleKind('holdout')).toBe('Control group');
    i18n.locale = 'nl';
    expect(ruleKind('holdout')).toBe('Controlegroep');
    expect(ruleKind('Control group')).toBe('Controlegroep');
    expect(ruleKind('Something else')).toBe('Something else');
  });
});
