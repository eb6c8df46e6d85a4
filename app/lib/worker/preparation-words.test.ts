/**
 * The preparation's words as the app says them: in English, exactly the shared English words
 * (which the server writes and the tests read); in Dutch, Dutch lines with Dutch figures,
 * from the preparation itself and from the worker's API.
 */

import 'fake-indexeddb/auto';
import { afterEach, describe, expect, it } from 'vitest';
import { CRITERION_LABELS } from '$shared/experiment';
import { PART_NAMES } from '$shared/message';
import { Preparation } from '$shared/preparation';
import { ENGLISH_WORDS, type PreparationWords } from '$shared/preparation-words';
import { makeProfile } from '$shared/test-profile';
import { DEFAULT_TYPOLOGY } from '$shared/typology';
import type { Delivery } from '$shared/types';
import { MailroomDb } from '../db/db';
import { createDelivery } from '../db/deliveries';
import { applyChangePage } from '../db/replica';
import { createPreparationApi } from './preparation-api';
import { preparationWords } from './preparation-words';

const many = ['https://a.example/1.png', 'https://a.example/2.png', `https://a.example/${'x'.repeat(80)}.png`, 'b.png', 'c.png'];

/** Every kind of line, with arguments that take each of its turns (plurals, lists, options). */
const SAMPLES: { [K in keyof PreparationWords]: Parameters<PreparationWords[K]>[] } = {
  started: [[{ delivery: 'Autumn', version: 3, typology: 'Default' }]],
  abTestProblem: [[{ problem: 'too few' }]],
  languagesProblem: [[{ problem: 'no locale' }]],
  abTestWithLanguages: [[]],
  templateError: [
    [{ of: null, part: 'html', line: 5, column: 12, message: '"{{" is not closed with "}}"' }],
    [{ of: { variant: 'B' }, part: 'subject', line: 1, column: 3, message: 'oops' }],
    [{ of: { translation: 'nl' }, part: 'text', line: 2, column: 1, message: 'oops' }],
    [{ of: null, part: 'preheader', line: 1, column: 1, message: 'oops' }],
  ],
  control: [
    [{ of: null, rule: 'Subject present', message: 'The subject is empty.' }],
    [{ of: { variant: 'A' }, rule: 'Preheader', message: 'none' }],
    [{ of: { translation: 'de' }, rule: 'Preheader', message: 'none' }],
  ],
  wavesWithAbTest: [[]],
  localTimeWithAbTest: [[]],
  localTimeWithWaves: [[]],
  localTimeWithoutSendAt: [[]],
  seeds: [[{ seeds: ['a@example.com', 'b@example.com'], variants: 3 }], [{ seeds: ['a@example.com'], variants: null }]],
  figures: [[{ targeted: 12_345, toDeliver: 12_000, excluded: 345 }]],
  languages: [
    [
      {
        counts: [
          { locale: 'nl', count: 1200 },
          { locale: 'de', count: 3 },
        ],
        own: 1,
      },
    ],
  ],
  excludedByRule: [[{ rule: 'Unsubscribed', count: 1001 }]],
  localTime: [
    [{ first: '2030-01-15 07:30', latest: '2030-01-15 16:30', windowHours: null }],
    [{ first: 'a', latest: 'b', windowHours: 0.5 }],
  ],
  wavesTooLong: [[{ count: 12, everyHours: 12, hours: 132, validityHours: 72 }]],
  waves: [[{ messages: 2345, count: 2, everyHours: 12 }], [{ messages: 10, count: 1, everyHours: 0.25 }]],
  abTestTooSmall: [[{ test: 1, variants: 2 }]],
  abTest: [
    [
      {
        test: 1000,
        perVariant: [
          { name: 'A', count: 500 },
          { name: 'B', count: 500 },
        ],
        remainder: 4000,
        criterion: 'unsubscribes',
        waitHours: 4,
      },
    ],
  ],
  targetEmpty: [[]],
  allExcluded: [[]],
  htmlClipped: [[{ kilobytes: 120 }]],
  personalized: [[{ kilobytes: 1 }]],
  finished: [[{ failed: false, errors: 0, warnings: 1 }], [{ failed: true, errors: 1, warnings: 2 }]],
  variantCount: [[{ max: 5 }]],
  variantUnchanged: [[{ name: 'C' }]],
  testPercent: [[]],
  testCount: [[]],
  criterionMissing: [[]],
  winnerWait: [[{ min: 1, max: 240 }]],
  translationsMax: [[{ max: 10 }]],
  notALocale: [[{ locale: 'dutch' }]],
  localeTwice: [[{ locale: 'nl' }]],
  translationUnchanged: [[{ locale: 'fr-BE' }]],
  notATime: [[{ at: '9am' }]],
  notATimeZone: [[{ zone: 'Amsterdam' }]],
  sendingWindow: [[]],
  waveSizes: [[{ max: 30 }]],
  waveInterval: [[]],
  seedAddress: [
    [{ typed: 'bad', problem: 'not a valid email address' }],
    [{ typed: 'jörg@x.de', problem: 'needs a relay that offers SMTPUTF8' }],
  ],
  seedsMax: [[{ count: 21, max: 20 }]],
  subjectEmpty: [[]],
  subjectLong: [[]],
  fromUnusable: [[{ address: 'news', problem: 'not a valid email address' }]],
  unknownField: [[{ field: 'shoe_size' }]],
  noUnsubscribeLink: [[]],
  linkNotAbsolute: [[{ link: 'www.example.com' }]],
  textPartEmpty: [[]],
  htmlLarge: [[]],
  imagesWithoutAlt: [[{ images: ['a.png'] }], [{ images: many }]],
  linksWithoutText: [[{ links: ['https://x.example'] }], [{ links: many.slice(0, 3) }]],
  noPreheader: [[]],
  darkText: [[{ colours: ['#000', '#111'] }]],
  totalSize: [
    [{ totalBytes: 2_500_000, htmlBytes: 20_000, imageBytes: 2_480_000, images: 1, uncounted: 0 }],
    [{ totalBytes: 1_500_000, htmlBytes: 500_000, imageBytes: 1_000_000, images: 3, uncounted: 1 }],
    [{ totalBytes: 1_500_000, htmlBytes: 500_000, imageBytes: 1_000_000, images: 3, uncounted: 2 }],
  ],
  publicUrlInvalid: [[{ url: 'nope' }]],
  publicUrlLocal: [[{ origin: 'http://localhost:3000' }]],
  publicUrlHttp: [[{ origin: 'http://mail.example.com' }]],
};

