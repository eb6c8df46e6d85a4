import { describe, expect, it } from 'vitest';
import { Preparation } from './preparation';
import { makeProfile } from './test-profile';
import { DEFAULT_TYPOLOGY, typologyProblem, type HoldoutShare, type Typology, type TypologyRule } from './typology';
import type { AudienceFilter } from './audience-filter';
import type { Experiment } from './experiment';
import { settingsOf, whatIf } from './recipient-rules';
import { explainProfile } from './why';
import type { ContactHistoryEntry, Delivery, Profile } from './types';
import { fieldValue, profilesView, type ProfileBlockView } from './profile-fields';

const delivery: Delivery = {
  id: 'd1',
  version: 3,
  name: 'Autumn',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hi {{ first_name | default: "there" }}',
  html: '<div style="display: none">Autumn is here</div><p>Hi {{ first_name }}</p><a href="{{ unsubscribe_url }}">unsubscribe</a>',
  preheader: '',
  text: '',
  audience: { kind: 'condition', field: 'city', operator: 'equals', value: 'Gent' },
  scheduledAt: null,
  typologyId: 'default',
  createdAt: '',
  updatedAt: '',
};

const p = (email: string, city: string, extra: Partial<Profile> = {}): Profile =>
  makeProfile({ email, firstName: 'Eva', locale: 'nl', attributes: { city }, ...extra });

const clock = () => new Date('2026-11-28T10:00:00Z');

const schema = [
  { name: 'city', label: 'City', type: 'text' as const },
  { name: 'points', label: 'Points', type: 'number' as const },
];

/** The default typology with some rules changed or added. */
function typologyWith(change: (rules: TypologyRule[]) => void): Typology {
  const typology = structuredClone(DEFAULT_TYPOLOGY);
  change(typology.rules);
  return { ...typology, id: 'mine', name: 'Mine' };
}

function prepare(d: Delivery, chunks: Profile[][], typology = DEFAULT_TYPOLOGY, history: ContactHistoryEntry[] = [], columns = false) {
  const started = Preparation.start(d, { typology, schema, history, now: clock });
  if (!started.ok) return { result: started.result, recipients: [], exclusions: [] };
  const recipients = [];
  const exclusions = [];
  for (const chunk of chunks) {
    const out = columns ? started.preparation.addBlock(asBlock(chunk)) : started.preparation.addProfiles(chunk);
    recipients.push(...out.recipients);
    exclusions.push(...out.exclusions);
  }
  const { result, last } = started.preparation.finish();
  return { result, recipients: [...recipients, ...last.recipients], exclusions: [...exclusions, ...last.exclusions] };
}

/** Profiles as the replica's blocks hold them: empty text as null (no value), a missing attribute as null. */
function asBlock(profiles: Profile[]): ProfileBlockView {
  return {
    ...profilesView(profiles),
    column: (field) => profiles.map((p) => fieldValue(p, field) || null),
  };
}

const gent = (n: number, extra: (i: number) => Partial<Profile> = () => ({})) =>
  Array.from({ length: n }, (_, i) => p(`p${i}@example.com`, 'Gent', { id: 1000 + i, ...extra(i) }));

