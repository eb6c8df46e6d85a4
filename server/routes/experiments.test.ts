/**
 * A/B tests on the server, through the hand-off, the engine (on a clock of the test's own)
 * and the routes: the test population is sent at once, each recipient their variant, the rest
 * waits; once the wait is over the winner is chosen by the criterion (or A when none is
 * clearly better) and the rest receives the winner alone; the operator may pick it earlier;
 * Stop cancels the rest. Clicks and opens come through the real tracking links.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { compareRates } from '../../shared/stats';
import type { Experiment } from '../../shared/experiment';
import type { Delivery } from '../../shared/types';
import type { OutgoingMessage } from '../sending/compose';
import type { SmtpOutcome } from '../sending/messenger';
import {
  createKit,
  eventually,
  handOver,
  newProfile,
  prepareOnServerAudience,
  PUBLIC_URL,
  recordingMessenger,
  SAMPLE_DELIVERY,
  type Kit,
} from '../test-kit';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const HOUR = 3_600_000;

let kit: Kit;
let sent: OutgoingMessage[];
let clock = Date.now();
/** What the relay answers (nothing: accepted). */
let answer: (message: OutgoingMessage) => SmtpOutcome | void;

/** A new kit with 400 profiles; `concurrency` messages in flight at most. */
async function startKit(concurrency = 8) {
  answer = () => {};
  const recorder = recordingMessenger((message) => answer(message));
  sent = recorder.sent;
  clock = Date.now();
  kit = await createKit({ messenger: recorder.messenger, engine: { concurrency, now: () => new Date(clock) } });
  kit.services.now = () => new Date(clock);
  await kit.services.audience.upsertMany(
    Array.from({ length: 400 }, () => newProfile()),
    'test',
    new Date(),
  );
}
beforeEach(() => startKit());
afterEach(() => kit.close());

const experiment = (change: Partial<Experiment> = {}): Experiment => ({
  variants: [{ subject: 'B: {{ first_name }}, our coats', fromName: 'Shop B' }],
  test: { percent: 50 },
  criterion: 'clicks',
  waitHours: 4,
  ...change,
});
const delivery = (e: Experiment): Omit<Delivery, 'id'> => ({ ...SAMPLE_DELIVERY, experiment: e });
const get = (path: string) => kit.app.request(path, { headers: { 'user-agent': CHROME } });
const firstLink = (m: OutgoingMessage) => /href="([^"]+)"/.exec(m.html)![1].slice(PUBLIC_URL.length);
const status = (id: string) => kit.services.deliveries.status(id);
const journalOf = (id: string) =>
  kit.sql<{ status: string; variant: number | null; n: number }>(
    'SELECT status, variant, COUNT(*) AS n FROM journal WHERE delivery_id = ? GROUP BY status, variant ORDER BY status, variant',
    [id],
  );

/** Hands the delivery over, sends it, and waits for the test population to be sent; returns its messages by variant. */
async function startTest(id: string, e: Experiment) {
  const handed = await handOver(kit, id, delivery(e));
  const response = await kit.request(`/api/deliveries/${id}/send`, { json: { contentHash: handed.contentHash, scheduledAt: null } });
  expect(response.status).toBe(200);
  const test = handed.kpis.experiment!;
  await eventually(() => sent.length === test.test);
  // Every outcome written: the test population's rows are sent, the rest held.
  await eventually(
    async () => (await kit.value(`SELECT COUNT(*) FROM journal WHERE delivery_id = ? AND status = 'sent'`, [id])) === test.test,
  );
  const bySubject = (prefix: string) => sent.filter((m) => m.subject.startsWith(prefix));
  return { handed, test, a: bySubject('Hello'), b: bySubject('B: ') };
}

async function experimentOf(id: string) {
  const response = await kit.request(`/api/deliveries/${id}/experiment`);
  expect(response.status).toBe(200);
  return response.json();
}

