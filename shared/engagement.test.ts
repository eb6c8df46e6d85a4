/**
 * Engagement as conditions, rules and orders read it on the device: "received / opened /
 * clicked / did not open delivery X", last open and last click as dates ("opened anything in
 * the last N days", "never opened"), a typology rule excluding on it, a capacity order
 * keeping the oldest last open first, and the why-trace naming what it saw.
 */

import { describe, expect, it } from 'vitest';
import {
  compileAudienceColumns,
  conditionProblem,
  describeAudience,
  withoutIncomplete,
  type AudienceFilter,
  type FilterCondition,
  type FilterOperator,
} from './audience-filter';
import { engagedVersion, EngagementIndex, engagementFields, usesEngagement, type EngagementSnapshot } from './engagement';
import { Preparation } from './preparation';
import { profilesView } from './profile-fields';
import { CompiledRules } from './recipient-rules';
import { makeProfile } from './test-profile';
import { DEFAULT_TYPOLOGY, typologyProblem, type Typology, type TypologyRule } from './typology';
import type { Delivery } from './types';
import { explainProfile } from './why';

const NOW = new Date('2026-12-03T12:00:00Z');
const DAY = 86_400_000;
// Profiles 1–6; "spring" was delivered to 1–5: 2 and 3 opened, 3 clicked.
const profiles = Array.from({ length: 6 }, (_, i) => makeProfile({ id: i + 1, email: `p${i + 1}@example.com` }));
const snapshot: EngagementSnapshot = {
  deliveries: [
    { deliveryId: 'spring', name: 'Spring sale', sentAt: '2026-11-20T09:00:00Z', received: [1, 2, 3, 4, 5], opened: [2, 3], clicked: [3] },
    { deliveryId: 'autumn', name: 'Autumn', sentAt: '2026-10-01T09:00:00Z', received: [6], opened: [6], clicked: [] },
  ],
  // 2 opened yesterday, 3 forty days ago, 6 ten days ago; 1, 4, 5 never.
  lastOpen: { ids: [2, 3, 6], at: [NOW.getTime() - DAY, NOW.getTime() - 40 * DAY, NOW.getTime() - 10 * DAY] },
  lastClick: { ids: [3], at: [NOW.getTime() - 40 * DAY] },
};
const index = new EngagementIndex(snapshot);

const select = (filter: AudienceFilter) => {
  const view = index.view(profilesView(profiles));
  const test = compileAudienceColumns(filter, [], NOW)(view);
  return profiles.filter((_, i) => test(i)).map((p) => p.id);
};
const onSpring = (operator: FilterOperator): FilterCondition => ({ kind: 'condition', field: 'delivery', operator, value: 'spring' });

describe('conditions on a delivery', () => {
  it.each<[FilterOperator, number[]]>([
    ['received', [1, 2, 3, 4, 5]],
    ['notReceived', [6]],
    ['opened', [2, 3]],
    ['notOpened', [1, 4, 5]],
    ['clicked', [3]],
    ['notClicked', [1, 2, 4, 5]],
  ])('%s selects %j', (operator, ids) => {
    expect(select(onSpring(operator))).toEqual(ids);
  });

  it('say that a delivery not on the device cannot be used yet, so that it is left out rather than read as received by nobody', () => {
    const fields = engagementFields(snapshot.deliveries);
    const gone: FilterCondition = { kind: 'condition', field: 'delivery', operator: 'notReceived', value: 'gone' };
    expect(conditionProblem(gone, 'delivery', fields[2].choices)).toMatch(/not on this device .*: sync, or choose another/);
    expect(withoutIncomplete({ kind: 'and', conditions: [gone] }, fields)).toEqual({ filter: { kind: 'all' }, ignored: 1 });
    expect(conditionProblem(onSpring('notReceived'), 'delivery', fields[2].choices)).toBeNull();
  });

  it('read as a sentence with the delivery’s name', () => {
    const fields = engagementFields(snapshot.deliveries);
    expect(describeAudience({ kind: 'and', conditions: [onSpring('notOpened')] }, fields)).toBe(
      'Received, did not open the delivery "Spring sale (2026-11-20)"',
    );
    expect(fields.find((f) => f.name === 'delivery')?.choices?.map((c) => c.value)).toEqual(['spring', 'autumn']); // latest first
  });
});