describe('Preparation', () => {
  it('computes Targeted = To deliver + Excluded, per cause, across chunks', () => {
    const { result, recipients, exclusions } = prepare(delivery, [
      [p('a@example.com', 'Gent'), p('b@example.com', 'Utrecht'), p('c@example.com', 'Gent', { status: 'unsubscribed' })],
      [p('bad', 'Gent'), p('A@example.com', 'gent', { firstName: '' }), p('d@example.com', 'Gent', { firstName: '' })],
    ]);
    expect(result.status).toBe('prepared');
    expect(result.kpis).toEqual({
      targeted: 5,
      toDeliver: 2,
      excluded: 3,
      excludedByCause: { unsubscribed: 1, 'invalid-address': 1, 'duplicate-address': 1 },
      excludedByRule: { Unsubscribed: 1, 'Invalid address': 1, 'Duplicate address': 1 },
    });
    expect(recipients.map((r) => [r.seq, r.email, r.subject])).toEqual([
      [1, 'a@example.com', 'Hi Eva'],
      [2, 'd@example.com', 'Hi there'],
    ]);
    expect(recipients[0].values).toEqual({ first_name: 'Eva' });
    expect(exclusions.map((e) => `${e.email}: ${e.rule}`)).toEqual([
      'c@example.com: Unsubscribed',
      'bad: Invalid address',
      'A@example.com: Duplicate address',
    ]);
  });

  it('ends the log with the number of errors and warnings', () => {
    const { result } = prepare({ ...delivery, html: '<div style="display: none">Sale</div><p>no unsubscribe link</p>' }, [
      [p('a@example.com', 'Gent')],
    ]);
    expect(result.status).toBe('prepared');
    expect(result.log.at(-1)?.message).toBe('Preparation finished: 0 errors, 1 warning.');
  });

  it('fails on a template error, naming the part, line and column', () => {
    const { result } = prepare({ ...delivery, html: '<p>\n  {{ first_name </p>' }, [[p('a@example.com', 'Gent')]]);
    expect(result.status).toBe('failed');
    expect(result.log.map((l) => l.message)).toContain(
      'Template error in the HTML body at line 2, column 3: "{{" is not closed with "}}".',
    );
    expect(result.log.at(-1)?.message).toBe('Preparation failed: 1 error, 0 warnings.');
  });

  it('fails when the target is empty', () => {
    const { result } = prepare(delivery, [[p('a@example.com', 'Utrecht')]]);
    expect(result.status).toBe('failed');
    expect(result.kpis.targeted).toBe(0);
    expect(result.log.some((l) => l.level === 'error' && l.message.startsWith('The target is empty'))).toBe(true);
  });

  it('fails when a control rule of severity error fails', () => {
    const { result } = prepare({ ...delivery, fromAddress: 'nobody' }, [[p('a@example.com', 'Gent')]]);
    expect(result.status).toBe('failed');
    expect(result.log.at(-1)?.message).toBe('Preparation failed: 1 error, 0 warnings.');
  });

  it('warns when a personalized message grows past the 102 KB clipping limit', () => {
    const long = p('long@example.com', 'Gent', { firstName: 'x'.repeat(110 * 1024) });
    const { result } = prepare(delivery, [[p('a@example.com', 'Gent'), long]]);
    expect(result.status).toBe('prepared');
    expect(result.log.map((l) => l.message)).toContain(
      'HTML size: the largest message is 111 KB once personalized; Gmail clips it above 102 KB.',
    );
  });

  it('puts every subject on one line', () => {
    const { recipients } = prepare(delivery, [[p('a@example.com', 'Gent', { firstName: 'Eve\r\nBcc: x@example.com' })]]);
    expect(recipients[0].subject).toBe('Hi Eve Bcc: x@example.com');
  });

  it('gives the same result reading blocks column by column as reading profiles', () => {
    const chunks = [
      [p('a@example.com', 'Gent'), p('b@example.com', 'Utrecht'), p('c@example.com', 'Gent', { status: 'unsubscribed' })],
      [p('bad', 'Gent'), p('A@example.com', 'gent'), p('d@example.com', 'Gent', { firstName: '' })],
    ];
    expect(prepare(delivery, chunks, DEFAULT_TYPOLOGY, [], true)).toEqual(prepare(delivery, chunks));
  });

  it('applies only the rules that are on: an unsubscribed profile receives it when that rule is off', () => {
    const off = typologyWith((rules) => (rules.find((r) => r.id === 'unsubscribed')!.enabled = false));
    const { result } = prepare(delivery, [[p('a@example.com', 'Gent', { status: 'unsubscribed' })]], off);
    expect(result.kpis).toMatchObject({ targeted: 1, toDeliver: 1, excluded: 0 });
    expect(result.log[0].message).toContain('with the typology "Mine"');
  });

  it('applies a control rule with the severity the typology gives it', () => {
    const strict = typologyWith((rules) => {
      const rule = rules.find((r) => r.id === 'unsubscribe-link')!;
      if (rule.kind === 'control') rule.severity = 'error';
    });
    const { result } = prepare({ ...delivery, html: '<p>no link</p>' }, [[p('a@example.com', 'Gent')]], strict);
    expect(result.status).toBe('failed');
    expect(result.log.map((l) => l.message)).toContain(
      'Unsubscribe link: The message has no unsubscribe link: add {{ unsubscribe_url }} to the body.',
    );
  });

  it("excludes with a marketer's condition, naming the rule", () => {
    const lowPoints = typologyWith((rules) =>
      rules.push({
        id: 'low',
        name: 'Fewer than 100 points',
        kind: 'filtering',
        check: 'condition',
        filter: { kind: 'condition', field: 'points', operator: 'lessThan', value: '100' },
        enabled: true,
      }),
    );
    const { result, exclusions } = prepare(delivery, [gent(4, (i) => ({ attributes: { city: 'Gent', points: i * 50 } }))], lowPoints);
    expect(exclusions.map((e) => [e.email, e.rule, e.cause])).toEqual([
      ['p0@example.com', 'Fewer than 100 points', 'condition'],
      ['p1@example.com', 'Fewer than 100 points', 'condition'],
    ]);
    expect(result.kpis.excludedByRule).toEqual({ 'Fewer than 100 points': 2 });
  });

  it.each<[string, string, number]>([
    ['sent within the window', '2026-11-25T10:00:00Z', 2],
    ['scheduled within the window', '2026-12-01T10:00:00Z', 2],
    ['sent before the window', '2026-11-10T10:00:00Z', 0],
  ])('pressure: counts messages %s', (_, at, excluded) => {
    const twice = typologyWith((rules) => {
      const rule = rules.find((r) => r.kind === 'pressure')!;
      if (rule.kind === 'pressure') rule.maxMessages = 2;
    });
    const profiles = gent(3);
    const history: ContactHistoryEntry[] = [
      { deliveryId: 'earlier', at, profileIds: [1000, 1001] },
      { deliveryId: 'other', at, profileIds: [1000, 1001, 1002 + 50] },
    ];
    const { result, exclusions } = prepare(delivery, [profiles], twice, history);
    expect(result.kpis.excludedByCause.pressure ?? 0).toBe(excluded);
    expect(exclusions.every((e) => e.cause === 'pressure' && e.rule === 'At most 5 messages in 7 days')).toBe(true);
  });

  it('pressure: does not count this delivery itself', () => {
    const { result } = prepare(delivery, [gent(2)], DEFAULT_TYPOLOGY, [
      ...Array.from({ length: 6 }, () => ({ deliveryId: delivery.id, at: '2026-11-28T09:00:00Z', profileIds: [1000] })),
    ]);
    expect(result.kpis.excluded).toBe(0);
  });

  it('capacity: keeps the highest values of the order field and excludes the overflow, numbering recipients in order', () => {
    const top3 = typologyWith((rules) =>
      rules.push({
        id: 'cap',
        name: 'Top 3 by points',
        kind: 'capacity',
        maxMessages: 3,
        per: 'delivery',
        keepFirst: { by: 'field', field: 'points', direction: 'desc' },
        enabled: true,
      }),
    );
    const points = [10, 50, 30, null, 50, 20];
    const { result, recipients, exclusions } = prepare(
      delivery,
      [
        gent(3, (i) => ({ attributes: { city: 'Gent', points: points[i] } })),
        gent(6, (i) => ({ attributes: { city: 'Gent', points: points[i] } })).slice(3),
      ],
      top3,
    );
    expect(recipients.map((r) => [r.seq, r.email])).toEqual([
      [1, 'p1@example.com'],
      [2, 'p2@example.com'],
      [3, 'p4@example.com'],
    ]);
    expect(exclusions.map((e) => e.email).sort()).toEqual(['p0@example.com', 'p3@example.com', 'p5@example.com']);
    expect(result.kpis).toMatchObject({
      targeted: 6,
      toDeliver: 3,
      excludedByCause: { capacity: 3 },
      excludedByRule: { 'Top 3 by points': 3 },
    });
  });

  it('capacity per day: counts what other deliveries send that day', () => {
    const perDay = typologyWith((rules) => {
      const rule = rules.find((r) => r.kind === 'capacity')!;
      if (rule.kind === 'capacity') Object.assign(rule, { enabled: true, maxMessages: 5 });
    });
    const history = [
      { deliveryId: 'morning', at: '2026-11-28T06:00:00Z', profileIds: [1, 2, 3] },
      { deliveryId: 'yesterday', at: '2026-11-27T06:00:00Z', profileIds: [4, 5, 6] },
    ];
    const { result } = prepare(delivery, [gent(4)], perDay, history);
    expect(result.kpis).toMatchObject({ targeted: 4, toDeliver: 2, excludedByCause: { capacity: 2 } });
  });

  it('capacity in random order is the same every time for the same delivery', () => {
    const random = typologyWith((rules) =>
      rules.push({
        id: 'cap',
        name: 'Ten',
        kind: 'capacity',
        maxMessages: 10,
        per: 'delivery',
        keepFirst: { by: 'random' },
        enabled: true,
      }),
    );
    const first = prepare(delivery, [gent(40)], random).recipients.map((r) => r.email);
    expect(first).toHaveLength(10);
    expect(prepare(delivery, [gent(40)], random).recipients.map((r) => r.email)).toEqual(first);
    expect(first).not.toEqual(gent(10).map((x) => x.email));
  });
});

