/**
 * Deliveries over HTTP: the hand-off of a prepared batch (begin, chunks of recipients then of
 * exclusions, commit), the commands (send, unschedule, pause, resume, stop, settle unknown —
 * application/delivery-commands.ts does them), the live figures (a snapshot, and Server-Sent
 * Events, application/live-figures.ts), the report and the delivery log. Each command carried
 * out is written to the audit log, with the delivery's name as it was then.
 */

import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { isValidEmail } from '../../shared/email-address';
import { DELIVERY_ID } from '../../shared/handoff';
import { experimentProblem, MAX_TRANSLATIONS, MAX_VARIANTS, translationsProblem, type Experiment } from '../../shared/experiment';
import { MAX_WAVE_SIZES, wavesProblem } from '../../shared/send-time';
import { CAUSE_LABELS, SEEDS_MAX } from '../../shared/typology';
import type { LateOutcome } from '../store/late-outcomes';
import type { ExclusionCause } from '../../shared/types';
import type { KpisOutcome } from '../application/delivery-commands';
import type { AppEnv } from '../services';
import type { Refusal } from '../store/deliveries';
import type { AuditAction } from '../store/audit';
import { recordAudit } from './audit-trail';
import { templateValues } from './proofs';
import { jsonBody, params, query } from './validate';
import { liveStream } from './live-stream';
import { csvCell } from '../audience/importer';
import { neutralize } from '../audience/export';
import type { RecipientFilter, ReportStore } from '../store/reports';

const MAX_CHUNK = 2_000;
const hash = z.string().regex(/^[0-9a-f]{8,64}$/, 'a content hash of hex digits');
const count = z.number().int().min(0);

/** An A/B test as the app writes it (shared/experiment.ts); what it must hold to run is experimentProblem's to say. */
export const experimentSchema = z
  .object({
    variants: z
      .array(
        z.object({
          subject: z.string().max(998).optional(),
          fromName: z.string().max(200).optional(),
          preheader: z.string().max(500).optional(),
          html: z.string().max(2_000_000).optional(),
        }),
      )
      .max(MAX_VARIANTS - 1),
    test: z.union([z.object({ percent: z.number() }), z.object({ count: z.number() })]),
    criterion: z.enum(['opens', 'clicks', 'unsubscribes']),
    waitHours: z.number(),
  })
  .superRefine((value, context) => {
    const problem = experimentProblem(value as Experiment);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  });

/** Content by language as the app writes it (shared/experiment.ts, translationsProblem). */
export const translationsSchema = z
  .array(
    z.object({
      locale: z.string().max(35),
      subject: z.string().max(998).optional(),
      fromName: z.string().max(200).optional(),
      preheader: z.string().max(500).optional(),
      html: z.string().max(2_000_000).optional(),
    }),
  )
  .max(MAX_TRANSLATIONS)
  .superRefine((value, context) => {
    const problem = translationsProblem(value);
    if (problem) context.addIssue({ code: 'custom', message: problem });
  });

