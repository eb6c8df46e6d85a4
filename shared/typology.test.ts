import { describe, expect, it } from 'vitest';
import { compileMessage } from './message';
import { Preparation } from './preparation';
import { checkMessage, DEFAULT_TYPOLOGY, missingControlRules, typologyProblem, type Typology } from './typology';
import { makeProfile } from './test-profile';
import type { DeliveryContent, Profile } from './types';

/** A hidden preheader, as the Preheader rule asks of every message. */
const PREHEADER = '<div style="display: none; max-height: 0; overflow: hidden">Autumn is here</div>';

const base: DeliveryContent = {
  name: 'n',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hello',
  html: `${PREHEADER}<p>Hi {{ first_name }} <a href="https://shop.example.com">shop</a> <a href="{{ unsubscribe_url }}">unsubscribe</a></p>`,
  preheader: '',
  text: '',
  audience: { kind: 'all' },
  scheduledAt: null,
  typologyId: 'default',
};

function findings(change: Partial<DeliveryContent>) {
  const content = { ...base, ...change };
  const compiled = compileMessage(content);
  if (!compiled.ok) throw new Error('compile');
  return checkMessage(content, compiled.message, [{ name: 'city', label: 'City', type: 'text' }]).map((f) => `${f.level}: ${f.rule}`);
}