describe('Control group', () => {
  const holdout = (share: HoldoutShare, among: AudienceFilter | null = null) =>
    typologyWith((rules) => rules.push({ id: 'hold', name: 'Control group', kind: 'holdout', share, among, enabled: true }));
  const of = (d: Delivery, typology: Typology, profiles: Profile[]) => prepare(d, [profiles.slice(0, 150), profiles.slice(150)], typology);

  it('holds out the percentage of those who would be mailed, with its own cause, drawn after every other rule', () => {
    // 200 in Gent, 20 of them unsubscribed: the control group is 10 % of the 180 left, not of the 200.
    const profiles = gent(200, (i) => (i % 10 === 0 ? { status: 'unsubscribed' } : {}));
    const { result, recipients, exclusions } = of(delivery, holdout({ percent: 10 }), profiles);
    expect(result.kpis).toMatchObject({
      targeted: 200,
      toDeliver: 162,
      excluded: 38,
      excludedByCause: { unsubscribed: 20, 'control-group': 18 },
      excludedByRule: { Unsubscribed: 20, 'Control group': 18 },
    });
    const held = exclusions.filter((e) => e.cause === 'control-group');
    expect(held).toHaveLength(18);
    expect(held.every((e) => e.rule === 'Control group')).toBe(true);
    // Nobody unsubscribed is in it, and nobody in it is mailed.
    const unsubscribed = new Set(profiles.filter((x) => x.status === 'unsubscribed').map((x) => x.id));
    expect(held.some((e) => unsubscribed.has(e.profileId))).toBe(false);
    const mailed = new Set(recipients.map((r) => r.profileId));
    expect(held.some((e) => mailed.has(e.profileId))).toBe(false);
    expect(recipients.map((r) => r.seq)).toEqual(Array.from({ length: 162 }, (_, i) => i + 1));
  });

  it('is drawn at random, the same people every time the same delivery is prepared, others for another delivery', () => {
    const profiles = gent(300);
    const drawn = (d: Delivery) =>
      of(d, holdout({ count: 30 }), profiles)
        .exclusions.map((e) => e.profileId)
        .sort((a, b) => a - b);
    const first = drawn(delivery);
    expect(first).toHaveLength(30);
    expect(drawn(delivery)).toEqual(first);
    const other = drawn({ ...delivery, id: 'd2' });
    expect(other).toHaveLength(30);
    expect(other).not.toEqual(first);
    // Not the first or the last of the audience: spread over it.
    expect(first.some((id) => id < 1150) && first.some((id) => id >= 1150)).toBe(true);
  });

  it('a count larger than those left holds out all of them; a condition draws only from those matching it', () => {
    expect(of(delivery, holdout({ count: 500 }), gent(40)).result).toMatchObject({ status: 'failed', kpis: { toDeliver: 0 } });
    const profiles = gent(100, (i) => ({ attributes: { city: 'Gent', points: i < 40 ? 100 : 1 } }));
    const loyal: AudienceFilter = { kind: 'condition', field: 'points', operator: 'greaterThan', value: '50' };
    const { exclusions, result } = of(delivery, holdout({ percent: 25 }, loyal), profiles);
    expect(result.kpis.excludedByCause).toEqual({ 'control-group': 10 });
    expect(exclusions.every((e) => e.profileId < 1040)).toBe(true);
  });

  it('the what-if switches it off or changes its share, and the why says who was drawn', () => {
    const typology = holdout({ percent: 10 });
    const profiles = gent(100);
    const started = Preparation.start(delivery, { typology, schema, now: clock });
    if (!started.ok) throw new Error('not started');
    started.preparation.addProfiles(profiles);
    const { last } = started.preparation.finish();
    const analysis = started.preparation.whatIfAnalysis();
    const rules = started.preparation.rules;
    const settings = settingsOf(rules.rules);
    expect(whatIf(rules, analysis, settings).excludedByRule).toEqual({ 'Control group': 10 });
    expect(whatIf(rules, analysis, { ...settings, limits: new Map([...settings.limits, ['hold', 25]]) }).toDeliver).toBe(75);
    const off = new Set([...settings.enabled].filter((id) => id !== 'hold'));
    expect(whatIf(rules, analysis, { ...settings, enabled: off }).toDeliver).toBe(100);

    const held = last.exclusions[0];
    const profile = profiles.find((x) => x.id === held.profileId)!;
    const trace = explainProfile(delivery.audience, schema, profile, rules, held, clock());
    expect(trace.excludedBy).toBe('Control group');
    expect(trace.rules.find((r) => r.name === 'Control group')).toMatchObject({
      cause: 'control-group',
      applies: true,
      detail: 'drawn at random into the control group (10 %)',
    });
    const kept = profiles.find((x) => !last.exclusions.some((e) => e.profileId === x.id))!;
    const keptTrace = explainProfile(delivery.audience, schema, kept, rules, undefined, clock());
    expect(keptTrace.outcome).toBe('Receives the message.');
    expect(keptTrace.rules.find((r) => r.name === 'Control group')?.detail).toBe('not drawn into the control group (10 %)');
  });

  it('a share that cannot be measured or would be most of the delivery is refused with what to do', () => {
    const problem = (share: HoldoutShare) => typologyProblem(holdout(share), schema);
    expect(problem({ percent: 60 })).toBe('"Control group": hold out between 0.1 % and 50 % of the recipients.');
    expect(problem({ percent: 0 })).toBe('"Control group": hold out between 0.1 % and 50 % of the recipients.');
    expect(problem({ count: 2.5 })).toBe('"Control group": the number of profiles to hold out must be a whole number of at least 1.');
    expect(problem({ percent: 5 })).toBeNull();
  });
});