describe('last open and last click', () => {
  it('answer "opened anything in the last N days" and "never opened"', () => {
    expect(select({ kind: 'condition', field: 'last_open', operator: 'withinLastDays', value: '30' })).toEqual([2, 6]);
    expect(select({ kind: 'condition', field: 'last_open', operator: 'isEmpty', value: '' })).toEqual([1, 4, 5]);
    expect(select({ kind: 'condition', field: 'last_click', operator: 'before', value: '2026-11-01' })).toEqual([3]);
  });

  it('read by day, as a date attribute: equals, between and after a day', () => {
    expect(select({ kind: 'condition', field: 'last_open', operator: 'equals', value: '2026-12-02' })).toEqual([2]);
    expect(select({ kind: 'condition', field: 'last_open', operator: 'between', value: '2026-11-23', value2: '2026-12-02' })).toEqual([
      2, 6,
    ]);
    expect(select({ kind: 'condition', field: 'last_open', operator: 'after', value: '2026-12-02' })).toEqual([]);
  });
});

const delivery = (audience: AudienceFilter): Delivery => ({
  id: 'again',
  version: 1,
  name: 'Again',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hello',
  html: '<p>Hi <a href="{{ unsubscribe_url }}">Unsubscribe</a></p>',
  preheader: '',
  text: '',
  audience,
  scheduledAt: null,
  typologyId: DEFAULT_TYPOLOGY.id,
  createdAt: NOW.toISOString(),
  updatedAt: NOW.toISOString(),
});
const typologyWith = (...rules: TypologyRule[]): Typology => ({ ...DEFAULT_TYPOLOGY, rules: [...DEFAULT_TYPOLOGY.rules, ...rules] });

function prepare(audience: AudienceFilter, typology: Typology) {
  const started = Preparation.start(delivery(audience), { typology, engagement: index, now: () => NOW });
  if (!started.ok) throw new Error('the preparation did not start');
  const chunk = started.preparation.addProfiles(profiles);
  const { result, last } = started.preparation.finish();
  return { kpis: result.kpis, recipients: [...chunk.recipients, ...last.recipients].map((r) => r.profileId) };
}

describe('in a preparation', () => {
  it('a typology rule excludes on engagement, with its own cause', () => {
    const inactive: TypologyRule = {
      id: 'inactive',
      name: 'No open in 30 days',
      kind: 'filtering',
      check: 'condition',
      filter: { kind: 'not', filter: { kind: 'condition', field: 'last_open', operator: 'withinLastDays', value: '30' } },
      enabled: true,
    };
    expect(typologyProblem(typologyWith(inactive), [])).toBeNull(); // it can be saved: the fields are known
    const { kpis, recipients } = prepare({ kind: 'all' }, typologyWith(inactive));
    expect(recipients).toEqual([2, 6]);
    expect(kpis.excludedByRule['No open in 30 days']).toBe(4);
  });

  it('a capacity order keeps the oldest last open first, and those who never opened last', () => {
    const oldestFirst: TypologyRule = {
      id: 'cap',
      name: 'At most 2',
      kind: 'capacity',
      maxMessages: 2,
      per: 'delivery',
      keepFirst: { by: 'field', field: 'last_open', direction: 'asc' },
      enabled: true,
    };
    const { recipients } = prepare({ kind: 'all' }, typologyWith(oldestFirst));
    expect(recipients.sort()).toEqual([3, 6]); // 40 and 10 days ago, before yesterday's and the never-opened
  });

  it('the why-trace shows the standing it tested', () => {
    const audience = onSpring('notOpened');
    const rules = new CompiledRules([], { deliveryId: 'again', sendAt: NOW, history: [], schema: [], now: NOW, engagement: index });
    const trace = explainProfile(audience, [], profiles[1], rules, undefined, NOW, index);
    expect(trace.inAudience).toBe(false);
    expect(trace.audience[0].value).toBe('opened it');
    expect(explainProfile(audience, [], profiles[3], rules, undefined, NOW, index).inAudience).toBe(true);
  });

  it('stamps the version of what reads engagement with it, so that a pull that changed who opened makes it stale', () => {
    expect(engagedVersion('7/abc', '"e1"', onSpring('opened'), DEFAULT_TYPOLOGY)).toBe('7/abc/engagement "e1"');
    expect(engagedVersion('7/abc', '"e2"', onSpring('opened'), DEFAULT_TYPOLOGY)).not.toBe(
      engagedVersion('7/abc', '"e1"', onSpring('opened')),
    );
    expect(engagedVersion('7/abc', '"e2"', { kind: 'all' }, DEFAULT_TYPOLOGY)).toBe('7/abc');
  });

  it('reads engagement only for what uses it', () => {
    expect(usesEngagement(onSpring('opened'))).toBe(true);
    expect(usesEngagement(DEFAULT_TYPOLOGY)).toBe(false);
    expect(usesEngagement({ kind: 'condition', field: 'city', operator: 'equals', value: 'Gent' })).toBe(false);
  });
});
