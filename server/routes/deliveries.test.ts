import { connect, createServer, type AddressInfo } from 'node:net';
import { domainToASCII } from 'node:url';
import { simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NEEDS_SMTPUTF8, NOT_AN_ADDRESS } from '../../shared/email-address';
import { Preparation } from '../../shared/preparation';
import { DEFAULT_TYPOLOGY, type Typology } from '../../shared/typology';
import type { Delivery, Exclusion, PreparedRecipient } from '../../shared/types';
import { createPooledMessenger } from '../sending/smtp-pool';
import {
  batchHeader,
  createKit,
  eventually,
  handOver,
  newProfile,
  prepareOnServerAudience,
  PUBLIC_URL,
  SAMPLE_DELIVERY,
  type Kit,
} from '../test-kit';

let kit: Kit;
beforeEach(async () => {
  kit = await createKit();
  await kit.services.audience.upsertMany(
    [...Array.from({ length: 248 }, () => newProfile()), newProfile({ status: 'unsubscribed' }), newProfile({ email: 'broken-address' })],
    'test',
    new Date(),
  );
});
afterEach(() => kit.close());

const journalCount = () => kit.value('SELECT COUNT(*) FROM journal');

describe('handing over a prepared batch', () => {
  it('stores chunks idempotently and turns them into one journal row per recipient on commit', async () => {
    const { contentHash, chunks } = await handOver(kit, 'd1', SAMPLE_DELIVERY);
    // A retried chunk and a retried commit change nothing.
    const again = await kit.request('/api/deliveries/d1/batch/chunks/1', { method: 'PUT', json: { contentHash, recipients: chunks[0] } });
    expect(again.status).toBe(200);
    const commit = await kit.request('/api/deliveries/d1/batch/commit', { json: { contentHash } });
    expect(await commit.json()).toEqual({ recipients: 248 });
    expect(await journalCount()).toBe(248);
    const kpis = await (await kit.request('/api/deliveries/d1')).json();
    expect(kpis).toMatchObject({ status: 'prepared', targeted: 250, toDeliver: 248, delivered: 0, remaining: 248 });
  });

  it('says what is missing when a commit comes before every chunk', async () => {
    const { recipients, kpis } = await prepareOnServerAudience(kit, { ...SAMPLE_DELIVERY, id: 'd2' });
    await kit.request('/api/deliveries/d2/batch', { method: 'PUT', json: batchHeader(SAMPLE_DELIVERY, kpis, 'aaaaaaaa', 2) });
    await kit.request('/api/deliveries/d2/batch/chunks/1', {
      method: 'PUT',
      json: { contentHash: 'aaaaaaaa', recipients: recipients.slice(0, 100) },
    });
    const commit = await kit.request('/api/deliveries/d2/batch/commit', { json: { contentHash: 'aaaaaaaa' } });
    expect(commit.status).toBe(422);
    expect(await commit.json()).toEqual({ error: 'batch-incomplete', message: 'The server has 1 of 2 chunks; the upload will resume.' });
    // The upload resumes with the missing chunk and then commits.
    await kit.request('/api/deliveries/d2/batch/chunks/2', {
      method: 'PUT',
      json: { contentHash: 'aaaaaaaa', recipients: recipients.slice(100) },
    });
    expect((await kit.request('/api/deliveries/d2/batch/commit', { json: { contentHash: 'aaaaaaaa' } })).status).toBe(200);
  });

  it('refuses a batch whose recipients do not match its KPIs and keeps nothing of it', async () => {
    const { recipients, kpis } = await prepareOnServerAudience(kit, { ...SAMPLE_DELIVERY, id: 'd3' });
    const body = batchHeader(SAMPLE_DELIVERY, kpis, 'bbbbbbbb', 1);
    await kit.request('/api/deliveries/d3/batch', { method: 'PUT', json: body });
    await kit.request('/api/deliveries/d3/batch/chunks/1', {
      method: 'PUT',
      json: { contentHash: 'bbbbbbbb', recipients: recipients.slice(5) },
    });
    const commit = await kit.request('/api/deliveries/d3/batch/commit', { json: { contentHash: 'bbbbbbbb' } });
    expect(commit.status).toBe(422);
    expect((await commit.json()).message).toBe(
      'The batch was refused and nothing of it was kept: it holds 243 recipients but the preparation counted 248 to deliver. Prepare the delivery again.',
    );
    expect(await journalCount()).toBe(0);
    expect(await kit.value('SELECT COUNT(*) FROM batch_parts')).toBe(0);
    expect((await kit.request('/api/deliveries/d3')).status).toBe(404);
  });

  it.each([
    ['a chunk that is not a list', { contentHash: 'cccccccc', recipients: 'all of them' }, /recipients/],
    [
      'a recipient without an address',
      { contentHash: 'cccccccc', recipients: [{ seq: 1, profileId: 1, subject: 'x', values: {} }] },
      /recipients\.0\.email/,
    ],
    ['a bad content hash', { contentHash: 'not hex!', recipients: [] }, /contentHash/],
  ])('answers 400 to %s, saying what is wrong', async (_, json, message) => {
    const response = await kit.request('/api/deliveries/d4/batch/chunks/1', { method: 'PUT', json });
    expect(response.status).toBe(400);
    const body = await response.json();
    expect(body.error).toBe('invalid-request');
    expect(body.message).toMatch(message);
  });

  it('refuses chunks of an older preparation', async () => {
    const { chunks } = await handOver(kit, 'd5', SAMPLE_DELIVERY);
    const stale = await kit.request('/api/deliveries/d5/batch/chunks/1', {
      method: 'PUT',
      json: { contentHash: '99999999', recipients: chunks[0] },
    });
    expect(stale.status).toBe(409);
    expect((await stale.json()).error).toBe('stale-batch');
  });
});

