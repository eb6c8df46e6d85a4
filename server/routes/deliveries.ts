/**
 * Deliveries: the hand-off of a prepared batch (begin, chunks of recipients then of exclusions, commit), the commands
 * (send, unschedule, pause, resume, stop) and the live figures (a snapshot, and a Server-Sent
 * Events stream).
 *
 * A Send with a time in the past is refused (422 `schedule-passed`), never sent at once: the
 * marketer chose a time, and a delivery sent hours late, or at a moment nobody picked, is
 * worse than one not sent. The exception is a time that passed moments ago, within
 * SCHEDULE_GRACE_MS: the hand-over of a large batch, or clocks a little apart, take that long,
 * and the delivery then starts at once, which is as close to the time as it can get.
 */

import { Hono, type Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import { z } from 'zod';
import { isValidEmail } from '../../shared/email-address';
import { DELIVERY_ID } from '../../shared/handoff';
import { CAUSE_LABELS } from '../../shared/typology';
import type { ExclusionCause } from '../../shared/types';
import type { AppEnv } from '../services';
import type { Refusal } from '../store/delivery-store';
import { templateValues } from './proofs';
import { jsonBody, params, query } from './validate';
import { csvCell } from '../audience/importer';
import { neutralize } from '../audience/export';
import type { RecipientFilter, ReportStore } from '../store/report-store';

const MAX_CHUNK = 2_000;
/** How long after its time a scheduled Send still starts (at once) rather than being refused. */
export const SCHEDULE_GRACE_MS = 5 * 60_000;
const hash = z.string().regex(/^[0-9a-f]{8,64}$/, 'a content hash of hex digits');
const count = z.number().int().min(0);

const batchHeader = z.object({
  version: z.number().int().min(1),
  contentHash: hash,
  name: z.string().min(1).max(200),
  fromName: z.string().max(200),
  fromAddress: z.string().refine(isValidEmail, 'a valid email address'),
  subject: z.string().min(1).max(998),
  html: z.string().min(1).max(2_000_000),
  targeted: count,
  toDeliver: count,
  excluded: count,
  excludedByCause: z.record(z.string(), count),
  chunkCount: z.number().int().min(1).max(100_000),
  // Absent from an app older than kept exclusions (a tab open across an update).
  exclusionChunkCount: z.number().int().min(0).max(100_000).optional(),
});

const recipient = z.object({
  seq: z.number().int().min(1),
  profileId: z.number().int().min(1),
  email: z.string().min(3).max(254),
  subject: z.string().max(998),
  values: templateValues,
});

/** An excluded profile: its address as the audience holds it (valid or not), and the rule and cause that excluded it. */
const exclusion = z.object({
  profileId: z.number().int().min(1),
  email: z.string().max(2_000),
  rule: z.string().min(1).max(1_000),
  cause: z.enum(Object.keys(CAUSE_LABELS) as [ExclusionCause, ...ExclusionCause[]]),
});

const deliveryId = z.string().regex(DELIVERY_ID, 'a delivery id of at most 64 letters, digits, "-" and "_"');
const idParams = z.object({ id: deliveryId });
const chunkParams = z.object({ id: deliveryId, seq: z.coerce.number().int().min(1) });
/** A part of a batch: recipients (the header's first chunkCount parts) or exclusions (the parts after them). */
const chunk = z
  .object({
    contentHash: hash,
    recipients: z.array(recipient).min(1).max(MAX_CHUNK).optional(),
    exclusions: z.array(exclusion).min(1).max(MAX_CHUNK).optional(),
  })
  .refine((c) => (c.recipients === undefined) !== (c.exclusions === undefined), 'a chunk holds either recipients or exclusions');
const commit = z.object({ contentHash: hash });
const send = z.object({ contentHash: hash, scheduledAt: z.iso.datetime({ offset: true }).nullable() });
const settle = z.object({ resend: z.boolean() });
const FILTERS = ['all', 'sent', 'failed', 'bounced', 'excluded', 'cancelled', 'pending', 'unknown', 'opened', 'clicked'] as const;
const recipientsQuery = z.object({
  status: z.enum(FILTERS).default('all'),
  q: z.string().max(254).default(''),
  after: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(500).default(50),
});
const exportQuery = z.object({ status: z.enum(FILTERS).default('all'), q: z.string().max(254).default('') });

const refusal = (c: Context<AppEnv>, r: Refusal) => c.json({ error: r.code, message: r.message }, r.status);
const notFound = (c: Context<AppEnv>) => c.json({ error: 'delivery-not-found', message: 'There is no such delivery on the server.' }, 404);

/**
 * A Server-Sent Events stream of live figures: `read(ids)` for `initial` at once, then for
 * the deliveries that change (`watch`: one id, or '*' for all), coalesced by the live bus.
 */
function liveStream(
  c: Context<AppEnv>,
  event: string,
  watch: string,
  initial: readonly string[],
  read: (ids: readonly string[]) => unknown,
) {
  const { bus, tracking } = c.var.services;
  return streamSSE(c, async (stream) => {
    let sequence = 0;
    const push = (ids: readonly string[]) => {
      tracking.flush(); // the figures count opens and clicks still waiting to be written
      return stream.writeSSE({ event, id: String(++sequence), data: JSON.stringify(read(ids)) });
    };
    const unsubscribe = bus.subscribe(watch, (ids) => void push(ids));
    stream.onAbort(unsubscribe);
    await push(initial);
    while (!stream.aborted && !stream.closed) {
      await stream.sleep(15_000);
      await stream.write(': keep-alive\n\n');
    }
    unsubscribe();
  });
}

export const deliveries = new Hono<AppEnv>()
  // Every id is checked where it enters: it ends up in headers, tokens and file names.
  .use('/:id', params(idParams))
  .use('/:id/*', params(z.object({ id: deliveryId }).loose()))
  .get('/', (c) => {
    const { deliveries, now } = c.var.services;
    return c.json(
      deliveries.list().map((d) => deliveries.kpis(d.id, now())!),
      200,
    );
  })
  // The list's live figures: every delivery once, then each delivery again when it changes.
  .get('/events', (c) => {
    const { deliveries, now } = c.var.services;
    return liveStream(
      c,
      'deliveries',
      '*',
      deliveries.list().map((d) => d.id),
      (ids) => ids.map((id) => ({ id, kpis: deliveries.kpis(id, now()) })).filter((d) => d.kpis),
    );
  })
  .get('/:id', (c) => {
    const kpis = c.var.services.deliveries.kpis(c.req.param('id'), c.var.services.now());
    return kpis ? c.json(kpis, 200) : notFound(c);
  })
  .put('/:id/batch', jsonBody(batchHeader), (c) => {
    const { deliveries, now } = c.var.services;
    const result = deliveries.beginBatch({ id: c.req.param('id'), ...c.req.valid('json') }, now());
    return result.ok ? c.json({ ok: true }, 200) : refusal(c, result);
  })
  .put('/:id/batch/chunks/:seq', params(chunkParams), jsonBody(chunk), (c) => {
    const { contentHash, recipients, exclusions } = c.req.valid('json');
    const part = recipients ? { recipients } : { exclusions: exclusions! };
    const result = c.var.services.deliveries.putChunk(c.req.param('id'), contentHash, c.req.valid('param').seq, part);
    return result.ok ? c.json({ received: result.received }, 200) : refusal(c, result);
  })
  .post('/:id/batch/commit', jsonBody(commit), (c) => {
    const { deliveries, now, bus } = c.var.services;
    const result = deliveries.commitBatch(c.req.param('id'), c.req.valid('json').contentHash, now());
    if (!result.ok) return refusal(c, result);
    bus.changed(c.req.param('id'));
    return c.json({ recipients: result.recipients }, 200);
  })
  .post('/:id/send', jsonBody(send), (c) => {
    const { deliveries, engine, bus, now } = c.var.services;
    const id = c.req.param('id');
    const { contentHash, scheduledAt } = c.req.valid('json');
    const delivery = deliveries.get(id);
    if (delivery && delivery.contentHash !== contentHash) {
      return c.json(
        { error: 'stale-batch', message: 'The server holds another preparation of this delivery. Prepare again and send.' },
        409,
      );
    }
    const at = scheduledAt === null ? null : Date.parse(scheduledAt);
    if (at !== null && at < now().getTime() - SCHEDULE_GRACE_MS) {
      return c.json(
        {
          error: 'schedule-passed',
          message: `The scheduled time (${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC) has passed, so the delivery was not sent. Set a later Send at, prepare again and schedule it, or clear Send at to send it now.`,
        },
        422,
      );
    }
    const later = at !== null && at > now().getTime();
    const result = deliveries.transition(id, later ? 'scheduled' : 'sending', now(), { scheduledAt });
    if (!result.ok) return refusal(c, result);
    bus.changed(id);
    engine.scan();
    return c.json(deliveries.kpis(id, now())!, 200);
  })
  // Back to prepared: the journal rows stay queued, and a later Send (now or at another time) uses them.
  .post('/:id/unschedule', (c) => command(c, 'prepared', { scheduledAt: null }))
  .post('/:id/pause', (c) => command(c, 'paused'))
  .post('/:id/resume', (c) => {
    const delivery = c.var.services.deliveries.get(c.req.param('id'));
    const stillScheduled = delivery?.scheduledAt && Date.parse(delivery.scheduledAt) > c.var.services.now().getTime();
    return command(c, stillScheduled ? 'scheduled' : 'sending');
  })
  .post('/:id/stop', (c) => command(c, 'stopped'))
  .post('/:id/unknown', jsonBody(settle), (c) => {
    const { journal, deliveries, bus, engine, now } = c.var.services;
    const id = c.req.param('id');
    if (!deliveries.get(id)) return notFound(c);
    const settled = journal.settleUnknown(id, c.req.valid('json').resend, now());
    // A delivery held for this decision carries on by itself once it is made.
    if (settled > 0 && deliveries.get(id)!.status === 'paused') deliveries.transition(id, 'sending', now(), { reason: null });
    bus.changed(id);
    engine.scan();
    return c.json({ settled }, 200);
  })
  .get('/:id/report', (c) => {
    const { deliveries, reports } = c.var.services;
    const id = c.req.param('id');
    if (!deliveries.get(id)) return notFound(c);
    return c.json(reports.report(id), 200);
  })
  .get('/:id/recipients', query(recipientsQuery), (c) => {
    const { deliveries, reports } = c.var.services;
    const id = c.req.param('id');
    if (!deliveries.get(id)) return notFound(c);
    const { status, q, after, limit } = c.req.valid('query');
    return c.json({ recipients: reports.recipients(id, status, q, after, limit) }, 200);
  })
  .get('/:id/recipients.csv', query(exportQuery), (c) => {
    const { deliveries, reports } = c.var.services;
    const id = c.req.param('id');
    const delivery = deliveries.get(id);
    if (!delivery) return notFound(c);
    const { status, q } = c.req.valid('query');
    const file = `${delivery.name.replace(/[^\w.-]+/g, '-').slice(0, 60) || 'delivery'}-recipients.csv`;
    return c.body(recipientsCsv(reports, id, status, q), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${file}"`,
    });
  })
  .get('/:id/events', (c) => {
    const { deliveries, now } = c.var.services;
    const id = c.req.param('id');
    if (!deliveries.get(id)) return notFound(c);
    return liveStream(c, 'kpis', id, [id], () => deliveries.kpis(id, now()));
  });