describe('the control rule "Links reachable"', () => {
  const content = { ...base };
  const compiled = compileMessage(content);
  if (!compiled.ok) throw new Error('compile');
  const check = (publicUrl?: string) =>
    checkMessage(content, compiled.message, [], DEFAULT_TYPOLOGY.rules, { publicUrl }).map((f) => `${f.level}: ${f.message}`);

  it.each([
    ['http://localhost:8080', /^warning: Unsubscribe and tracking links point at http:\/\/localhost:8080, which recipients cannot reach/],
    ['http://127.0.0.1:3000', /cannot reach/],
    ['https://mailroom.local', /cannot reach/],
    ['http://mail.example.com', /^warning: Unsubscribe and tracking links use plain http \(http:\/\/mail\.example\.com\)/],
  ])('warns when links point at %s', (url, message) => {
    const found = check(url);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('is quiet for a public https address, and when the address is not known yet', () => {
    expect(check('https://mail.example.com')).toEqual([]);
    expect(check(undefined)).toEqual([]);
  });

  it('warns in the preparation log', () => {
    const started = Preparation.start(
      { ...base, id: 'd', version: 1, createdAt: '', updatedAt: '' },
      { typology: DEFAULT_TYPOLOGY, publicUrl: 'http://localhost:8080' },
    );
    if (started.ok) started.preparation.addProfiles([makeProfile({ id: 1, email: 'a@example.com' })]);
    const result = started.ok ? started.preparation.finish().result : started.result;
    expect(result.log.map((l) => `${l.level}: ${l.message}`)).toContainEqual(
      expect.stringMatching(/^warning: .*Links reachable|^warning: Unsubscribe and tracking links point at http:\/\/localhost:8080/),
    );
    expect(result.log.at(-1)?.message).toBe('Preparation finished: 0 errors, 1 warning.');
  });
});

describe('control rules', () => {
  it.each<[string, Partial<DeliveryContent>, string[]]>([
    ['a good message', {}, []],
    ['empty subject', { subject: ' ' }, ['error: Subject present']],
    ['long subject', { subject: 'x'.repeat(201) }, ['warning: Subject length']],
    ['bad From', { fromAddress: 'news@' }, ['error: From valid']],
    ['a From only an SMTPUTF8 relay takes', { fromAddress: 'jörg@shop.example.com' }, ['error: From valid']],
    ['a From at an international domain name', { fromAddress: 'news@bücher.example' }, []],
    [
      'an image with alt text is something to read',
      { html: '<img src="https://x.example/b.png" alt="Autumn sale"><a href="{{ unsubscribe_url }}" title="Unsubscribe"></a>' },
      ['warning: Preheader'],
    ],
    ['unknown field', { subject: 'Hi {{ shoe_size }}' }, ['error: Personalization fields']],
    ['a field of the schema', { subject: 'Hi {{ city }}' }, []],
    ['no unsubscribe link', { html: `${PREHEADER}<p>Hi</p>` }, ['warning: Unsubscribe link']],
    ['relative link', { html: base.html + '<a href="/sale">sale</a>' }, ['warning: Links well-formed']],
    [
      'nothing to read in the text part',
      { html: '<img src="https://x.example/banner.png"><a href="{{ unsubscribe_url }}"></a>' },
      ['warning: Text part', 'warning: Images described', 'warning: Links readable', 'warning: Preheader'],
    ],
    ['too large for Gmail', { html: base.html + 'x'.repeat(103 * 1024) }, ['warning: HTML size']],
    ['an image without alt', { html: base.html + '<img src="https://x.example/logo.png">' }, ['warning: Images described']],
    ['a decorative image (alt="")', { html: base.html + '<img src="https://x.example/line.png" alt="">' }, []],
    ['a link with nothing in it', { html: base.html + '<a href="https://shop.example.com/sale"> </a>' }, ['warning: Links readable']],
    [
      'a link whose image has no alt',
      { html: base.html + '<a href="https://shop.example.com/sale"><img src="https://x.example/b.png" alt=""></a>' },
      ['warning: Links readable'],
    ],
    [
      'a link of an image with alt, or with aria-label',
      {
        html:
          base.html +
          '<a href="https://s.example/"><img src="https://x.example/b.png" alt="Sale"></a><a href="https://s.example/" aria-label="Sale"></a>',
      },
      [],
    ],
    ['no preheader', { html: base.html.replace(PREHEADER, '') }, ['warning: Preheader']],
    ['hidden text after visible text is no preheader', { html: base.html.replace(PREHEADER, '') + PREHEADER }, ['warning: Preheader']],
    ['a preheader of Liquid', { html: base.html.replace('Autumn is here', '{{ first_name }}, your offer') }, []],
    ['dark text, no background', { html: base.html + '<p style="color: #333">Small print</p>' }, ['warning: Dark mode']],
    [
      'dark text on a background of its own',
      { html: base.html + '<table bgcolor="#ffffff"><tr><td style="color:#333">Hi</td></tr></table>' },
      [],
    ],
    ['light text is not judged, nor Liquid', { html: base.html + '<p style="color: #ffffff">a</p><p style="color: {{ city }}">b</p>' }, []],
  ])('%s', (_, change, expected) => {
    expect(findings(change)).toEqual(expected);
  });
});

describe('the control rule "Total size with images"', () => {
  const ours = (n: number) => `https://mail.example.com/a/${String(n).padStart(64, '0')}.png`;
  const check = (html: string, imageSizes: Record<string, number>) => {
    const content = { ...base, html: base.html + html };
    const compiled = compileMessage(content);
    if (!compiled.ok) throw new Error('compile');
    return checkMessage(content, compiled.message, [], DEFAULT_TYPOLOGY.rules, { imageSizes }).map((f) => `${f.level}: ${f.message}`);
  };

  it('weighs the HTML with the uploaded images it references, each once, and warns past 1 MB', () => {
    const images = `<img src="${ours(1)}" alt="a"><img src="${ours(2)}" alt="b"><img src="${ours(1)}" alt="a again">`;
    // 600 KB + 500 KB: over; the first image counted once.
    const found = check(images, { [ours(1)]: 600 * 1024, [ours(2)]: 500 * 1024, [ours(3)]: 900 * 1024 });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/^warning: The message weighs 1\.0\d MB with its images \(the HTML 0\.00 MB, 2 images 1\.07 MB\)/);
    // The same images, smaller: no warning; an image not referenced weighs nothing.
    expect(check(images, { [ours(1)]: 300 * 1024, [ours(2)]: 300 * 1024, [ours(3)]: 900 * 1024 })).toEqual([]);
  });

  it('names the images from elsewhere, whose size it cannot know', () => {
    const found = check(`<img src="${ours(1)}" alt="a"><img src="https://cdn.example/b.png" alt="b">`, { [ours(1)]: 2 * 1024 * 1024 });
    expect(found[0]).toMatch(/1 image 2\.00 MB; 1 image from elsewhere is not counted\)/);
    expect(check(`<img src="https://cdn.example/b.png" alt="b">`, {})).toEqual([]);
  });
});

const profile = (id: number, email: string, change: Partial<Profile> = {}) => makeProfile({ id, email, ...change });

/** Returns each profile's verdict in a preparation of them all: its exclusion cause, or "kept". */
function verdicts(profiles: Profile[]): string[] {
  const started = Preparation.start({ ...base, id: 'd', version: 1, createdAt: '', updatedAt: '' }, { typology: DEFAULT_TYPOLOGY });
  if (!started.ok) throw new Error('start');
  const { exclusions } = started.preparation.addProfiles(profiles);
  return profiles.map((p) => exclusions.find((e) => e.profileId === p.id)?.cause ?? 'kept');
}