describe('an A/B test', () => {
  it('sends the test population at once, split evenly, and holds the rest; after the wait the clearer winner goes to the rest alone', async () => {
    const { test, a, b } = await startTest('ab', experiment());
    expect(test).toEqual({ test: 200, perVariant: [100, 100], remainder: 200 });
    expect([a.length, b.length]).toEqual([100, 100]);
    expect(b.every((m) => m.from.name === 'Shop B') && a.every((m) => m.from.name === 'Shop')).toBe(true);
    // The rest waits, still counted as remaining; the delivery is sending, not completed.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(sent).toHaveLength(200);
    expect(await status('ab')).toBe('sending');
    expect(await journalOf('ab')).toEqual([
      { status: 'held', variant: null, n: 200 },
      { status: 'sent', variant: 0, n: 100 },
      { status: 'sent', variant: 1, n: 100 },
    ]);
    expect((await (await kit.request('/api/deliveries/ab')).json()).remaining).toBe(200);

    // People click: 30 of B's, 12 of A's (ten minutes after delivery, one link each: people, not scanners).
    clock += 10 * 60_000;
    for (const m of b.slice(0, 30)) expect((await get(firstLink(m))).status).toBe(302);
    for (const m of a.slice(0, 12)) await get(firstLink(m));
    const live = await experimentOf('ab');
    expect(live.figures).toEqual([
      { variant: 0, delivered: 100, opened: 12, clicked: 12, unsubscribed: 0 },
      { variant: 1, delivered: 100, opened: 30, clicked: 30, unsubscribed: 0 },
    ]);
    // The confidence is the two-proportion test's: 30 of 100 against 12 of 100.
    const expected = compareRates({ count: 30, of: 100 }, { count: 12, of: 100 }).confidence;
    expect(expected).toBeGreaterThan(0.99);
    expect(live.standing).toMatchObject({ leader: 1, clear: true, against: [{ variant: 0, confidence: expected }] });
    expect(live.standing.statement).toBe(`B beats A with ${Math.floor(expected * 100)} % confidence (A 12 %, B 30 %).`);
    expect(live.winner).toBeNull();
    expect(Date.parse(live.decidesAt) - Date.parse((await kit.services.deliveries.get('ab'))!.startedAt!)).toBe(4 * HOUR);

    // Not before the wait is over.
    clock += 2 * HOUR;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(sent).toHaveLength(200);
    clock += 2 * HOUR;
    await eventually(async () => (await status('ab')) === 'completed', 10_000);
    const rest = sent.slice(200);
    expect(rest).toHaveLength(200);
    expect(rest.every((m) => m.subject.startsWith('B: ') && m.from.name === 'Shop B')).toBe(true);
    // Each of the rest was one of those held, personalized: "B: P123, our coats".
    expect(rest.every((m) => /^B: P\d+, our coats$/.test(m.subject))).toBe(true);
    const tested = new Set([...a, ...b].map((m) => m.to));
    expect(rest.some((m) => tested.has(m.to))).toBe(false);
    const done = await experimentOf('ab');
    expect(done.winner).toBe(1);
    expect(done.winnerReason).toBe(`B won by unique clicks: ${live.standing.statement}`);
    // The figures stay the test population's.
    expect(done.figures.map((f: { delivered: number }) => f.delivered)).toEqual([100, 100]);
  });

  it('sends the first variant to the rest when none is clearly better, and says so', async () => {
    const { a, b } = await startTest('even', experiment({ waitHours: 1 }));
    clock += 10 * 60_000;
    for (const m of b.slice(0, 11)) await get(firstLink(m));
    for (const m of a.slice(0, 10)) await get(firstLink(m));
    clock += HOUR;
    await eventually(async () => (await status('even')) === 'completed', 10_000);
    expect(sent.slice(200).every((m) => m.subject.startsWith('Hello'))).toBe(true);
    const done = await experimentOf('even');
    expect(done.winner).toBe(0);
    expect(done.winnerReason).toMatch(
      /^No variant was clearly better by unique clicks, so the first \(A\) is sent: B beats A with \d+ % confidence/,
    );
  });

  it('the operator may pick the winner before the wait is over, once; Stop during the wait cancels the rest', async () => {
    await startTest('pick', experiment({ waitHours: 240 }));
    const refused = await kit.request('/api/deliveries/pick/winner', { json: { variant: 4 } });
    expect(refused.status).toBe(422);
    const picked = await kit.request('/api/deliveries/pick/winner', { json: { variant: 1 } });
    expect(picked.status).toBe(200);
    expect((await picked.json()).reason).toMatch(/^B chosen by admin before the wait was over\. Too few yet to tell/);
    await eventually(async () => (await status('pick')) === 'completed', 10_000);
    expect(sent.slice(200).every((m) => m.subject.startsWith('B: '))).toBe(true);
    const again = await kit.request('/api/deliveries/pick/winner', { json: { variant: 0 } });
    expect(again.status).toBe(409);
    expect((await again.json()).message).toBe('The winner of "Autumn" is already chosen: B.');
    const audit = await (await kit.request('/api/audit?object=pick')).json();
    expect(JSON.stringify(audit)).toContain('"action":"winner-chosen"');

    sent.length = 0;
    await startTest('stopped', experiment({ waitHours: 240 }));
    expect((await kit.request('/api/deliveries/stopped/stop', { method: 'POST' })).status).toBe(200);
    expect(await journalOf('stopped')).toEqual([
      { status: 'cancelled', variant: null, n: 200 },
      { status: 'sent', variant: 0, n: 100 },
      { status: 'sent', variant: 1, n: 100 },
    ]);
    const late = await kit.request('/api/deliveries/stopped/winner', { json: { variant: 1 } });
    expect(late.status).toBe(409);
  });

  it('a batch whose test cannot run, or whose recipients name a variant the test lacks, is refused whole', async () => {
    const header = (e: Experiment | null) => ({
      version: 1,
      contentHash: 'abcdef0123456789',
      name: 'Autumn',
      fromName: 'Shop',
      fromAddress: 'news@shop.example.com',
      subject: 'Hi',
      html: '<p>Hi</p>',
      targeted: 1,
      toDeliver: 1,
      excluded: 0,
      excludedByCause: {},
      chunkCount: 1,
      exclusionChunkCount: 0,
      experiment: e,
    });
    const begin = await kit.request('/api/deliveries/bad/batch', { method: 'PUT', json: header(experiment({ waitHours: 500 })) });
    expect(begin.status).toBe(400);
    expect(JSON.stringify(await begin.json())).toContain('The winner is chosen between 1 and 240 hours after the start.');
    const [profile] = await kit.sql<{ id: number; email: string }>('SELECT id, email FROM profiles ORDER BY id LIMIT 1');
    const part = (variant: number | undefined) => ({
      contentHash: 'abcdef0123456789',
      recipients: [
        {
          seq: 1,
          profileId: Number(profile.id),
          email: profile.email,
          subject: 'Hi',
          values: {},
          ...(variant === undefined ? {} : { variant }),
        },
      ],
    });
    for (const [e, variant, refusal] of [
      [experiment(), 3, 'recipient 1 has variant D, but the A/B test has variants A to B.'],
      [null, 1, 'recipient 1 has variant B, but the delivery has no A/B test.'],
    ] as const) {
      expect((await kit.request('/api/deliveries/bad/batch', { method: 'PUT', json: header(e) })).status).toBe(200);
      const put = await kit.request('/api/deliveries/bad/batch/chunks/1', { method: 'PUT', json: part(variant) });
      expect(put.status).toBe(422);
      expect((await put.json()).message).toContain(refusal);
      expect(await kit.value("SELECT COUNT(*) FROM journal WHERE delivery_id = 'bad'")).toBe(0);
    }
  });
});