describe('commands', () => {
  it('sends, and refuses to resume a stopped delivery', async () => {
    const { contentHash } = await handOver(kit, 'd6', SAMPLE_DELIVERY);
    const sent = await kit.request('/api/deliveries/d6/send', { json: { contentHash, scheduledAt: null } });
    expect(sent.status).toBe(200);
    await eventually(async () => (await (await kit.request('/api/deliveries/d6')).json()).status === 'completed');
    expect((await kit.request('/api/deliveries/d6/stop', { method: 'POST' })).status).toBe(409);
  });

  it('schedules a delivery for later, and stop makes it final', async () => {
    const { contentHash } = await handOver(kit, 'd7', SAMPLE_DELIVERY);
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const scheduled = await (await kit.request('/api/deliveries/d7/send', { json: { contentHash, scheduledAt: later } })).json();
    expect(scheduled).toMatchObject({ status: 'scheduled', remaining: 248 });
    const stopped = await (await kit.request('/api/deliveries/d7/stop', { method: 'POST' })).json();
    expect(stopped).toMatchObject({ status: 'stopped', cancelled: 248, remaining: 0 });
    const resume = await kit.request('/api/deliveries/d7/resume', { method: 'POST' });
    expect(resume.status).toBe(409);
    expect(await resume.json()).toEqual({
      error: 'invalid-transition',
      message: '"Autumn" was stopped; a stopped delivery cannot be resumed or sent again.',
    });
    const replace = await kit.request('/api/deliveries/d7/batch', {
      method: 'PUT',
      json: batchHeader(
        SAMPLE_DELIVERY,
        { targeted: 1, toDeliver: 1, excluded: 0, excludedByCause: {}, excludedByRule: {} },
        'dddddddd',
        1,
      ),
    });
    expect(replace.status).toBe(409);
    expect((await replace.json()).error).toBe('delivery-already-sent');
  });

  it('answers 404 for a delivery the server does not have', async () => {
    const response = await kit.request('/api/deliveries/nope/pause', { method: 'POST' });
    expect(response.status).toBe(404);
    expect((await response.json()).error).toBe('delivery-not-found');
  });

  it('refuses Send with the content hash of another preparation', async () => {
    await handOver(kit, 'd8', SAMPLE_DELIVERY);
    const response = await kit.request('/api/deliveries/d8/send', { json: { contentHash: '12345678', scheduledAt: null } });
    expect(response.status).toBe(409);
    expect((await response.json()).error).toBe('stale-batch');
  });
});