describe('filtering rules, as a preparation applies them', () => {
  it('excludes unsubscribed, denylisted, quarantined, invalid and duplicate addresses, keeping the first of a mailbox', () => {
    const result = verdicts([
      profile(1, 'a@example.com'),
      profile(2, 'b@example.com', { status: 'unsubscribed' }),
      profile(3, 'not-an-address'),
      profile(4, ' A@Example.com'),
      profile(5, 'a+news@example.com'),
      profile(6, 'anna.j@gmail.com'),
      profile(7, 'annaj@googlemail.com'),
      profile(8, 'd@example.com', { denylisted: true }),
      profile(9, 'e@example.com', { quarantined: true }),
      profile(10, 'c@example.com'),
    ]);
    expect(result).toEqual([
      'kept',
      'unsubscribed',
      'invalid-address',
      'duplicate-address',
      'duplicate-address',
      'kept',
      'duplicate-address',
      'denylisted',
      'quarantined',
      'kept',
    ]);
  });

  it('does not count an unsubscribed profile as the holder of its address', () => {
    expect(verdicts([profile(1, 'a@example.com', { status: 'unsubscribed' }), profile(2, 'a@example.com')])).toEqual([
      'unsubscribed',
      'kept',
    ]);
  });
});

describe('control rules as the typology sets them', () => {
  const content = { ...base, subject: ' ' };
  const compiled = compileMessage(content);
  if (!compiled.ok) throw new Error('compile');
  const withRule = (change: Partial<(typeof DEFAULT_TYPOLOGY.rules)[number]>) =>
    DEFAULT_TYPOLOGY.rules.map((r) => (r.id === 'subject' ? ({ ...r, ...change } as typeof r) : r));

  it('skips a rule that is off', () => {
    expect(checkMessage(content, compiled.message, [], withRule({ enabled: false }))).toEqual([]);
  });

  it('reports with the severity and name the typology gives', () => {
    expect(checkMessage(content, compiled.message, [], withRule({ severity: 'warning', name: 'Needs a subject' } as never))).toEqual([
      { rule: 'Needs a subject', level: 'warning', message: 'The subject is empty: write a subject line.' },
    ]);
  });
});

describe('typologyProblem', () => {
  const schema = [
    { name: 'points', label: 'Points', type: 'number' as const },
    { name: 'city', label: 'City', type: 'text' as const },
  ];
  const edited = (change: (t: Typology) => void) => {
    const t = structuredClone(DEFAULT_TYPOLOGY);
    change(t);
    return typologyProblem(t, schema);
  };

  it.each<[string, (t: Typology) => void, string | null]>([
    ['the default typology', () => {}, null],
    ['no name', (t) => (t.name = ' '), 'Give the typology a name.'],
    ['two rules of one name', (t) => (t.rules[10].name = 'Unsubscribed'), 'Two rules are called "Unsubscribed": give each its own name.'],
    [
      'a pressure rule of 0 days',
      (t) => t.rules.push({ id: 'p', name: 'P', kind: 'pressure', maxMessages: 3, days: 0, enabled: true }),
      '"P": the number of messages and of days must be whole numbers of at least 1.',
    ],
    [
      'a capacity ordered by a text field',
      (t) =>
        t.rules.push({
          id: 'c',
          name: 'C',
          kind: 'capacity',
          maxMessages: 3,
          per: 'delivery',
          keepFirst: { by: 'field', field: 'city', direction: 'desc' },
          enabled: true,
        }),
      '"C": choose a number, date or yes/no field to order by.',
    ],
    [
      'a condition on an unknown field',
      (t) =>
        t.rules.push({
          id: 'x',
          name: 'X',
          kind: 'filtering',
          check: 'condition',
          filter: { kind: 'condition', field: 'shoe_size', operator: 'equals', value: '4' },
          enabled: true,
        }),
      '"X": the field "shoe_size" does not exist in the audience.',
    ],
    [
      'a condition without a value',
      (t) =>
        t.rules.push({
          id: 'x',
          name: 'X',
          kind: 'filtering',
          check: 'condition',
          filter: { kind: 'condition', field: 'points', operator: 'greaterThan', value: '' },
          enabled: true,
        }),
      '"X": Give a value for points.',
    ],
  ])('%s', (_, change, problem) => {
    expect(edited(change)).toBe(problem);
  });
});

describe('the control rules a copied typology lacks', () => {
  it('are the default control rules it has no rule of the same check for, as copies', () => {
    const old = { rules: DEFAULT_TYPOLOGY.rules.filter((r) => !(r.kind === 'control' && ['preheader', 'dark-mode'].includes(r.check))) };
    const missing = missingControlRules(old);
    expect(missing.map((r) => r.check)).toEqual(['preheader', 'dark-mode']);
    missing[0].enabled = false;
    expect(DEFAULT_TYPOLOGY.rules.find((r) => r.id === 'preheader')?.enabled).toBe(true);
    expect(missingControlRules(DEFAULT_TYPOLOGY)).toEqual([]);
  });
});