function command(
  c: Context<AppEnv>,
  to: 'prepared' | 'paused' | 'sending' | 'scheduled' | 'stopped',
  fields: { scheduledAt?: string | null } = {},
) {
  const { deliveries, engine, bus, now } = c.var.services;
  const id = c.req.param('id')!;
  const result = deliveries.transition(id, to, now(), { reason: null, ...fields });
  if (!result.ok) return refusal(c, result);
  bus.changed(id);
  engine.scan();
  return c.json(deliveries.kpis(id, now())!, 200);
}

/**
 * The delivery log as CSV, streamed in pages: every recipient, then every profile the
 * preparation excluded (with its rule and cause); cells a spreadsheet would evaluate are neutralized.
 */
function recipientsCsv(reports: ReportStore, id: string, status: RecipientFilter, q: string): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let after = 0;
  let header = true;
  return new ReadableStream({
    pull(controller) {
      if (header) {
        header = false;
        controller.enqueue(encoder.encode('seq,email,status,smtp_reply,attempts,opened,clicked,updated_at,rule,cause\r\n'));
      }
      const page = reports.recipients(id, status, q, after, 2_000);
      if (page.length === 0) return controller.close();
      after = page[page.length - 1].seq;
      const lines = page.map((r) =>
        [
          String(r.seq),
          r.email,
          r.status,
          r.reply ?? '',
          String(r.attempts),
          r.opened ? 'yes' : 'no',
          r.clicked ? 'yes' : 'no',
          r.updatedAt,
          r.rule ?? '',
          r.cause ?? '',
        ]
          .map((cell) => csvCell(neutralize(cell)))
          .join(','),
      );
      controller.enqueue(encoder.encode(lines.join('\r\n') + '\r\n'));
    },
  });
}
