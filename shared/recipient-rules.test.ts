import { describe, expect, it } from 'vitest';
import { seededRandom } from './random';
import { Preparation } from './preparation';
import { AnalysisBuilder, CompiledRules, settingsOf, whatIf, type RuleSettings } from './recipient-rules';
import { profilesView } from './profile-fields';
import { makeProfile } from './test-profile';
import { DEFAULT_TYPOLOGY, recipientRules, type Typology } from './typology';
import type { ContactHistoryEntry, Delivery, Profile } from './types';

const delivery: Delivery = {
  id: 'd',
  version: 1,
  name: 'n',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hi',
  html: '<a href="{{ unsubscribe_url }}">unsubscribe</a>',
  preheader: '',
  text: '',
  audience: { kind: 'all' },
  scheduledAt: null,
  typologyId: 'all-kinds',
  createdAt: '',
  updatedAt: '',
};
const now = new Date('2026-11-28T10:00:00Z');
const schema = [{ name: 'points', label: 'Points', type: 'number' as const }];

/** The default typology with a condition rule, a tighter pressure rule and a capacity rule on. */
const typology: Typology = {
  id: 'all-kinds',
  name: 'All kinds',
  rules: [
    ...DEFAULT_TYPOLOGY.rules.filter((r) => r.kind !== 'capacity' && r.kind !== 'pressure'),
    {
      id: 'low',
      name: 'Few points',
      kind: 'filtering',
      check: 'condition',
      filter: { kind: 'condition', field: 'points', operator: 'lessThan', value: '50' },
      enabled: true,
    },
    { id: 'pressure', name: 'Two a week', kind: 'pressure', maxMessages: 2, days: 7, enabled: true },
    {
      id: 'cap',
      name: 'Best 1,000',
      kind: 'capacity',
      maxMessages: 1_000,
      per: 'delivery',
      keepFirst: { by: 'field', field: 'points', direction: 'desc' },
      enabled: true,
    },
  ],
};

/** A messy audience: every rule has something to catch, and rules overlap. */
function messyAudience(count: number): { profiles: Profile[]; history: ContactHistoryEntry[] } {
  const random = seededRandom(3);
  const profiles = Array.from({ length: count }, (_, i) => {
    const mailbox = Math.floor(random() * count * 0.7);
    const roll = random();
    return makeProfile({
      id: i + 1,
      email: roll < 0.05 ? `broken${i}` : random() < 0.5 ? `p${mailbox}@example.com` : `p${mailbox}+x${i}@example.com`,
      status: random() < 0.08 ? 'unsubscribed' : 'subscribed',
      denylisted: random() < 0.03,
      quarantined: random() < 0.03,
      pending: random() < 0.03,
      attributes: random() < 0.9 ? { points: Math.floor(random() * 1000) } : {},
    });
  });
  const history = [0, 1, 2].map((d) => ({
    deliveryId: `earlier-${d}`,
    at: new Date(now.getTime() - (d + 1) * 86_400_000).toISOString(),
    profileIds: profiles.filter(() => random() < 0.4).map((p) => p.id),
  }));
  return { profiles, history };
}

const { profiles, history } = messyAudience(5_000);
const rules = recipientRules(typology);
const compiled = new CompiledRules(rules, { deliveryId: delivery.id, sendAt: now, history, schema, now });

function analyse() {
  const builder = new AnalysisBuilder(compiled);
  const bound = compiled.bind(profilesView(profiles));
  for (let i = 0; i < profiles.length; i++) builder.add(bound, i);
  return builder.finish();
}

/** A real preparation with a typology whose rules carry `settings`. */
function prepareWith(settings: RuleSettings) {
  const edited: Typology = {
    ...typology,
    rules: typology.rules.map((rule) => ({
      ...rule,
      enabled: rule.kind === 'control' || settings.enabled.has(rule.id),
      ...(rule.kind === 'pressure' || rule.kind === 'capacity' ? { maxMessages: settings.limits.get(rule.id)! } : {}),
    })),
  };
  const started = Preparation.start(delivery, { typology: edited, schema, history, now: () => now });
  if (!started.ok) throw new Error('start');
  for (let i = 0; i < profiles.length; i += 1000) started.preparation.addProfiles(profiles.slice(i, i + 1000));
  return started.preparation.finish().result.kpis;
}

const all = settingsOf(rules);
const without = (id: string): RuleSettings => ({ enabled: new Set([...all.enabled].filter((r) => r !== id)), limits: all.limits });
const limit = (id: string, n: number): RuleSettings => ({ enabled: all.enabled, limits: new Map([...all.limits, [id, n]]) });

describe('what-if', () => {
  const analysis = analyse();

  it('every rule catches someone in this audience', () => {
    const kpis = whatIf(compiled, analysis, all);
    expect(Object.keys(kpis.excludedByRule).sort()).toEqual(rules.map((r) => r.name).sort());
  });

  it.each<[string, RuleSettings]>([
    ['every rule on', all],
    ...rules.map((r): [string, RuleSettings] => [`"${r.name}" off`, without(r.id)]),
    ['the pressure limit raised to 3', limit('pressure', 3)],
    ['the pressure limit lowered to 1', limit('pressure', 1)],
    ['the capacity raised to 1,500', limit('cap', 1_500)],
    ['every rule off', { enabled: new Set(), limits: all.limits }],
  ])('gives exactly the KPIs of a real preparation with %s', (_, settings) => {
    expect(whatIf(compiled, analysis, settings)).toEqual(prepareWith(settings));
  });

  it('lets a rule that is off keep its profiles, and later rules then catch some of them', () => {
    const on = whatIf(compiled, analysis, without('cap'));
    const off = whatIf(compiled, analysis, without('unsubscribed'));
    expect(off.excludedByCause.unsubscribed).toBeUndefined();
    expect(off.targeted).toBe(on.targeted);
    const bothOff = whatIf(compiled, analysis, {
      enabled: new Set([...without('cap').enabled].filter((r) => r !== 'unsubscribed')),
      limits: all.limits,
    });
    // Overlaps: some unsubscribed profiles were also denylisted, quarantined, invalid or duplicates.
    expect(bothOff.toDeliver - on.toDeliver).toBeLessThan(on.excludedByCause.unsubscribed!);
    expect(bothOff.toDeliver).toBeGreaterThan(on.toDeliver);
  });

  it('caps To deliver at the capacity, whatever the other rules', () => {
    expect(whatIf(compiled, analysis, all).toDeliver).toBe(1_000);
    expect(whatIf(compiled, analysis, without('unsubscribed')).toDeliver).toBe(1_000);
  });

  it('with every rule off delivers to every targeted profile but those who have not confirmed (no what-if mails them)', () => {
    const pending = profiles.filter((p) => p.pending).length;
    expect(pending).toBeGreaterThan(0);
    expect(whatIf(compiled, analysis, { enabled: new Set(), limits: all.limits })).toEqual({
      targeted: 5_000,
      toDeliver: 5_000 - pending,
      excluded: pending,
      excludedByCause: { pending },
      excludedByRule: { 'Not confirmed yet': pending },
    });
  });
});