const say = (words: PreparationWords, key: keyof PreparationWords, args: unknown[]) => (words[key] as (...a: unknown[]) => string)(...args);

const delivery: Delivery = {
  id: 'd1',
  version: 3,
  name: 'Herfst',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hallo {{ first_name }}',
  html: '<p>Hallo {{ first_name }}</p><a href="{{ unsubscribe_url }}">afmelden</a>',
  preheader: '',
  text: '',
  audience: { kind: 'all' },
  scheduledAt: null,
  typologyId: 'default',
  createdAt: '',
  updatedAt: '',
};

/** The log of preparing `d` for `count` subscribed profiles (every tenth unsubscribed), in `words`. */
function logOf(d: Delivery, count: number, words?: PreparationWords): string[] {
  const started = Preparation.start(d, { typology: DEFAULT_TYPOLOGY, now: () => new Date('2026-11-28T10:00:00Z'), words });
  if (!started.ok) return started.result.log.map((l) => l.message);
  started.preparation.addProfiles(
    Array.from({ length: count }, (_, i) =>
      makeProfile({ id: i + 1, email: `p${i}@example.com`, status: i % 10 === 0 ? 'unsubscribed' : 'subscribed' }),
    ),
  );
  return started.preparation.finish().result.log.map((l) => l.message);
}

