import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { batchHeader, createKit, eventually, handOver, newProfile, prepareOnServerAudience, SAMPLE_DELIVERY, type Kit } from '../test-kit';

let kit: Kit;
beforeEach(async () => {
  kit = await createKit();
  kit.services.audience.upsertMany(
    [...Array.from({ length: 248 }, () => newProfile()), newProfile({ status: 'unsubscribed' }), newProfile({ email: 'broken-address' })],
    'test',
    new Date(),
  );
});
afterEach(() => kit.close());

const journalCount = () => kit.services.db.prepare('SELECT COUNT(*) FROM journal').pluck().get() as number;

describe('handing over a prepared batch', () => {
  it('stores chunks idempotently and turns them into one journal row per recipient on commit', async () => {
    const { contentHash, chunks } = await handOver(kit, 'd1', SAMPLE_DELIVERY);
    // A retried chunk and a retried commit change nothing.
    const again = await kit.request('/api/deliveries/d1/batch/chunks/1', { method: 'PUT', json: { contentHash, recipients: chunks[0] } });
    expect(again.status).toBe(200);
    const commit = await kit.request('/api/deliveries/d1/batch/commit', { json: { contentHash } });
    expect(await commit.json()).toEqual({ recipients: 248 });
    expect(journalCount()).toBe(248);
    const kpis = await (await kit.request('/api/deliveries/d1')).json();
    expect(kpis).toMatchObject({ status: 'prepared', targeted: 250, toDeliver: 248, delivered: 0, remaining: 248 });
  });

  it('says what is missing when a commit comes before every chunk', async () => {
    const { recipients, kpis } = prepareOnServerAudience(kit, { ...SAMPLE_DELIVERY, id: 'd2' });
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
    const { recipients, kpis } = prepareOnServerAudience(kit, { ...SAMPLE_DELIVERY, id: 'd3' });
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
    expect(journalCount()).toBe(0);
    expect(kit.services.db.prepare('SELECT COUNT(*) FROM batch_chunks').pluck().get()).toBe(0);
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
  const sentCount = () => kit.services.db.prepare("SELECT COUNT(*) FROM journal WHERE status = 'sent'").pluck().get() as number;
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
    kit.services.engine.scan();
    expect(await status('s1')).toBe('prepared');
    expect(sentCount()).toBe(0);
    // The same batch can still be sent now.
    expect((await kit.request('/api/deliveries/s1/send', { json: { contentHash, scheduledAt: null } })).status).toBe(200);
    await eventually(async () => (await status('s1')) === 'completed');
    expect(sentCount()).toBe(248);
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
    expect(kit.services.deliveries.get('s3')).toMatchObject({ status: 'prepared', scheduledAt: null });
    const queued = kit.services.db.prepare("SELECT COUNT(*) FROM journal WHERE delivery_id = 's3' AND status = 'queued'").pluck();
    expect(queued.get()).toBe(248);
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
    expect(sentCount()).toBe(248);
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
