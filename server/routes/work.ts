/**
 * The team's work over HTTP: devices push their edits of drafts, typologies and templates (merged field
 * by field, shared/work.ts), pull the documents changed since their cursor in pages, hear of
 * changes live (Server-Sent Events), and approve a preparation.
 */

import { Hono, type Context } from 'hono';
import { z } from 'zod';
import { DELIVERY_ID } from '../../shared/handoff';
import { decodeHlc, HLC_PATTERN } from '../../shared/hlc';
import { DEFAULT_TYPOLOGY_ID, SEEDS_MAX } from '../../shared/typology';
import { MAX_TRANSLATIONS, MAX_VARIANTS } from '../../shared/experiment';
import { MAX_WAVE_SIZES } from '../../shared/send-time';
import { FIELD_LABELS, fieldsOf, type DocPush, type MergeOutcome, type PreparationSummary, type WorkDoc } from '../../shared/work';
import type { AppEnv } from '../services';
import { asksForApproval } from '../store/work';
import { recordAudit } from './audit-trail';
import { liveStream } from './live-stream';
import { explain } from './validate';
import { jsonBody, params, query } from './validate';

/** A device whose clock runs further ahead than this has its edits refused until it is set right. */
const CLOCK_AHEAD_MS = 60 * 60_000;
const PAGE_LIMIT = 500;

const hlc = z.string().regex(HLC_PATTERN, 'a clock reading');
const docId = z.string().regex(DELIVERY_ID, 'an id of at most 64 letters, digits, "-" and "_"');
const contentHash = z.string().regex(/^[0-9a-f]{8,64}$/, 'a content hash of hex digits');
const count = z.number().int().min(0);

/** What each field may hold; the audience and rules are the app's JSON, bounded by the body limit. */
const FIELD_SCHEMAS: Record<string, z.ZodType> = {
  name: z.string().max(200),
  description: z.string().max(500),
  fromName: z.string().max(200),
  fromAddress: z.string().max(254),
  subject: z.string().max(998),
  preheader: z.string().max(500),
  html: z.string().max(2_000_000),
  text: z.string().max(2_000_000),
  source: z
    .discriminatedUnion('format', [
      z.object({ format: z.literal('mjml'), mjml: z.string().max(2_000_000) }),
      z.object({
        format: z.literal('builder'),
        design: z.object({ blocks: z.array(z.object({ id: z.string(), type: z.string() }).loose()).max(500) }).loose(),
      }),
    ])
    .nullable(),
  audience: z.object({}).loose(),
  scheduledAt: z.iso.datetime({ offset: true }).nullable(),
  typologyId: z.string().min(1).max(64),
  relayId: z
    .string()
    .regex(/^[a-z0-9-]{1,40}$/)
    .nullable(),
  preparation: z
    .object({ contentHash, preparedAt: z.iso.datetime({ offset: true }), targeted: count, toDeliver: count, excluded: count })
    .nullable(),
  rules: z.array(z.object({ id: z.string(), kind: z.string() }).loose()).max(500),
  // A draft's test may be half made (no variant yet): its shape is checked here, whether it can run by the preparation.
  experiment: z
    .object({ variants: z.array(z.object({}).loose()).max(MAX_VARIANTS - 1) })
    .loose()
    .nullable(),
  // Addresses as typed (the preparation says which are not valid).
  // Null for a document made before the field (a new document sends every field, null when unset).
  seeds: z.array(z.string().max(254)).max(SEEDS_MAX).nullable(),
  // Checked by the preparation, which says what to change.
  localTime: z.object({ at: z.string().max(10), defaultTimeZone: z.string().max(100) }).nullable(),
  waves: z.object({ sizes: z.array(z.number()).max(MAX_WAVE_SIZES), everyHours: z.number() }).nullable(),
  // A draft's translations may be half typed (a locale without content yet): the preparation says what to change.
  translations: z
    .array(z.object({ locale: z.string().max(35) }).loose())
    .max(MAX_TRANSLATIONS)
    .nullable(),
  requiresApproval: z.boolean(),
};
/** A typology and a template are found by name: they must have one. */
const REQUIRED_NAME = z.string().trim().min(1, 'it is empty — give it one').max(200);

const edit = z.object({ value: z.unknown(), hlc, base: hlc.nullable() });
const push = z.object({
  pushes: z
    .array(
      z.object({
        id: docId,
        kind: z.enum(['delivery', 'typology', 'template']),
        edits: z.record(z.string(), edit),
        deleteAt: hlc.optional(),
        dismiss: z.array(z.string().max(100)).max(100).optional(),
        /** A new document made as a copy of this one (for the audit log). */
        duplicateOf: docId.optional(),
      }),
    )
    .min(1)
    .max(50),
});
const changesQuery = z.object({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(PAGE_LIMIT).default(100),
});
const approve = z.object({ contentHash });