describe('the preparation words', () => {
  it('in English are the shared English words, every line of them', () => {
    const english = preparationWords('en');
    for (const [key, samples] of Object.entries(SAMPLES) as [keyof PreparationWords, unknown[][]][]) {
      for (const args of samples) expect(say(english, key, args), key).toBe(say(ENGLISH_WORDS, key, args));
    }
    // The labels the English words spell out again, as shared/ has them.
    for (const [criterion, label] of Object.entries(CRITERION_LABELS))
      expect(ENGLISH_WORDS.abTest({ test: 1, perVariant: [], remainder: 0, criterion: criterion as never, waitHours: 1 })).toContain(
        ` by ${label} `,
      );
    for (const [part, name] of Object.entries(PART_NAMES))
      expect(ENGLISH_WORDS.templateError({ of: null, part: part as never, line: 1, column: 1, message: '' })).toContain(` the ${name} `);
  });

  it('in Dutch say every line in other words', () => {
    const dutch = preparationWords('nl');
    for (const [key, samples] of Object.entries(SAMPLES) as [keyof PreparationWords, unknown[][]][]) {
      // Lines made only of names and what they were given read the same in both languages.
      if (key === 'control') continue;
      for (const args of samples) expect(say(dutch, key, args), key).not.toBe(say(ENGLISH_WORDS, key, args));
    }
  });

  it('give a Dutch log, with Dutch figures, to a preparation that is given them', () => {
    const english = logOf(delivery, 1200);
    expect(english[0]).toBe('Preparation of "Herfst" (version 3) started with the typology "Default".');
    expect(english).toContain('Targeted 1200, to deliver 1080, excluded 120.');
    expect(english.at(-1)).toBe('Preparation finished: 0 errors, 1 warning.');

    const dutch = logOf(delivery, 1200, preparationWords('nl'));
    expect(dutch[0]).toBe('Voorbereiding van "Herfst" (versie 3) gestart met de typologie "Default".');
    expect(dutch).toContain('Gericht 1.200, om te leveren 1.080, uitgesloten 120.');
    expect(dutch).toContain('Uitgesloten door de regel "Afgemeld": 120.');
    expect(dutch.at(-1)).toBe('Voorbereiding voltooid: 0 fouten, 1 waarschuwing.');
    // The control rules' findings too: the rule's name is the typology's, the finding Dutch.
    expect(dutch).toContain(
      'Preheader: Het bericht heeft geen preheader: inboxen tonen dan het begin van de tekst na het onderwerp. Schrijf er een in het veld Preheader (of zet een verborgen element vooraan in de inhoud).',
    );
  });

  it('say a failed preparation in Dutch, from the checks it runs to the last line', () => {
    const log = logOf(
      { ...delivery, subject: '', localTime: { at: '9am', defaultTimeZone: 'Europe/Amsterdam' } },
      10,
      preparationWords('nl'),
    );
    expect(log).toContain('Onderwerp aanwezig: Het onderwerp is leeg: schrijf een onderwerpregel.');
    expect(log).toContain('"9am" is geen tijdstip: geef het als UU:MM, in 24-uursnotatie (09:30).');
    expect(log.at(-1)).toMatch(/^Voorbereiding mislukt: 3 fouten, \d+ waarschuwing(en)?\.$/);
  });
});

describe('the preparation worker in Dutch', () => {
  let db: MailroomDb | undefined;
  afterEach(() => db?.close());

  it('writes the log, and says its outcomes, in the locale it is asked for', async () => {
    db = new MailroomDb(`words-test-${Math.random()}`);
    // The new delivery's sample content greets by city.
    const schema = [{ name: 'city', label: 'City', type: 'text' as const }];
    const profiles = Array.from({ length: 1500 }, (_, i) =>
      makeProfile({ id: i + 1, email: `p${i + 1}@example.com`, attributes: { city: 'Gent' } }),
    );
    await applyChangePage(
      db,
      { profiles, deleted: [], cursor: 1500, total: 1500, hasMore: false },
      schema,
      '2026-11-28T00:00:00Z',
      'blocks',
    );
    const id = await createDelivery(db);
    const api = createPreparationApi(db);

    expect(await api.prepare(id, () => {}, 'nl')).toMatchObject({ ok: true, status: 'prepared' });
    const log = (await db.preparations.get(id))!.log.map((l) => l.message);
    expect(log).toContain('Gericht 1.500, om te leveren 1.500, uitgesloten 0.');
    expect(log.at(-1)).toMatch(/^Voorbereiding voltooid: 0 fouten, /);

    expect(await api.prepare('gone', () => {}, 'nl')).toEqual({
      ok: false,
      code: 'not-found',
      message: 'Deze levering bestaat niet meer.',
    });
    expect(await api.prepare('gone', () => {})).toEqual({ ok: false, code: 'not-found', message: 'This delivery no longer exists.' });
  });
});