describe('content by language', () => {
  it("sends each recipient their locale's translation (or their language's), the others the delivery's own", async () => {
    await kit.services.audience.upsertMany(
      [
        ...Array.from({ length: 10 }, () => newProfile({ locale: 'de-AT' })),
        ...Array.from({ length: 10 }, () => newProfile({ locale: 'en-GB' })),
        ...Array.from({ length: 10 }, () => newProfile({ locale: '' })),
      ],
      'test',
      new Date(),
    );
    const translations = [
      {
        locale: 'nl',
        subject: 'Hallo {{ first_name }}',
        fromName: 'Winkel',
        html: '<p>Hoi {{ first_name }}</p><a href="{{ unsubscribe_url }}">Afmelden</a>',
      },
      { locale: 'de', subject: 'Guten Tag' },
    ];
    const handed = await handOver(kit, 'talen', { ...SAMPLE_DELIVERY, translations, seeds: ['seed@seeds.example.com'] });
    expect(handed.result.log.map((l) => l.message)).toContain(
      "Content by language: 400 in nl, 10 in de; 20 get the delivery's own content.",
    );
    await kit.request('/api/deliveries/talen/send', { json: { contentHash: handed.contentHash, scheduledAt: null } });
    await eventually(async () => (await status('talen')) === 'completed', 10_000);
    const people = sent.filter((m) => m.headers['X-Mailroom-Seed'] === undefined);
    expect(people).toHaveLength(430);
    const localeOf = new Map(
      (await kit.sql<{ email: string; locale: string }>('SELECT email, locale FROM profiles')).map((p) => [p.email, p.locale]),
    );
    for (const m of people) {
      const locale = localeOf.get(m.to);
      if (locale === 'nl') {
        expect(m.subject).toMatch(/^Hallo P\d+$/);
        expect(m.from.name).toBe('Winkel');
        expect(m.html).toContain('Hoi P');
      } else if (locale === 'de-AT') {
        expect(m.subject).toBe('Guten Tag');
        expect(m.html).toContain('Hi P'); // the German translation changes the subject only
      } else expect(m.subject).toMatch(/^Hello P\d+$/);
    }
    // A seed gets one copy of each: the default and both translations.
    expect(
      sent
        .filter((m) => m.headers['X-Mailroom-Seed'] === 'yes')
        .map((m) => m.subject)
        .sort(),
    ).toEqual(['Guten Tag', 'Hallo', 'Hello there']);
  });

  it('refuses translations with an A/B test, and a locale that is none', async () => {
    const both = { ...SAMPLE_DELIVERY, id: 'both', experiment: experiment(), translations: [{ locale: 'nl', subject: 'Hallo' }] };
    await expect(prepareOnServerAudience(kit, both)).rejects.toThrow('an A/B test and content by language cannot be combined');
    // The server refuses the two together too, whatever sent them.
    const header = {
      ...(await handOver(kit, 'plain', SAMPLE_DELIVERY)).header,
      experiment: experiment(),
      translations: [{ locale: 'nl', subject: 'Hallo' }],
    };
    const refused = await kit.request('/api/deliveries/both/batch', { method: 'PUT', json: header });
    expect(refused.status).toBe(400);
    expect((await refused.json()).message).toContain('cannot be combined');
    const bad = { ...SAMPLE_DELIVERY, id: 'bad', translations: [{ locale: 'Dutch!', subject: 'Hallo' }] };
    await expect(prepareOnServerAudience(kit, bad)).rejects.toThrow('\\"Dutch!\\" is not a locale');
  });
});