describe('scheduling', () => {
  const sentCount = () => kit.value('SELECT COUNT(*) FROM journal WHERE status = ?', ['sent']);
  const status = async (id: string) => (await (await kit.request(`/api/deliveries/${id}`)).json()).status as string;

  it('refuses a Send scheduled in the past with a sentence, and sends nothing', async () => {
    const { contentHash } = await handOver(kit, 's1', SAMPLE_DELIVERY);
    const past = new Date(Date.now() - 3_600_000).toISOString();
    const response = await kit.request('/api/deliveries/s1/send', { json: { contentHash, scheduledAt: past } });
    expect(response.status).toBe(422);
    expect(await response.json()).toEqual({
      error: 'schedule-passed',
      message: `The scheduled time (${past.slice(0, 16).replace('T', ' ')} UTC) has passed, so the delivery was not sent. Set a later Send at, prepare again and schedule it, or clear Send at to send it now.`,
    });
    // The engine looks for work and finds none: the delivery waits, prepared.
    await kit.services.engine.scan();
    expect(await status('s1')).toBe('prepared');
    expect(await sentCount()).toBe(0);
    // The same batch can still be sent now.
    expect((await kit.request('/api/deliveries/s1/send', { json: { contentHash, scheduledAt: null } })).status).toBe(200);
    await eventually(async () => (await status('s1')) === 'completed');
    expect(await sentCount()).toBe(248);
  });

  it('starts at once a Send whose time passed moments ago (the hand-over took that long)', async () => {
    const { contentHash } = await handOver(kit, 's2', SAMPLE_DELIVERY);
    const justNow = new Date(Date.now() - 10_000).toISOString();
    const sent = await kit.request('/api/deliveries/s2/send', { json: { contentHash, scheduledAt: justNow } });
    expect(sent.status).toBe(200);
    expect(['sending', 'completed']).toContain((await sent.json()).status);
  });

  it('unschedules: back to prepared with its journal rows queued, out of the contact history, and sendable again', async () => {
    const later = new Date(Date.now() + 3_600_000).toISOString();
    const { contentHash } = await handOver(kit, 's3', { ...SAMPLE_DELIVERY, scheduledAt: later });
    await kit.request('/api/deliveries/s3/send', { json: { contentHash, scheduledAt: later } });
    expect(await status('s3')).toBe('scheduled');
    const unscheduled = await kit.request('/api/deliveries/s3/unschedule', { method: 'POST' });
    expect(unscheduled.status).toBe(200);
    expect(await unscheduled.json()).toMatchObject({ status: 'prepared', remaining: 248, cancelled: 0, delivered: 0 });
    expect(await kit.services.deliveries.get('s3')).toMatchObject({ status: 'prepared', scheduledAt: null });
    expect(await kit.value('SELECT COUNT(*) FROM journal WHERE delivery_id = ? AND status = ?', ['s3', 'queued'])).toBe(248);
    const history = (await (await kit.request('/api/audience/contact-history?days=30')).json()) as { entries: { deliveryId: string }[] };
    expect(history.entries.map((e) => e.deliveryId)).not.toContain('s3');
    // Unscheduling twice says why not.
    const again = await kit.request('/api/deliveries/s3/unschedule', { method: 'POST' });
    expect(again.status).toBe(409);
    expect(await again.json()).toEqual({
      error: 'invalid-transition',
      message: '"Autumn" is prepared, not scheduled: only a scheduled delivery can be unscheduled.',
    });
    // Sent now, it goes to everyone once.
    expect((await kit.request('/api/deliveries/s3/send', { json: { contentHash, scheduledAt: null } })).status).toBe(200);
    await eventually(async () => (await status('s3')) === 'completed');
    expect(await sentCount()).toBe(248);
  });

  it('refuses to unschedule a delivery that is sending, and one it does not have', async () => {
    const { contentHash } = await handOver(kit, 's4', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/s4/send', { json: { contentHash, scheduledAt: null } });
    const response = await kit.request('/api/deliveries/s4/unschedule', { method: 'POST' });
    expect(response.status).toBe(409);
    expect((await response.json()).message).toMatch(/^"Autumn" (is sending, not scheduled|has already been sent)/);
    expect((await kit.request('/api/deliveries/nope/unschedule', { method: 'POST' })).status).toBe(404);
  });
});

describe('live figures over Server-Sent Events', () => {
  it('streams the KPIs when the delivery changes', async () => {
    const { contentHash } = await handOver(kit, 'd9', SAMPLE_DELIVERY);
    const response = await kit.request('/api/deliveries/d9/events');
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const events: { status: string; delivered: number }[] = [];
    const read = (async () => {
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        for (const match of buffer.matchAll(/^data: (.*)$/gm)) events.push(JSON.parse(match[1]));
        buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
        if (events.at(-1)?.status === 'completed') return;
      }
    })();
    await kit.request('/api/deliveries/d9/send', { json: { contentHash, scheduledAt: null } });
    await read;
    await reader.cancel();
    expect(events[0]).toMatchObject({ status: 'prepared', delivered: 0 });
    expect(events.at(-1)).toMatchObject({ status: 'completed', delivered: 248 });
    // Coalesced: far fewer updates than messages.
    expect(events.length).toBeLessThan(20);
    // A client reconnecting (as EventSource does by itself) gets the figures as they are now, at once.
    const again = await kit.request('/api/deliveries/d9/events');
    const reconnected = again.body!.pipeThrough(new TextDecoderStream()).getReader();
    const first = await reconnected.read();
    await reconnected.cancel();
    expect(JSON.parse(/^data: (.*)$/m.exec(first.value!)![1])).toMatchObject({ status: 'completed', delivered: 248 });
  });
});

describe('the list of deliveries over Server-Sent Events', () => {
  it('sends every delivery first, then the ones that change, in order and coalesced', async () => {
    const first = await handOver(kit, 'l1', SAMPLE_DELIVERY);
    await handOver(kit, 'l2', SAMPLE_DELIVERY);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the hand-overs' own updates are out
    const response = await kit.request('/api/deliveries/events');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    const events: { seq: number; deliveries: { id: string; kpis: { status: string; delivered: number } }[] }[] = [];
    const read = (async () => {
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return;
        buffer += value;
        const complete = buffer.lastIndexOf('\n\n');
        for (const match of buffer.slice(0, complete).matchAll(/^data: (.*)\nid: (\d+)$/gm))
          events.push({ seq: Number(match[2]), deliveries: JSON.parse(match[1]) });
        buffer = buffer.slice(complete + 2);
        if (events.at(-1)?.deliveries.some((d) => d.kpis.status === 'completed')) return;
      }
    })();
    await kit.request('/api/deliveries/l1/send', { json: { contentHash: first.contentHash, scheduledAt: null } });
    await read;
    await reader.cancel();
    expect(events[0].deliveries.map((d) => d.id).sort()).toEqual(['l1', 'l2']);
    // Only the delivery that changed comes again; ids rise; far fewer updates than messages.
    expect(events.slice(1).every((e) => e.deliveries.every((d) => d.id === 'l1'))).toBe(true);
    expect(events.map((e) => e.seq)).toEqual(events.map((_, i) => i + 1));
    expect(events.at(-1)!.deliveries[0].kpis).toMatchObject({ status: 'completed', delivered: 248 });
    expect(events.length).toBeLessThan(20);
  });

  it('sends the whole list first even when a delivery changes while the list is being read', async () => {
    const first = await handOver(kit, 'r1', SAMPLE_DELIVERY);
    await handOver(kit, 'r2', SAMPLE_DELIVERY);
    await new Promise((resolve) => setTimeout(resolve, 100)); // the hand-overs' own updates are out
    // The list is read slowly (a busy database): r1 changes meanwhile, and its update is heard first.
    const { figures } = kit.services;
    const readAll = figures.all.bind(figures);
    let changed!: () => void;
    const heard = new Promise<void>((resolve) => (changed = resolve));
    const stopWatching = figures.watchList(() => changed());
    figures.all = async () => {
      const list = await readAll();
      await heard;
      return list;
    };
    const response = await kit.request('/api/deliveries/events');
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    await kit.request('/api/deliveries/r1/send', { json: { contentHash: first.contentHash, scheduledAt: null } });
    let text = '';
    while (!/id: 2\n/.test(text)) text += (await reader.read()).value;
    await reader.cancel();
    stopWatching();
    const events = [...text.matchAll(/^data: (.*)\nid: (\d+)$/gm)].map((m) => ({
      id: Number(m[2]),
      ids: JSON.parse(m[1]).map((d: { id: string }) => d.id),
    }));
    expect(events[0]).toEqual({ id: 1, ids: expect.arrayContaining(['r1', 'r2']) });
    expect(events[1]).toEqual({ id: 2, ids: ['r1'] });
  });
});