/** Returns why the push of one document cannot be merged, or null. */
async function problemOf(c: Context<AppEnv>, current: WorkDoc | undefined, p: DocPush): Promise<string | null> {
  const { work, now } = c.var.services;
  if (p.kind === 'typology' && p.id === DEFAULT_TYPOLOGY_ID) return 'The default typology is built in and cannot be changed: make a copy.';
  if (current && current.kind !== p.kind) return `There is a ${current.kind} with this id, not a ${p.kind}.`;
  const latest = now().getTime() + CLOCK_AHEAD_MS;
  for (const [field, e] of Object.entries(p.edits)) {
    const schema =
      p.kind !== 'delivery' && field === 'name' ? REQUIRED_NAME : Object.hasOwn(FIELD_SCHEMAS, field) ? FIELD_SCHEMAS[field] : undefined;
    if (!schema || !fieldsOf(p.kind).includes(field)) return `A ${p.kind} has no field "${field.slice(0, 40)}".`;
    const checked = schema.safeParse(e.value);
    if (!checked.success) return `${capital(FIELD_LABELS[field] ?? field)} is not valid: ${explain(checked.error).replace(/^body: /, '')}.`;
    if ((decodeHlc(e.hlc)?.wall ?? 0) > latest) {
      return 'This device’s clock is more than an hour ahead of the server’s: set the date and time right; the edits are kept and go as soon as it is.';
    }
  }
  if (p.deleteAt && current && !current.deleted) {
    if (p.kind === 'delivery' && current.serverStatus !== null) {
      return 'This delivery was handed to the server: it stays, with its log. Only drafts are deleted.';
    }
    if (p.kind === 'typology') {
      const users = await work.deliveriesUsing(p.id);
      if (users.length) return `This typology is used by ${users.map((n) => `"${n}"`).join(', ')}: pick another typology there first.`;
    }
  }
  return null;
}

const capital = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
const nameOf = (doc: WorkDoc) => String(doc.fields.name ?? '');

/** Records what a merge did in the audit log: creations, copies, preparations, typology versions, deletions. */
async function audit(c: Context<AppEnv>, p: DocPush & { duplicateOf?: string }, outcome: MergeOutcome): Promise<void> {
  const { doc } = outcome;
  const name = nameOf(doc);
  if (outcome.created) {
    await (p.duplicateOf
      ? recordAudit(c, 'duplicated', doc.kind, doc.id, name, `a copy of ${p.duplicateOf}`)
      : recordAudit(c, 'created', doc.kind, doc.id, name));
  } else if (doc.kind !== 'delivery' && outcome.changed.length > 0) {
    const what = outcome.changed.map((f) => FIELD_LABELS[f] ?? f).join(', ');
    await recordAudit(c, 'edited', doc.kind, doc.id, name, `version ${doc.version}: ${what}`);
  }
  if (outcome.changed.includes('preparation') && doc.fields.preparation) {
    const s = doc.fields.preparation as PreparationSummary;
    const detail = `Targeted ${s.targeted}, to deliver ${s.toDeliver}, excluded ${s.excluded}; content ${s.contentHash}`;
    await recordAudit(c, 'prepared', 'delivery', doc.id, name, detail);
  }
  if (outcome.deleted) await recordAudit(c, 'deleted', doc.kind, doc.id, name);
}

export const work = new Hono<AppEnv>()
  .get('/changes', query(changesQuery), async (c) => {
    const { since, limit } = c.req.valid('query');
    return c.json(await c.var.services.work.changesSince(since, limit), 200);
  })
  .post('/push', jsonBody(push), async (c) => {
    const { work, bus, now } = c.var.services;
    const { pushes } = c.req.valid('json');
    const { outcomes, refused } = await work.push(pushes, c.var.user, now().toISOString(), (current, p) => problemOf(c, current, p));
    let changed = false;
    for (const outcome of outcomes) {
      if (outcome.changed.length || outcome.created || outcome.deleted) changed = true;
      await audit(
        c,
        pushes.find((p) => p.id === outcome.doc.id)!,
        outcome,
      );
    }
    if (changed) bus.signal('work');
    return c.json({ docs: outcomes.map((o) => o.doc), refused }, 200);
  })
  // One event when the stream opens and one after every change: the cursor to pull up to.
  .get('/events', (c) => {
    const { work, bus } = c.var.services;
    const cursor = async () => ({ cursor: await work.cursor() });
    return liveStream(c, 'work', cursor, (push) => bus.onSignal('work', () => void cursor().then(push, () => undefined)));
  })
  .post('/:id/approve', params(z.object({ id: docId })), jsonBody(approve), async (c) => {
    const { work, bus, now } = c.var.services;
    const id = c.req.valid('param').id;
    const { contentHash: hash } = c.req.valid('json');
    const doc = await work.get(id);
    if (!doc || doc.kind !== 'delivery' || doc.deleted) {
      return c.json({ error: 'delivery-not-found', message: 'There is no such delivery among the team’s.' }, 404);
    }
    if (!(await asksForApproval(work, doc))) {
      return c.json(
        { error: 'approval-not-needed', message: 'This delivery’s typology does not ask for approval: it can be sent as it is.' },
        409,
      );
    }
    const preparation = doc.fields.preparation as PreparationSummary | null | undefined;
    if (!preparation || preparation.contentHash !== hash) {
      const message = 'This is not the delivery’s latest preparation: it was prepared again, or edited, since. Approve the latest one.';
      return c.json({ error: 'stale-preparation', message }, 409);
    }
    const preparer = doc.stamps.preparation?.by;
    if (preparer === c.var.user) {
      return c.json({ error: 'own-preparation', message: 'You prepared this delivery: another operator must approve it.' }, 403);
    }
    const approved = await work.approve(id, { contentHash: hash, by: c.var.user, at: now().toISOString() });
    await recordAudit(c, 'approved', 'delivery', id, nameOf(doc), `the preparation ${hash} by ${preparer ?? 'unknown'}`);
    bus.signal('work');
    return c.json({ doc: approved }, 200);
  });