describe('seed addresses', () => {
  it('get a copy of every variant, marked as seed, in no figure; their links work and count nothing', async () => {
    const seeds = ['inbox-check@seeds.example.com', 'Second@Seeds.example.com'];
    const handed = await handOver(kit, 'seeded', { ...delivery(experiment({ waitHours: 240 })), seeds });
    expect(handed.header.seeds).toEqual(['inbox-check@seeds.example.com', 'second@seeds.example.com']);
    await kit.request('/api/deliveries/seeded/send', { json: { contentHash: handed.contentHash, scheduledAt: null } });
    await eventually(() => sent.length === 204);
    const copies = sent.filter((m) => m.headers['X-Mailroom-Seed'] === 'yes');
    expect(copies.map((m) => [m.to, m.subject.startsWith('B: ') ? 'B' : 'A']).sort()).toEqual([
      ['inbox-check@seeds.example.com', 'A'],
      ['inbox-check@seeds.example.com', 'B'],
      ['second@seeds.example.com', 'A'],
      ['second@seeds.example.com', 'B'],
    ]);
    // Rendered with no recipient's values (each field's default), each with a Message-ID of its own.
    expect([...new Set(copies.map((m) => m.subject))].sort()).toEqual(['B: , our coats', 'Hello there']);
    expect(copies.some((m) => /P\d+/.test(m.html))).toBe(false);
    expect(new Set(copies.map((m) => m.messageId)).size).toBe(4);
    expect(sent.filter((m) => m.headers['X-Mailroom-Seed'] === undefined)).toHaveLength(200);

    // A seed's click goes through and counts nothing; its unsubscribe link unsubscribes nobody.
    clock += 10 * 60_000;
    expect((await get(firstLink(copies[0]))).status).toBe(302);
    const unsubscribe = /<(https?:[^>]+)>/.exec(copies[0].headers['List-Unsubscribe'])![1].slice(PUBLIC_URL.length);
    const page = await kit.app.request(unsubscribe, {
      method: 'POST',
      body: 'List-Unsubscribe=One-Click',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('This is a seed copy of the message');
    expect(await kit.value("SELECT COUNT(*) FROM profiles WHERE status = 'unsubscribed'")).toBe(0);
    await eventually(
      async () => (await kit.value("SELECT COUNT(*) FROM journal WHERE delivery_id = 'seeded' AND status = 'sent'")) === 200,
    );
    const kpis = await (await kit.request('/api/deliveries/seeded')).json();
    expect(kpis).toMatchObject({ toDeliver: 400, delivered: 200, opens: 0, clicks: 0, unsubscribes: 0, remaining: 200 });
    expect((await experimentOf('seeded')).figures.map((f: { delivered: number }) => f.delivered)).toEqual([100, 100]);

    const report = await (await kit.request('/api/deliveries/seeded/report')).json();
    expect(report.seedCopies.map((c: { email: string; variant: number; status: string }) => [c.email, c.variant, c.status])).toEqual([
      ['inbox-check@seeds.example.com', 0, 'sent'],
      ['inbox-check@seeds.example.com', 1, 'sent'],
      ['second@seeds.example.com', 0, 'sent'],
      ['second@seeds.example.com', 1, 'sent'],
    ]);
    // Queued once: a restart, or another node, sends them no second copy.
    expect(await kit.services.journal.claimSeeds('seeded', [{ email: 'inbox-check@seeds.example.com', variant: 0 }], new Date())).toBe(
      false,
    );
    expect(await kit.services.journal.takeSeedCopies('seeded', new Date(clock))).toEqual([]);
  });

  it('are tried again when the relay refuses them for now or cannot be reached, and the delivery ends once they went', async () => {
    const seeds = ['greylisted@seeds.example.com', 'unreached@seeds.example.com'];
    const tried = new Map<string, number>();
    answer = (message) => {
      if (message.headers['X-Mailroom-Seed'] !== 'yes') return;
      const n = (tried.get(message.to) ?? 0) + 1;
      tried.set(message.to, n);
      if (n > 1) return;
      if (message.to.startsWith('greylisted')) return { kind: 'retry', reply: '451 4.7.1 Greylisted, try again later' };
      return { kind: 'unsent', relay: 'relay.example.com:25', reply: 'connect ECONNREFUSED' };
    };
    const handed = await handOver(kit, 'reseed', { ...SAMPLE_DELIVERY, seeds });
    await kit.request('/api/deliveries/reseed/send', { json: { contentHash: handed.contentHash, scheduledAt: null } });
    await eventually(
      async () => (await kit.value("SELECT COUNT(*) FROM journal WHERE delivery_id = 'reseed' AND status = 'sent'")) === 400,
    );
    const copies = async () =>
      (
        (await (await kit.request('/api/deliveries/reseed/report')).json()).seedCopies as { email: string; status: string; reply: string }[]
      ).map((c) => [c.email, c.status, c.reply]);
    expect(await copies()).toEqual([
      ['greylisted@seeds.example.com', 'retrying', '451 4.7.1 Greylisted, try again later'],
      ['unreached@seeds.example.com', 'retrying', 'connect ECONNREFUSED'],
    ]);
    // Every recipient's message went, but the copies are still to go: the delivery waits for them.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(await status('reseed')).toBe('sending');
    clock += 31_000; // the first retry is due after 30 s
    await eventually(async () => (await status('reseed')) === 'completed', 10_000);
    expect((await copies()).map(([email, state]) => [email, state])).toEqual([
      ['greylisted@seeds.example.com', 'sent'],
      ['unreached@seeds.example.com', 'sent'],
    ]);
    // Each try counts (a seed copy is tried a bounded number of times). Tried again, a copy keeps its Message-ID.
    expect(
      await kit
        .sql("SELECT email, attempts FROM seed_sends WHERE delivery_id = 'reseed' ORDER BY email")
        .then((rows) => rows.map((r) => [r.email, Number(r.attempts)])),
    ).toEqual([
      ['greylisted@seeds.example.com', 2],
      ['unreached@seeds.example.com', 2],
    ]);
    const greylisted = sent.filter((m) => m.to === seeds[0]);
    expect(greylisted).toHaveLength(2);
    expect(greylisted[0].messageId).toBe(greylisted[1].messageId);
    expect(sent.filter((m) => m.headers['X-Mailroom-Seed'] === undefined)).toHaveLength(400);
  });

  it('are given up after six tries when the relay never takes them, and the delivery completes', async () => {
    answer = (message) =>
      message.headers['X-Mailroom-Seed'] === 'yes'
        ? { kind: 'unsent', relay: 'relay.example.com:25', reply: 'connect ECONNREFUSED' }
        : undefined;
    const handed = await handOver(kit, 'gives-up', { ...SAMPLE_DELIVERY, seeds: ['never@seeds.example.com'] });
    await kit.request('/api/deliveries/gives-up/send', { json: { contentHash: handed.contentHash, scheduledAt: null } });
    const tries = async () => Number(await kit.value("SELECT attempts FROM seed_sends WHERE delivery_id = 'gives-up'"));
    for (let n = 1; n < 6; n++) {
      await eventually(async () => (await tries()) === n);
      expect(await status('gives-up')).toBe('sending');
      clock += HOUR; // past the next try, however long its wait
    }
    await eventually(async () => (await status('gives-up')) === 'completed', 10_000);
    const [copy] = await kit.sql<{ status: string; attempts: number; reply: string }>(
      "SELECT status, attempts, reply FROM seed_sends WHERE delivery_id = 'gives-up'",
    );
    expect({ ...copy, attempts: Number(copy.attempts) }).toEqual({
      status: 'failed',
      attempts: 6,
      reply: 'gave up after 6 tries; last reply: connect ECONNREFUSED',
    });
  });

  it('go in bounded rounds: with a slow relay, the copies a round has no time for wait for the next, and all go', async () => {
    await kit.close();
    const seeds = Array.from({ length: 5 }, (_, i) => `slow${i}@seeds.example.com`);
    const recorder = recordingMessenger(async (message) => {
      if (message.headers['X-Mailroom-Seed'] === 'yes') await new Promise((resolve) => setTimeout(resolve, 40));
    });
    sent = recorder.sent;
    kit = await createKit({ messenger: recorder.messenger, engine: { concurrency: 8, now: () => new Date(clock), seedRoundMs: 50 } });
    kit.services.now = () => new Date(clock);
    await kit.services.audience.upsertMany([newProfile()], 'test', new Date());
    const handed = await handOver(kit, 'slow', { ...SAMPLE_DELIVERY, seeds });
    await kit.request('/api/deliveries/slow/send', { json: { contentHash: handed.contentHash, scheduledAt: null } });
    // The first round sends two (40 ms each, past its 50 ms), the rest wait, untried, for the next.
    await eventually(
      async () => Number(await kit.value("SELECT COUNT(*) FROM seed_sends WHERE delivery_id = 'slow' AND reply LIKE 'not tried yet%'")) > 0,
    );
    await eventually(async () => (await status('slow')) === 'completed', 10_000);
    expect(await kit.value("SELECT COUNT(*) FROM seed_sends WHERE delivery_id = 'slow' AND status = 'sent' AND attempts = 1")).toBe(5);
    expect(new Set(sent.filter((m) => m.headers['X-Mailroom-Seed'] === 'yes').map((m) => m.to))).toEqual(new Set(seeds));
    expect(sent.filter((m) => m.headers['X-Mailroom-Seed'] === 'yes')).toHaveLength(5);
  });

  it('a copy left in flight by a node that died is taken again once its lease is over; Stop cancels those still to go', async () => {
    const { journal } = kit.services;
    await handOver(kit, 'leased', { ...SAMPLE_DELIVERY, seeds: ['one@seeds.example.com'] });
    const copy = [{ email: 'one@seeds.example.com', variant: 0 }];
    expect(await journal.claimSeeds('leased', copy, new Date(clock))).toBe(true);
    expect(await journal.takeSeedCopies('leased', new Date(clock))).toEqual([{ ...copy[0], attempts: 0 }]);
    expect(await journal.takeSeedCopies('leased', new Date(clock + 60_000))).toEqual([]);
    expect(await journal.takeSeedCopies('leased', new Date(clock + 11 * 60_000))).toEqual([{ ...copy[0], attempts: 0 }]);
    await journal.recordSeed('leased', {
      ...copy[0],
      status: 'retrying',
      reply: '451 later',
      at: new Date(clock).toISOString(),
      counted: true,
      nextAttemptAt: clock + 30_000,
    });
    expect(await journal.seedsPending('leased')).toEqual({ count: 1, nextAt: clock + 30_000 });
    // Scheduled far ahead (so the engine leaves it alone), then stopped.
    const later = { scheduledAt: new Date(clock + 86_400_000).toISOString() };
    expect((await kit.services.deliveries.transition('leased', 'scheduled', new Date(clock), later)).ok).toBe(true);
    expect((await kit.services.deliveries.transition('leased', 'stopped', new Date(clock))).ok).toBe(true);
    expect(await journal.seedsPending('leased')).toEqual({ count: 0, nextAt: null });
    expect(await kit.value("SELECT status FROM seed_sends WHERE delivery_id = 'leased'")).toBe('cancelled');
  });
});

describe('send times', () => {
  it("releases each recipient at their local hour, through the engine's clock", async () => {
    await kit.services.audience.upsertMany(
      [
        ...Array.from({ length: 10 }, () => newProfile({ timeZone: 'Asia/Tokyo' })),
        ...Array.from({ length: 10 }, () => newProfile({ timeZone: 'America/New_York' })),
      ],
      'test',
      new Date(),
    );
    const sendAt = new Date(clock).toISOString();
    const handed = await handOver(kit, 'local', {
      ...SAMPLE_DELIVERY,
      scheduledAt: sendAt,
      localTime: { at: '09:00', defaultTimeZone: 'Europe/Amsterdam' },
    });
    const dues = await kit.sql<{ due: number; n: number }>(
      "SELECT due_at AS due, COUNT(*) AS n FROM journal WHERE delivery_id = 'local' GROUP BY due_at ORDER BY due_at",
    );
    // Three zones, three due times within the next day, each zone's recipients together.
    expect(dues.map((d) => Number(d.n)).sort((x, y) => x - y)).toEqual([10, 10, 400]);
    const [first, second, third] = dues.map((d) => Number(d.due));
    expect(first).toBeGreaterThanOrEqual(clock - 60_000);
    expect(third - clock).toBeLessThan(86_400_000);
    // Scheduled for now (within the grace of a time just past): it starts at once, each row waiting for its hour.
    expect(
      (await kit.request('/api/deliveries/local/send', { json: { contentHash: handed.contentHash, scheduledAt: sendAt } })).status,
    ).toBe(200);
    const sentCount = () => kit.value("SELECT COUNT(*) FROM journal WHERE delivery_id = 'local' AND status = 'sent'");
    clock = first - 1_000;
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(await sentCount()).toBe(0);
    expect(await status('local')).toBe('sending');
    clock = first;
    await eventually(async () => (await sentCount()) === Number(dues[0].n));
    clock = second + 1;
    await eventually(async () => (await sentCount()) === Number(dues[0].n) + Number(dues[1].n));
    expect((await (await kit.request('/api/deliveries/local')).json()).remaining).toBe(Number(dues[2].n));
    clock = third;
    await eventually(async () => (await status('local')) === 'completed', 10_000);
    // Each went at its due time or after, never before: the engine's clock (which stamps updated_at) said when.
    const rows = await kit.sql<{ status: string; due: number; at: string }>(
      "SELECT status, due_at AS due, updated_at AS at FROM journal WHERE delivery_id = 'local'",
    );
    expect(rows.every((r) => r.status === 'sent')).toBe(true);
    expect(rows.filter((r) => Date.parse(r.at) < Number(r.due))).toEqual([]);
  });

  it('sends the rows due first first, whatever their order in the batch (the engine started after several zones were due)', async () => {
    // One message at a time: the order sent is the order claimed (with several in flight, each finishes when it does).
    await kit.close();
    await startKit(1);
    // 09:00 in Tokyo is 00:00 UTC, in Amsterdam 08:00 UTC: Tokyo's recipients, last in the batch, are due first.
    const midnight = Math.ceil((Date.now() + HOUR) / 86_400_000) * 86_400_000; // UTC
    clock = midnight - HOUR / 2;
    const tokyo = Array.from({ length: 10 }, () => newProfile({ timeZone: 'Asia/Tokyo' }));
    await kit.services.audience.upsertMany(tokyo, 'test', new Date());
    const sendAt = new Date(clock).toISOString();
    const handed = await handOver(kit, 'late', {
      ...SAMPLE_DELIVERY,
      scheduledAt: sendAt,
      localTime: { at: '09:00', defaultTimeZone: 'Europe/Amsterdam' },
    });
    const [{ last }] = await kit.sql<{ last: number }>(
      "SELECT MAX(seq) AS last FROM journal WHERE delivery_id = 'late' AND due_at = (SELECT MIN(due_at) FROM journal WHERE delivery_id = 'late')",
    );
    expect(Number(last)).toBe(410);
    clock = midnight + 12 * HOUR; // both due by the time the engine starts
    expect((await kit.request('/api/deliveries/late/send', { json: { contentHash: handed.contentHash, scheduledAt: null } })).status).toBe(
      200,
    );
    await eventually(async () => (await status('late')) === 'completed', 10_000);
    // The first ten sent; in the batch's order they would be the last.
    expect(new Set(sent.slice(0, 10).map((m) => m.to))).toEqual(new Set(tokyo.map((p) => p.email)));
  });

  it('sends in waves of the sizes given, one wave a period from the start', async () => {
    const handed = await handOver(kit, 'waves', { ...SAMPLE_DELIVERY, waves: { sizes: [100, 150], everyHours: 1 } });
    expect((await kit.request('/api/deliveries/waves/send', { json: { contentHash: handed.contentHash, scheduledAt: null } })).status).toBe(
      200,
    );
    await eventually(() => sent.length === 100);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(sent).toHaveLength(100);
    clock += HOUR;
    await eventually(() => sent.length === 250);
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(sent).toHaveLength(250);
    clock += HOUR;
    await eventually(async () => (await status('waves')) === 'completed', 10_000);
    expect(sent).toHaveLength(400);
    // In order: the first wave holds the first hundred recipients.
    const seqs = await kit.sql<{ seq: number; due: number }>(
      "SELECT seq, due_at AS due FROM journal WHERE delivery_id = 'waves' ORDER BY seq",
    );
    const start = Number(seqs[0].due);
    expect(seqs.filter((r) => Number(r.due) === start).map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
    expect(new Set(seqs.map((r) => Number(r.due) - start))).toEqual(new Set([0, HOUR, 2 * HOUR]));
  });
});

describe('a local sending window', () => {
  it('holds messages that missed their window (a pause) for the same time the next day, never another hour', async () => {
    const sendAt = new Date(clock).toISOString();
    const handed = await handOver(kit, 'window', {
      ...SAMPLE_DELIVERY,
      scheduledAt: sendAt,
      localTime: { at: '09:00', defaultTimeZone: 'Europe/Amsterdam', windowHours: 2 },
    });
    expect(handed.header.sendWindowMs).toBe(2 * HOUR);
    const [{ due }] = await kit.sql<{ due: number }>("SELECT MIN(due_at) AS due FROM journal WHERE delivery_id = 'window'");
    const first = Number(due);
    expect(first).toBeGreaterThan(clock);
    expect(
      (await kit.request('/api/deliveries/window/send', { json: { contentHash: handed.contentHash, scheduledAt: sendAt } })).status,
    ).toBe(200);
    // Paused before the local time, resumed three hours after it: the window is missed.
    expect((await kit.request('/api/deliveries/window/pause', { method: 'POST' })).status).toBe(200);
    clock = first + 3 * HOUR;
    expect((await kit.request('/api/deliveries/window/resume', { method: 'POST' })).status).toBe(200);
    await eventually(
      async () =>
        Number(await kit.value("SELECT MIN(due_at) FROM journal WHERE delivery_id = 'window' AND status = 'queued'")) === first + 24 * HOUR,
    );
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(sent).toHaveLength(0);
    // The next day at the same time (and within its window), they go.
    clock = first + 24 * HOUR + 60_000;
    await eventually(async () => (await status('window')) === 'completed', 10_000);
    expect(sent).toHaveLength(400);
  });
});
