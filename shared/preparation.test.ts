import { describe, expect, it } from 'vitest';
import { Preparation } from './preparation';
import { makeProfile } from './test-profile';
import { DEFAULT_TYPOLOGY, type Typology, type TypologyRule } from './typology';
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