describe('contact history (what pressure and capacity rules count)', () => {
  type History = { entries: { deliveryId: string; at: string; profileIds: number[] }[] };
  const history = async () => ((await (await kit.request('/api/audience/contact-history?days=30')).json()) as History).entries;

  it('lists the recipients of sent deliveries and of those scheduled, and drops a stopped one', async () => {
    const sent = await handOver(kit, 'h1', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/h1/send', { json: { contentHash: sent.contentHash, scheduledAt: null } });
    await eventually(async () => (await (await kit.request('/api/deliveries/h1')).json()).status === 'completed');
    const later = new Date(Date.now() + 2 * 86_400_000).toISOString();
    const scheduled = await handOver(kit, 'h2', { ...SAMPLE_DELIVERY, scheduledAt: later });
    await kit.request('/api/deliveries/h2/send', { json: { contentHash: scheduled.contentHash, scheduledAt: later } });

    const entries = await history();
    const ids = sent.recipients.map((r) => r.profileId).sort((a, b) => a - b);
    expect(entries.map((e) => e.deliveryId).sort()).toEqual(['h1', 'h2']);
    const h1 = entries.find((e) => e.deliveryId === 'h1')!;
    const h2 = entries.find((e) => e.deliveryId === 'h2')!;
    expect([...h1.profileIds].sort((a, b) => a - b)).toEqual(ids);
    expect(Date.now() - Date.parse(h1.at)).toBeLessThan(60_000);
    expect([...h2.profileIds].sort((a, b) => a - b)).toEqual(ids);
    expect(h2.at).toBe(later);

    await kit.request('/api/deliveries/h2/stop', { method: 'POST' });
    expect((await history()).map((e) => e.deliveryId)).toEqual(['h1']);
  });

  it('refuses a window it cannot serve, saying what is allowed', async () => {
    const response = await kit.request('/api/audience/contact-history?days=9999');
    expect(response.status).toBe(400);
    expect(JSON.stringify(await response.json())).toContain('days');
  });
});

/** Prepares a delivery over the kit's audience with the shared code, as the worker does: its recipients and its exclusions. */
async function prepareAll(k: Kit, delivery: Delivery, typology: Typology = DEFAULT_TYPOLOGY) {
  const started = Preparation.start(delivery, { typology, schema: await k.services.audience.schema() });
  if (!started.ok) throw new Error('preparation failed to start');
  const first = started.preparation.addProfiles((await k.services.audience.changesSince(0, 1_000_000)).profiles);
  const { result, last } = started.preparation.finish();
  return {
    kpis: result.kpis,
    recipients: [...first.recipients, ...last.recipients],
    exclusions: [...first.exclusions, ...last.exclusions],
  };
}

/**
 * Hands a prepared batch over as the outbox does: the header, the recipients in parts, then
 * the exclusions in parts numbered after them, and the commit. Resolves the commit's answer,
 * or, when the server refused a part, that part's answer (`refused`) and no commit.
 */
async function handOverAll(
  k: Kit,
  id: string,
  options: {
    delivery?: Omit<Delivery, 'id'>;
    typology?: Typology;
    chunkSize?: number;
    contentHash?: string;
    alter?: (exclusions: Exclusion[], recipients: PreparedRecipient[]) => Exclusion[];
  } = {},
) {
  const { delivery = SAMPLE_DELIVERY, chunkSize = 100, contentHash = 'e0e0e0e0' } = options;
  const prepared = await prepareAll(k, { ...delivery, id }, options.typology);
  const { kpis, recipients } = prepared;
  const exclusions = options.alter
    ? options.alter(
        prepared.exclusions.map((e) => ({ ...e })),
        recipients,
      )
    : prepared.exclusions;
  const parts = <T>(list: T[]) =>
    Array.from({ length: Math.ceil(list.length / chunkSize) }, (_, i) => list.slice(i * chunkSize, (i + 1) * chunkSize));
  const recipientParts = parts(recipients);
  const exclusionParts = parts(exclusions);
  const header = batchHeader(delivery, kpis, contentHash, Math.max(1, recipientParts.length), exclusionParts.length);
  const begin = await k.request(`/api/deliveries/${id}/batch`, { method: 'PUT', json: header });
  if (!begin.ok) throw new Error(`begin: ${begin.status} ${await begin.text()}`);
  /** Puts a part; resolves null when the server took it, else its answer. */
  const put = async (seq: number, json: object) => {
    const response = await k.request(`/api/deliveries/${id}/batch/chunks/${seq}`, { method: 'PUT', json: { contentHash, ...json } });
    return response.ok ? null : { seq, status: response.status, body: await response.json() };
  };
  // As the outbox's, the upload ends at a part the server refuses: no later part, no commit.
  let refused: Awaited<ReturnType<typeof put>> = null;
  for (const [i, part] of recipientParts.entries()) refused ??= await put(i + 1, { recipients: part });
  for (const [i, part] of exclusionParts.entries()) refused ??= await put(recipientParts.length + i + 1, { exclusions: part });
  const response = refused ? undefined : await k.request(`/api/deliveries/${id}/batch/commit`, { json: { contentHash } });
  const commit = response && { status: response.status, body: await response.json() };
  return { refused, commit, contentHash, kpis, recipients, exclusions, put };
}

type LogRow = { seq: number; email: string; status: string; reply: string | null; rule: string | null; cause: string | null };
const log = async (id: string, query: string) =>
  ((await (await kit.request(`/api/deliveries/${id}/recipients?${query}`)).json()) as { recipients: LogRow[] }).recipients;
const count = (sql: string) => kit.value(sql);

describe('the exclusions of a batch', () => {
  beforeEach(async () => {
    await kit.services.audience.upsertMany(
      [
        newProfile({ email: 'jörg@example.de' }),
        newProfile({ email: 'anna@пример.рф' }),
        newProfile({ email: 'zoe@example.com' }),
        newProfile({ email: 'zoe+news@example.com' }),
      ],
      'test',
      new Date(),
    );
  });

  it('are uploaded in parts after the recipients, kept, and listed in the log with the rule that excluded each', async () => {
    const { commit, exclusions, put } = await handOverAll(kit, 'x1', { chunkSize: 2 });
    expect(commit).toEqual({ status: 200, body: { recipients: 250 } });
    expect(exclusions).toHaveLength(4);
    const excluded = await log('x1', 'status=excluded');
    expect(excluded.map((r) => [r.seq, r.email, r.status, r.rule, r.cause, r.reply])).toEqual([
      [251, expect.stringMatching(/^person\d+@example\.com$/), 'excluded', 'Unsubscribed', 'unsubscribed', null],
      [252, 'broken-address', 'excluded', 'Invalid address', 'invalid-address', NOT_AN_ADDRESS],
      [253, 'jörg@example.de', 'excluded', 'Invalid address', 'invalid-address', 'needs a relay that offers SMTPUTF8'],
      [254, 'zoe+news@example.com', 'excluded', 'Duplicate address', 'duplicate-address', null],
    ]);
    expect(NEEDS_SMTPUTF8).toBe('needs a relay that offers SMTPUTF8');
    // Everyone targeted, by one number: the recipients, then the excluded; paged across the two.
    const all = await log('x1', 'limit=500');
    expect(all).toHaveLength(254);
    expect(all.map((r) => r.seq)).toEqual(Array.from({ length: 254 }, (_, i) => i + 1));
    expect((await log('x1', 'after=249&limit=3')).map((r) => `${r.seq} ${r.status}`)).toEqual([
      '250 queued',
      '251 excluded',
      '252 excluded',
    ]);
    expect((await log('x1', 'q=JÖRG')).map((r) => r.email)).toEqual(['jörg@example.de']);
    expect((await log('x1', 'status=sent')).length).toBe(0);
    // The recipients include the international domain name; a retried part and commit change nothing.
    expect((await log('x1', 'q=пример')).map((r) => `${r.email} ${r.status}`)).toEqual(['anna@пример.рф queued']);
    expect(await put(127, { exclusions: exclusions.slice(2) })).toBeNull();
    expect((await kit.request('/api/deliveries/x1/batch/commit', { json: { contentHash: 'e0e0e0e0' } })).status).toBe(200);
    expect(await count("SELECT COUNT(*) FROM exclusions WHERE delivery_id = 'x1'")).toBe(4);

    const csv = (await (await kit.request('/api/deliveries/x1/recipients.csv?status=excluded')).text()).trim().split('\r\n');
    expect(csv[0]).toBe('seq,email,status,smtp_reply,attempts,opened,clicked,updated_at,rule,cause');
    expect(csv.slice(1).map((line) => line.replace(/,[^,]*,([^,]*),([^,]*)$/, ',$1,$2'))).toEqual([
      expect.stringMatching(/^251,person\d+@example\.com,excluded,,0,no,no,Unsubscribed,unsubscribed$/),
      `252,broken-address,excluded,${NOT_AN_ADDRESS},0,no,no,Invalid address,invalid-address`,
      '253,jörg@example.de,excluded,needs a relay that offers SMTPUTF8,0,no,no,Invalid address,invalid-address',
      '254,zoe+news@example.com,excluded,,0,no,no,Duplicate address,duplicate-address',
    ]);
  });

  it("list those suppressed at send time too, as today, after the preparation's", async () => {
    const { commit, contentHash, recipients } = await handOverAll(kit, 'x2');
    expect(commit?.status).toBe(200);
    await kit.services.audience.unsubscribe(recipients[0].profileId, 'test', new Date());
    await kit.request('/api/deliveries/x2/send', { json: { contentHash, scheduledAt: null } });
    await eventually(async () => (await (await kit.request('/api/deliveries/x2')).json()).status === 'completed');
    const excluded = await log('x2', 'status=excluded');
    expect(excluded.map((r) => [r.seq, r.reply, r.rule])).toEqual([
      [1, 'suppressed after preparation (unsubscribed)', null],
      [251, null, 'Unsubscribed'],
      [252, NOT_AN_ADDRESS, 'Invalid address'],
      [253, NEEDS_SMTPUTF8, 'Invalid address'],
      [254, null, 'Duplicate address'],
    ]);
  });

  it.each([
    ['one exclusion missing', (es: Exclusion[]) => es.slice(1), /it holds 3 exclusions but the preparation counted 4 excluded\./],
    [
      'a cause that is not the one counted',
      (es: Exclusion[]) => ((es[0].cause = 'denylisted'), es),
      /it holds 1 exclusions for the cause "denylisted" but the preparation counted 0\./,
    ],
    [
      'a recipient also excluded',
      (es: Exclusion[], rs: PreparedRecipient[]) => ((es[0].profileId = rs[0].profileId), (es[0].email = rs[0].email), es),
      /profile \d+ appears twice\./,
    ],
  ])('are checked at the commit: a batch with %s is refused whole, and nothing of it is kept', async (_, alter, reason) => {
    const { refused, commit } = await handOverAll(kit, 'x3', { chunkSize: 2, alter });
    // Every part on its own could be the preparation's: only all of them together cannot.
    expect(refused).toBeNull();
    expect(commit?.status).toBe(422);
    expect(commit?.body.error).toBe('batch-mismatch');
    expect(commit?.body.message).toMatch(/^The batch was refused and nothing of it was kept: /);
    expect(commit?.body.message).toMatch(reason);
    for (const table of ['journal', 'exclusions', 'batch_parts']) expect(await count(`SELECT COUNT(*) FROM ${table}`)).toBe(0);
    expect((await kit.request('/api/deliveries/x3')).status).toBe(404);
  });

  it.each([
    [
      'an address that is not the profile’s',
      (es: Exclusion[]) => ((es[1].email = 'stranger@example.org'), es),
      // 250 recipients in parts of 2 are parts 1 to 125; the excluded follow, two a part.
      126,
      /excluded profile 2 \("stranger@example\.org"\) is not the address of profile \d+ in the audience of record\./,
    ],
    [
      'a profile that never existed',
      (es: Exclusion[]) => ((es[3].profileId = 99_999), es),
      127,
      /excluded profile 4 \("zoe\+news@example\.com"\) names profile 99999, which is not in the audience of record\./,
    ],
  ])(
    'are checked as each part arrives: a batch with %s is refused whole at that part, and nothing of it is kept',
    async (_, alter, part, reason) => {
      const { refused, commit } = await handOverAll(kit, 'x3', { chunkSize: 2, alter });
      expect(refused).toMatchObject({ seq: part, status: 422, body: { error: 'batch-mismatch' } });
      expect(refused?.body.message).toMatch(/^The batch was refused and nothing of it was kept: /);
      expect(refused?.body.message).toMatch(reason);
      expect(commit).toBeUndefined();
      for (const table of ['journal', 'exclusions', 'batch_parts']) expect(await count(`SELECT COUNT(*) FROM ${table}`)).toBe(0);
      expect((await kit.request('/api/deliveries/x3')).status).toBe(404);
    },
  );

  it("keep their parts apart from the recipients': each kind in its own numbers, none past the last", async () => {
    const { kpis, recipients, exclusions } = await prepareAll(kit, { ...SAMPLE_DELIVERY, id: 'x4' });
    await kit.request('/api/deliveries/x4/batch', { method: 'PUT', json: batchHeader(SAMPLE_DELIVERY, kpis, 'f0f0f0f0', 3, 1) });
    const put = async (seq: number, json: object) => {
      const response = await kit.request(`/api/deliveries/x4/batch/chunks/${seq}`, {
        method: 'PUT',
        json: { contentHash: 'f0f0f0f0', ...json },
      });
      return { status: response.status, body: await response.json() };
    };
    expect(await put(1, { exclusions })).toEqual({
      status: 422,
      body: { error: 'chunk-kind', message: 'Chunk 1 holds recipients (chunks 1 to 3 do), not exclusions.' },
    });
    expect(await put(4, { recipients: recipients.slice(0, 10) })).toEqual({
      status: 422,
      body: { error: 'chunk-kind', message: 'Chunk 4 holds exclusions (those after chunk 3 do), not recipients.' },
    });
    expect((await put(5, { exclusions })).body.error).toBe('chunk-out-of-range');
    expect((await put(4, { exclusions, recipients })).status).toBe(400);
    expect(await put(4, { exclusions })).toEqual({ status: 200, body: { received: 4 } });
    const incomplete = await kit.request('/api/deliveries/x4/batch/commit', { json: { contentHash: 'f0f0f0f0' } });
    expect((await incomplete.json()).message).toBe('The server has 1 of 4 chunks; the upload will resume.');
  });

  it('are replaced by a new preparation of a batch not sent yet', async () => {
    expect((await handOverAll(kit, 'x5')).commit?.status).toBe(200);
    await kit.services.audience.upsertMany([newProfile({ status: 'unsubscribed' })], 'test', new Date());
    const again = await handOverAll(kit, 'x5', { contentHash: 'e1e1e1e1' });
    expect(again.commit?.status).toBe(200);
    expect((await log('x5', 'status=excluded')).map((r) => r.rule)).toEqual([
      'Unsubscribed',
      'Invalid address',
      'Invalid address',
      'Duplicate address',
      'Unsubscribed',
    ]);
    expect(await count("SELECT COUNT(*) FROM exclusions WHERE delivery_id = 'x5'")).toBe(5);
  });

  it('are not asked of an app older than kept exclusions: its header without exclusion parts is taken as before', async () => {
    const { contentHash } = await handOver(kit, 'x6', SAMPLE_DELIVERY, { withoutExclusions: true });
    expect((await kit.request('/api/deliveries/x6')).status).toBe(200);
    expect(await log('x6', 'status=excluded')).toEqual([]);
    expect((await kit.request('/api/deliveries/x6/send', { json: { contentHash, scheduledAt: null } })).status).toBe(200);
  });
});

/**
 * An SMTP relay on 127.0.0.1 that keeps what it receives (the envelope as it read it, whether
 * SMTPUTF8 was asked for, the bytes of each message), behind a proxy that keeps every byte
 * the client wrote: smtp-server shows punycode domains decoded, the wire does not.
 */
async function startRelay(offersSmtputf8: boolean) {
  const received: { to: string[]; smtpUtf8: boolean; raw: Buffer }[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    hideSMTPUTF8: !offersSmtputf8,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const { rcptTo, smtpUtf8 } = session.envelope as typeof session.envelope & { smtpUtf8?: boolean };
        received.push({ to: rcptTo.map((r) => r.address), smtpUtf8: !!smtpUtf8, raw: Buffer.concat(chunks) });
        callback(null, 'Queued');
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const relayPort = (server.server.address() as AddressInfo).port;
  const wire: Buffer[] = [];
  const proxy = createServer((client) => {
    const upstream = connect(relayPort, '127.0.0.1');
    client.on('data', (chunk: Buffer) => wire.push(chunk));
    client.pipe(upstream).pipe(client);
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  return {
    url: `smtp://127.0.0.1:${(proxy.address() as AddressInfo).port}`,
    received,
    /** What the client said, as UTF-8. */
    wire: () => Buffer.concat(wire).toString('utf8'),
    close: async () => {
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

describe('international addresses and the text part, over real SMTP', () => {
  const HTML =
    '<html><head><style>p { margin: 0 }</style></head><body><h1>Hello {{ first_name }},</h1>' +
    '<p>Caf&eacute; &rsquo;s autumn: &euro;&nbsp;20 off &#8212; it&#8217;s here.</p>' +
    '<a href="https://shop.example.com/autumn"><img src="https://shop.example.com/a.png" alt="See the collection"></a>' +
    '<p><img src="https://shop.example.com/logo.png" alt="Mailroom Shop"> <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>';
  const FROM = 'news@магазин.рф';
  // Mailroom sends even the address that needs SMTPUTF8 when the typology does not exclude invalid addresses.
  const typology: Typology = { ...DEFAULT_TYPOLOGY, id: 't', rules: DEFAULT_TYPOLOGY.rules.filter((r) => r.id !== 'invalid-address') };
  const ADDRESSES = ['anna@пример.рф', 'boris@example.xn--p1ai', 'jörg@example.de', 'plain@example.com'];

  /** Sends the delivery through a relay that offers SMTPUTF8 or not; returns what the relay received and the journal. */
  async function sendThrough(offersSmtputf8: boolean) {
    const relay = await startRelay(offersSmtputf8);
    const messenger = createPooledMessenger({ url: relay.url, maxConnections: 2, maxMessagesPerConnection: 100 });
    const k = await createKit({ messenger });
    try {
      await k.services.audience.upsertMany(
        ADDRESSES.map((email) => newProfile({ email, firstName: 'Zoë' })),
        'test',
        new Date(),
      );
      const delivery = { ...SAMPLE_DELIVERY, fromAddress: FROM, html: HTML };
      const { commit, contentHash } = await handOverAll(k, 'idn', { delivery, typology });
      expect(commit?.status).toBe(200);
      await k.request('/api/deliveries/idn/send', { json: { contentHash, scheduledAt: null } });
      await eventually(async () => (await (await k.request('/api/deliveries/idn')).json()).status === 'completed', 10_000);
      const journal = await k.sql<{ email: string; status: string; reply: string }>(
        'SELECT email, status, smtp_reply AS reply FROM journal ORDER BY seq',
      );
      return { received: relay.received, wire: relay.wire(), journal };
    } finally {
      await k.close();
      await relay.close();
    }
  }

  let offering: Awaited<ReturnType<typeof sendThrough>>;
  let plain: Awaited<ReturnType<typeof sendThrough>>;
  beforeAll(async () => {
    offering = await sendThrough(true);
    plain = await sendThrough(false);
  });

  const fromAscii = `news@${domainToASCII('магазин.рф')}`;

  it('puts an international domain name in punycode in the envelope and the headers, also the From’s', async () => {
    const anna = `anna@${domainToASCII('пример.рф')}`;
    expect(anna).toBe('anna@xn--e1afmkfd.xn--p1ai');
    for (const rcpt of [anna, 'boris@example.xn--p1ai', 'plain@example.com']) {
      expect(offering.wire).toContain(`MAIL FROM:<${fromAscii}>\r\nRCPT TO:<${rcpt}>\r\n`);
    }
    // Nothing on the wire carries the Unicode form of a domain: not the envelope, not a header.
    expect(offering.wire).not.toMatch(/пример|магазин/);
    const message = await simpleParser(offering.received.find((r) => r.to[0] === 'anna@пример.рф')!.raw);
    expect(message.headerLines.find((h) => h.key === 'to')?.line).toBe(`To: <${anna}>`);
    expect(message.headerLines.find((h) => h.key === 'from')?.line).toBe(`From: Shop <${fromAscii}>`);
    expect(message.messageId).toMatch(new RegExp(`^<\\d+\\.idn@${domainToASCII('магазин.рф').replace(/\./g, '\\.')}>$`));
    expect(message.headerLines.find((h) => h.key === 'list-unsubscribe')?.line).toContain(
      `mailto:unsubscribe@${domainToASCII('магазин.рф')}?`,
    );
    // The journal and the log keep the address as the audience holds it.
    expect(offering.journal.map((j) => j.email)).toEqual(ADDRESSES);
  });

  it('sends a non-ASCII local part with SMTPUTF8 through a relay that offers it, and only that message', async () => {
    expect(offering.journal.map((j) => j.status)).toEqual(['sent', 'sent', 'sent', 'sent']);
    expect(offering.received.filter((r) => r.smtpUtf8).map((r) => r.to[0])).toEqual(['jörg@example.de']);
    expect(offering.wire).toContain(`MAIL FROM:<${fromAscii}> SMTPUTF8\r\nRCPT TO:<jörg@example.de>\r\n`);
    // RFC 6532: with SMTPUTF8, the header carries the address in UTF-8 as it is.
    const raw = offering.received.find((r) => r.to[0] === 'jörg@example.de')!.raw;
    expect(raw.toString('utf8')).toMatch(/^To: <jörg@example\.de>\r$/m);
    expect((await simpleParser(raw)).to).toMatchObject({ value: [{ address: 'jörg@example.de' }] });
  });

  it('fails it with the reason through a relay that does not offer SMTPUTF8, and sends the others', () => {
    expect(plain.journal.map((j) => `${j.email} ${j.status}`)).toEqual([
      'anna@пример.рф sent',
      'boris@example.xn--p1ai sent',
      'jörg@example.de failed',
      'plain@example.com sent',
    ]);
    expect(plain.journal[2].reply).toMatch(
      /^not sent: jörg@example\.de needs a relay that offers SMTPUTF8 \(it has non-ASCII characters before the @\), and the relay at 127\.0\.0\.1:\d+ does not$/,
    );
    expect(plain.received.map((r) => r.to[0])).not.toContain('jörg@example.de');
    expect(plain.received.some((r) => r.smtpUtf8)).toBe(false);
  });

  it('has a text part with entities decoded, alt text kept and links as "text (url)"', async () => {
    const text = (await simpleParser(offering.received.find((r) => r.to[0] === 'plain@example.com')!.raw)).text!;
    const unsubscribe = new RegExp(`Unsubscribe \\(${PUBLIC_URL.replace(/\./g, '\\.')}/u/[\\w-]+\\.[\\w-]+\\)`);
    expect(text).toMatch(
      new RegExp(
        `^Hello Zoë,\\n\\nCafé ’s autumn: € 20 off — it’s here\\.\\n\\nSee the collection \\(https://shop\\.example\\.com/autumn\\)\\n\\nMailroom Shop ${unsubscribe.source}$`,
      ),
    );
  });
});

describe('a delivery with a preheader and a written text part, sent over SMTP', () => {
  it('reaches the relay with the preheader hidden first in the body, escaped, and the text part as written', async () => {
    const relay = await startRelay(false);
    const messenger = createPooledMessenger({ url: relay.url, maxConnections: 1, maxMessagesPerConnection: 100 });
    const k = await createKit({ messenger });
    try {
      await k.services.audience.upsertMany([newProfile({ email: 'zoe@example.com', firstName: 'Zoë <3' })], 'test', new Date());
      const delivery = {
        ...SAMPLE_DELIVERY,
        preheader: 'Only for you, {{ first_name }}: 20% off',
        text: 'Dear {{ first_name }},\n\nThe shop: https://shop.example.com/\n\nUnsubscribe: {{ unsubscribe_url }}',
      };
      const { commit, contentHash } = await handOverAll(k, 'pre', { delivery });
      expect(commit?.status).toBe(200);
      await k.request('/api/deliveries/pre/send', { json: { contentHash, scheduledAt: null } });
      await eventually(async () => (await (await k.request('/api/deliveries/pre')).json()).status === 'completed', 10_000);
      const parsed = await simpleParser(relay.received[0].raw);
      expect(parsed.html).toMatch(/<body[^>]*><div style="display: none;[^"]*mso-hide: all">Only for you, Zoë &lt;3: 20% off&#8199;/);
      expect(parsed.text).toMatch(
        new RegExp(`^Dear Zoë <3,\\n\\nThe shop: https://shop\\.example\\.com/\\n\\nUnsubscribe: ${PUBLIC_URL}/u/\\S+$`),
      );
    } finally {
      await k.close();
      await relay.close();
    }
  });
});