describe('A/B test', () => {
  const ab = (experiment: Partial<Experiment> = {}): Delivery => ({
    ...delivery,
    experiment: {
      variants: [{ subject: 'B for {{ first_name }}' }],
      test: { percent: 20 },
      criterion: 'clicks',
      waitHours: 4,
      ...experiment,
    },
  });

  it('splits a test population of To deliver evenly between the variants, at random; the rest waits with no subject yet', () => {
    const profiles = gent(500, (i) => (i % 25 === 0 ? { status: 'unsubscribed' } : {}));
    const { result, recipients } = prepare(ab(), [profiles.slice(0, 200), profiles.slice(200)]);
    expect(result.status).toBe('prepared');
    // 480 to deliver (20 unsubscribed): the test population is 96, 48 each.
    expect(result.kpis).toMatchObject({
      targeted: 500,
      toDeliver: 480,
      excluded: 20,
      experiment: { test: 96, perVariant: [48, 48], remainder: 384 },
    });
    const a = recipients.filter((r) => r.variant === 0);
    const b = recipients.filter((r) => r.variant === 1);
    const rest = recipients.filter((r) => r.variant === undefined);
    expect([a.length, b.length, rest.length]).toEqual([48, 48, 384]);
    expect(a.every((r) => r.subject === 'Hi Eva')).toBe(true);
    expect(b.every((r) => r.subject === 'B for Eva')).toBe(true);
    expect(rest.every((r) => r.subject === '')).toBe(true);
    // In preparation order, numbered 1 to 480; the test population spread over it, not its first fifth.
    expect(recipients.map((r) => r.seq)).toEqual(Array.from({ length: 480 }, (_, i) => i + 1));
    expect(a.concat(b).some((r) => r.seq > 240)).toBe(true);
    expect(result.log.map((l) => l.message)).toContain(
      'A/B test: 96 in the test population (A 48, B 48); 384 wait for the winner, chosen by unique clicks 4 h after the start.',
    );
  });

  it("renders a variant's subject with a field variant A does not use", () => {
    const { recipients } = prepare(ab({ variants: [{ subject: 'B for {{ first_name }} in {{ city }}' }], test: { percent: 100 } }), [
      gent(4),
    ]);
    expect(recipients.filter((r) => r.variant === 1).map((r) => r.subject)).toEqual(['B for Eva in Gent', 'B for Eva in Gent']);
    expect(recipients.every((r) => r.values.city === 'Gent')).toBe(true);
  });

  it('draws the same split every time the same delivery is prepared, and another for another delivery', () => {
    const split = (d: Delivery) => prepare(d, [gent(300)]).recipients.map((r) => `${r.profileId}:${r.variant ?? '-'}`);
    const first = split(ab({ variants: [{ subject: 'B' }, { fromName: 'C' }], test: { count: 90 } }));
    expect(split(ab({ variants: [{ subject: 'B' }, { fromName: 'C' }], test: { count: 90 } }))).toEqual(first);
    expect(first.filter((s) => s.endsWith(':2'))).toHaveLength(30);
    expect(split({ ...ab({ variants: [{ subject: 'B' }, { fromName: 'C' }], test: { count: 90 } }), id: 'other' })).not.toEqual(first);
  });

  it('refuses a test that cannot run, saying what to change; a template error names its variant', () => {
    const failed = (d: Delivery, profiles = gent(10)) => {
      const { result } = prepare(d, [profiles]);
      expect(result.status).toBe('failed');
      return result.log
        .filter((l) => l.level === 'error')
        .map((l) => l.message)
        .slice(0, -1);
    };
    expect(failed(ab({ variants: [{}] }))).toEqual([
      'A/B test: Variant B changes nothing: give it its own subject, From name, preheader or content.',
    ]);
    expect(failed(ab({ waitHours: 0.5 }))).toEqual(['A/B test: The winner is chosen between 1 and 240 hours after the start.']);
    expect(failed(ab({ test: { count: 1 } }))).toEqual(['A/B test: The test population is a whole number of at least 2 recipients.']);
    expect(failed(ab({ test: { percent: 10 } }))).toEqual(['A/B test: a test population of 1 cannot try 2 variants; make it larger.']);
    expect(failed(ab({ variants: [{ subject: 'B {{ first_name' }] }))[0]).toMatch(/^Template error in variant B's subject at line 1/);
  });
});

describe('Seeds', () => {
  it('are the typology’s then the delivery’s, each once, in normal form; one not valid fails the preparation with what to do', () => {
    const typology = { ...DEFAULT_TYPOLOGY, id: 'seeded', seeds: ['Check@Seeds.example.com', ''] };
    const { result } = prepare({ ...delivery, seeds: ['check@seeds.example.com', 'two@seeds.example.com'] }, [gent(3)], typology);
    expect(result.status).toBe('prepared');
    expect(result.seeds).toEqual(['check@seeds.example.com', 'two@seeds.example.com']);
    expect(result.kpis).toMatchObject({ targeted: 3, toDeliver: 3 });
    expect(result.log.map((l) => l.message)).toContain(
      'Seeds: check@seeds.example.com, two@seeds.example.com receive a copy of the message, marked as seed and counted in no figure.',
    );
    const bad = prepare({ ...delivery, seeds: ['not an address'] }, [gent(3)]).result;
    expect(bad.status).toBe('failed');
    expect(bad.log.map((l) => l.message)).toContain('Seed address "not an address": not a valid email address; correct it or remove it.');
    expect(prepare(delivery, [gent(3)]).result.seeds).toBeUndefined();
  });
});

describe('Send times', () => {
  it('a local time gives each recipient the due time of their zone; waves that would outlast the validity fail', () => {
    const zones = ['Asia/Tokyo', 'America/New_York', ''];
    const scheduled = { ...delivery, scheduledAt: '2026-12-04T00:00:00Z', localTime: { at: '09:00', defaultTimeZone: 'Europe/Amsterdam' } };
    const { result, recipients } = prepare(scheduled, [gent(3, (i) => ({ timeZone: zones[i] }))]);
    expect(result.status).toBe('prepared');
    expect(recipients.map((r) => new Date(r.dueAt!).toISOString())).toEqual([
      '2026-12-04T00:00:00.000Z',
      '2026-12-04T14:00:00.000Z',
      '2026-12-04T08:00:00.000Z',
    ]);
    expect(result.log.map((l) => l.message)).toContain(
      "Local time: each message is due at its recipient's local time, from 2026-12-04 00:00 to 2026-12-04 14:00 UTC.",
    );
    expect(prepare(delivery, [gent(2)]).recipients.every((r) => r.dueAt === undefined)).toBe(true);

    const waves = (sizes: number[], everyHours: number) => prepare({ ...delivery, waves: { sizes, everyHours } }, [gent(10)]).result;
    expect(waves([3], 24).log.map((l) => l.message)).toContain('Waves: 10 messages in 4 waves, one every 24 h from the start.');
    const long = waves([2], 24);
    expect(long.status).toBe('failed');
    expect(long.log.map((l) => l.message)).toContain(
      'Waves: 5 waves every 24 h take 96 h from the start, more than the 72 h a message is tried for: make the waves larger or closer together.',
    );
    const both = prepare(
      {
        ...delivery,
        waves: { sizes: [5], everyHours: 1 },
        experiment: { variants: [{ subject: 'B' }], test: { percent: 50 }, criterion: 'opens', waitHours: 1 },
      },
      [gent(10)],
    ).result;
    expect(both.log.map((l) => l.message)).toContain(
      'Waves and an A/B test cannot be combined: the test population would be split across the waves. Keep one.',
    );
    const errors = (d: Delivery) =>
      prepare(d, [gent(4)])
        .result.log.filter((l) => l.level === 'error')
        .map((l) => l.message);
    const local = { at: '09:00', defaultTimeZone: 'UTC' };
    expect(errors({ ...delivery, localTime: local })).toContain(
      "A local send time counts from the delivery's Send at: set the date and time from which each recipient's local hour is taken.",
    );
    expect(errors({ ...scheduled, waves: { sizes: [2], everyHours: 1 } })).toContain(
      'A local send time and waves cannot be combined: keep one.',
    );
    expect(
      errors({ ...scheduled, experiment: { variants: [{ subject: 'B' }], test: { percent: 50 }, criterion: 'opens', waitHours: 1 } }),
    ).toContain(
      "A local send time and an A/B test cannot be combined: the winner would be chosen before the test population's local hours come. Keep one.",
    );
  });
});

describe('Pressure with a local send time', () => {
  it("counts the other deliveries around each recipient's own send time, not the delivery's", () => {
    // Another delivery went to both at 13:00 UTC on 12-06. The pressure rule allows 1 message in 2 days (this one included).
    const typology = typologyWith((rules) =>
      rules.push({ id: 'tight', name: 'One in 2 days', kind: 'pressure', maxMessages: 1, days: 2, enabled: true }),
    );
    const history = [{ deliveryId: 'other', at: '2026-12-06T13:00:00Z', profileIds: [1000, 1001] }];
    // Sent from 12-04 00:00 UTC at 09:00 local: Tokyo on 12-04 00:00 UTC (2 days and 13 h before: outside), New York on 12-04 14:00 UTC (1 day 23 h before: inside).
    const local = {
      ...delivery,
      scheduledAt: '2026-12-04T00:00:00Z',
      localTime: { at: '09:00', defaultTimeZone: 'UTC' },
    };
    const zones = ['Asia/Tokyo', 'America/New_York'];
    const { recipients, exclusions } = prepare(local, [gent(2, (i) => ({ timeZone: zones[i] }))], typology, history);
    expect(recipients.map((r) => r.profileId)).toEqual([1000]);
    expect(exclusions.map((e) => [e.profileId, e.cause])).toEqual([[1001, 'pressure']]);
    // Without the local time both are counted around the delivery's own send time (12-04 00:00, outside for both).
    expect(prepare({ ...local, localTime: null }, [gent(2, (i) => ({ timeZone: zones[i] }))], typology, history).recipients).toHaveLength(
      2,
    );
  });
});