const batchHeader = z.object({
  version: z.number().int().min(1),
  contentHash: hash,
  name: z.string().min(1).max(200),
  fromName: z.string().max(200),
  fromAddress: z.string().refine(isValidEmail, 'a valid email address'),
  subject: z.string().min(1).max(998),
  // Absent from an app older than the fields: no preheader of its own, a derived text part.
  preheader: z.string().max(500).default(''),
  // Absent from an app older than several relays, or when none was chosen: by the From domain.
  relayId: z
    .string()
    .regex(/^[a-z0-9-]{1,40}$/, 'a relay id of the sending settings')
    .nullable()
    .default(null),
  html: z.string().min(1).max(2_000_000),
  text: z.string().max(2_000_000).default(''),
  experiment: experimentSchema.nullable().optional(),
  translations: translationsSchema.nullable().optional(),
  seeds: z.array(z.string().refine(isValidEmail, 'a valid email address')).max(SEEDS_MAX).optional(),
  sendWindowMs: z
    .number()
    .int()
    .min(1_800_000)
    .max(23 * 3_600_000)
    .nullable()
    .optional(),
  waves: z
    .object({ sizes: z.array(z.number()).max(MAX_WAVE_SIZES), everyHours: z.number() })
    .superRefine((value, context) => {
      const problem = wavesProblem(value);
      if (problem) context.addIssue({ code: 'custom', message: problem });
    })
    .nullable()
    .optional(),
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
  // Within what a date can be (and PostgreSQL's bigint holds).
  dueAt: z.number().int().min(0).max(8.64e15).optional(),
  variant: z
    .number()
    .int()
    .min(0)
    .max(MAX_VARIANTS - 1)
    .optional(),
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
const winner = z.object({
  variant: z
    .number()
    .int()
    .min(0)
    .max(MAX_VARIANTS - 1),
});
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

export const deliveries = new Hono<AppEnv>()
  // Every id is checked where it enters: it ends up in headers, tokens and file names.
  .use('/:id', params(idParams))
  .use('/:id/*', params(z.object({ id: deliveryId }).loose()))
  .get('/', async (c) =>
    c.json(
      (await c.var.services.figures.all()).map((d) => d.kpis),
      200,
    ),
  )
  // The list's live figures: every delivery once, then each delivery again when it changes.
  .get('/events', (c) => {
    const { figures } = c.var.services;
    return liveStream(
      c,
      'deliveries',
      () => figures.all(),
      (push) => figures.watchList(push),
    );
  })
  .get('/:id', async (c) => {
    const kpis = await c.var.services.figures.figures(c.req.param('id'));
    return kpis ? c.json(kpis, 200) : notFound(c);
  })
  .put('/:id/batch', jsonBody(batchHeader), async (c) => {
    const header = c.req.valid('json');
    if (header.experiment && header.translations?.length) {
      const message =
        'The request: an A/B test and content by language cannot be combined (each recipient gets one variant); prepare again.';
      return c.json({ error: 'invalid-request', message }, 400);
    }
    const result = await c.var.services.commands.beginBatch({ id: c.req.param('id'), ...header });
    return result.ok ? c.json({ ok: true }, 200) : refusal(c, result);
  })
  .put('/:id/batch/chunks/:seq', params(chunkParams), jsonBody(chunk), async (c) => {
    const { contentHash, recipients, exclusions } = c.req.valid('json');
    const part = recipients ? { recipients } : { exclusions: exclusions! };
    const result = await c.var.services.commands.putPart(c.req.param('id'), contentHash, c.req.valid('param').seq, part);
    return result.ok ? c.json({ received: result.received }, 200) : refusal(c, result);
  })
  .post('/:id/batch/commit', jsonBody(commit), async (c) => {
    const result = await c.var.services.commands.commitBatch(c.req.param('id'), c.req.valid('json').contentHash);
    return result.ok ? c.json({ recipients: result.recipients }, 200) : refusal(c, result);
  })
  .post('/:id/send', jsonBody(send), async (c) => {
    const { contentHash, scheduledAt } = c.req.valid('json');
    const id = c.req.param('id');
    const result = await c.var.services.commands.send(id, contentHash, scheduledAt);
    // A time within the grace of now sends at once: the outcome says which it was.
    if (scheduledAt && result.ok && result.kpis.status === 'scheduled') {
      return audited(c, id, result, 'scheduled', `scheduled for ${new Date(scheduledAt).toISOString()}`);
    }
    return audited(c, id, result, 'sent', 'sending started');
  })
  .post('/:id/unschedule', async (c) =>
    audited(c, c.req.param('id'), await c.var.services.commands.unschedule(c.req.param('id')), 'unscheduled'),
  )
  .post('/:id/pause', async (c) => audited(c, c.req.param('id'), await c.var.services.commands.pause(c.req.param('id')), 'paused'))
  .post('/:id/resume', async (c) => audited(c, c.req.param('id'), await c.var.services.commands.resume(c.req.param('id')), 'resumed'))
  .post('/:id/stop', async (c) => audited(c, c.req.param('id'), await c.var.services.commands.stop(c.req.param('id')), 'stopped'))
  .post('/:id/unknown', jsonBody(settle), async (c) => {
    const id = c.req.param('id');
    const { resend } = c.req.valid('json');
    const result = await c.var.services.commands.settleUnknown(id, resend);
    if (!result.ok) return refusal(c, result);
    const what = resend ? 'put back in the queue to be sent again' : 'cancelled, not sent again';
    await recordAudit(c, 'settled-unknown', 'delivery', id, await nameOf(c, id), `${result.settled} recipients of unknown outcome ${what}`);
    return c.json({ settled: result.settled }, 200);
  })
  .get('/:id/experiment', async (c) => {
    const result = await c.var.services.commands.experiment(c.req.param('id'));
    return result.ok ? c.json(result.experiment, 200) : refusal(c, result);
  })
  .post('/:id/winner', jsonBody(winner), async (c) => {
    const id = c.req.param('id');
    const result = await c.var.services.commands.chooseWinner(id, c.req.valid('json').variant, c.var.user);
    if (!result.ok) return refusal(c, result);
    await recordAudit(c, 'winner-chosen', 'delivery', id, await nameOf(c, id), result.reason);
    return c.json({ winner: result.winner, reason: result.reason }, 200);
  })
  .get('/:id/report', async (c) => {
    const { deliveries, reports } = c.var.services;
    const id = c.req.param('id');
    if (!(await deliveries.status(id))) return notFound(c);
    const [report, late, seeds] = await Promise.all([
      reports.report(id),
      c.var.services.stores.lateOutcomes.byKindAndDomain(id),
      c.var.services.journal.seedCopies(id),
    ]);
    return c.json({ ...report, reportedLater: late, seedCopies: seeds }, 200);
  })
  .get('/:id/recipients', query(recipientsQuery), async (c) => {
    const { deliveries, reports } = c.var.services;
    const id = c.req.param('id');
    if (!(await deliveries.status(id))) return notFound(c);
    const { status, q, after, limit } = c.req.valid('query');
    const rows = await reports.recipients(id, status, q, after, limit);
    // What came back later (a bounce, a complaint) is said beside the relay's reply: the latest one.
    const sentRows = rows.filter((r) => r.rule === null).map((r) => r.seq);
    const late = new Map((await c.var.services.stores.lateOutcomes.ofRecipients(id, sentRows)).map((o) => [o.seq, lateSentence(o)]));
    return c.json({ recipients: rows.map((r) => ({ ...r, late: late.get(r.seq) ?? null })) }, 200);
  })
  .get('/:id/recipients.csv', query(exportQuery), async (c) => {
    const { deliveries, reports } = c.var.services;
    const id = c.req.param('id');
    const delivery = await deliveries.get(id);
    if (!delivery) return notFound(c);
    const { status, q } = c.req.valid('query');
    const file = `${delivery.name.replace(/[^\w.-]+/g, '-').slice(0, 60) || 'delivery'}-recipients.csv`;
    return c.body(recipientsCsv(reports, id, status, q), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${file}"`,
    });
  })
  .get('/:id/events', async (c) => {
    const { figures } = c.var.services;
    const id = c.req.param('id');
    const current = await figures.figures(id);
    if (!current) return notFound(c);
    return liveStream(
      c,
      'kpis',
      async () => (await figures.figures(id)) ?? current,
      (push) => figures.watch(id, push),
    );
  });

/** Answers a command's outcome: the delivery's figures, or the refusal. */
function answer(c: Context<AppEnv>, result: KpisOutcome) {
  return result.ok ? c.json(result.kpis, 200) : refusal(c, result);
}

/** A late outcome as the log says it: "bounced later: 5.1.1 550 5.1.1 user unknown", "complained later (abuse)". */
function lateSentence(o: LateOutcome): string {
  if (o.kind === 'complaint') return `complained later (${o.status})`;
  const what = o.kind === 'hard-bounce' ? 'bounced later' : o.mailboxFull ? 'soft bounce later (mailbox full)' : 'soft bounce later';
  return `${what}: ${o.status}${o.diagnostic ? ` ${o.diagnostic}` : ''}`;
}

/** Resolves the delivery's name, as the audit log names it (its id if it is gone). */
const nameOf = async (c: Context<AppEnv>, id: string) => (await c.var.services.deliveries.get(id))?.name ?? id;

/** Answers a command's outcome as `answer` does, once a command that was carried out is in the audit log. */
async function audited(c: Context<AppEnv>, id: string, result: KpisOutcome, action: AuditAction, detail = '') {
  if (result.ok) await recordAudit(c, action, 'delivery', id, await nameOf(c, id), detail);
  return answer(c, result);
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
    async pull(controller) {
      if (header) {
        header = false;
        controller.enqueue(encoder.encode('seq,email,status,smtp_reply,attempts,opened,clicked,updated_at,rule,cause\r\n'));
      }
      const page = await reports.recipients(id, status, q, after, 2_000);
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
