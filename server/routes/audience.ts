/**
 * The audience of record: what replicas pull (changes since a cursor, in pages, and the
 * schema), a profile with its suppression and sends, search and deletion (one profile, or
 * every profile matching a search once the operator confirmed how many), the demo audience's
 * removal, CSV import and export, and the denylist. Each change is written to the audit log
 * (a deleted profile by its number only, never its address).
 */

import { Readable } from 'node:stream';
import { normalizeEmail } from '../../shared/email-address';
import { Hono } from 'hono';
import { etag } from 'hono/etag';
import { exportCsv } from '../audience/export';
import { importCsv } from '../audience/importer';
import { z } from 'zod';
import { DEMO_SCHEMA, demoProfilesLeft, removeDemoAudience } from '../seed';
import type { AppEnv } from '../services';
import { recordAudit } from './audit-trail';
import { jsonBody, params, query } from './validate';

const changesQuery = z.object({
  since: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(20_000).default(5_000),
});

const historyQuery = z.object({ days: z.coerce.number().int().min(1).max(366).default(90) });
const engagementQuery = z.object({ days: z.coerce.number().int().min(1).max(731).default(365) });

// How a number or date column is written: 1.234,56 or 1,234.56; 31-12-1990, 12/31/1990 or 1990-12-31.
const valueFormat = { decimal: z.enum([',', '.']).optional(), dates: z.enum(['ymd', 'dmy', 'mdy']).optional() };
const columnTarget = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('field'), name: z.enum(['email', 'first_name', 'last_name', 'locale', 'time_zone', 'status']) }),
  z.object({ kind: z.literal('attribute'), name: z.string().min(1).max(64), ...valueFormat }),
  z.object({
    kind: z.literal('new-attribute'),
    name: z.string().min(1).max(64),
    type: z.enum(['text', 'number', 'date', 'boolean', 'tags']),
    ...valueFormat,
  }),
  z.object({ kind: z.literal('ignore') }),
]);
const importQuery = z.object({
  fileName: z.string().min(1).max(255).default('import.csv'),
  mapping: z
    .string()
    .transform((text, ctx) => {
      try {
        return JSON.parse(text) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'the mapping is not JSON' });
        return z.NEVER;
      }
    })
    .pipe(z.array(columnTarget).max(500))
    .optional(),
});
const profileParams = z.object({ id: z.coerce.number().int().min(1) });
const searchQuery = z.object({
  search: z.string().trim().min(1).max(200),
  limit: z.coerce.number().int().min(0).max(1_000).default(25),
});
// The operator confirms a count; the deletion happens only if the search still matches that many.
const deleteQuery = z.object({ search: z.string().trim().min(1).max(200), expected: z.coerce.number().int().min(1) });
const denyBody = z.object({ email: z.string().min(3).max(254), reason: z.string().min(1).max(500) });

export const audience = new Hono<AppEnv>()
  .get('/changes', query(changesQuery), async (c) => {
    const { since, limit } = c.req.valid('query');
    return c.json(await c.var.services.audience.changesSince(since, limit), 200);
  })
  .get('/count', async (c) => c.json({ total: await c.var.services.audience.count() }, 200))
  // The list's health over the last 30 days: what was unsubscribed, denylisted and quarantined, by day.
  .get('/health', async (c) => {
    const since = new Date(c.var.services.now().getTime() - 30 * 86_400_000).toISOString().slice(0, 10);
    return c.json(await c.var.services.stores.lateOutcomes.listHealth(since), 200);
  })
  .get('/contact-history', query(historyQuery), async (c) => {
    const since = new Date(Date.now() - c.req.valid('query').days * 86_400_000);
    return c.json({ entries: await c.var.services.audience.contactHistory(since) }, 200);
  })
  // What engagement conditions read on the device: who received, opened and clicked the deliveries of the last `days`.
  // With its ETag: a replica that has it already is answered 304 (a million ids need not travel every five minutes).
  .get('/engagement', etag(), query(engagementQuery), async (c) => {
    const since = new Date(c.var.services.now().getTime() - c.req.valid('query').days * 86_400_000);
    return c.json(await c.var.services.tracking.engagement(since), 200);
  })
  .get('/schema', async (c) => c.json({ attributes: await c.var.services.audience.schema() }, 200))
  .get('/profiles/:id', params(profileParams), async (c) => {
    const { audience } = c.var.services;
    const profile = await audience.get(c.req.valid('param').id);
    if (!profile) return c.json({ error: 'profile-not-found', message: 'There is no such profile in the audience of record.' }, 404);
    const [suppression, recentSends] = await Promise.all([audience.suppression(profile.email), audience.recentSends(profile.id, 20)]);
    return c.json({ profile, suppression, recentSends }, 200);
  })
  .get('/profiles', query(searchQuery), async (c) => {
    const { search, limit } = c.req.valid('query');
    return c.json(await c.var.services.audience.search(search, limit), 200);
  })
  .delete('/profiles', query(deleteQuery), async (c) => {
    const { search, expected } = c.req.valid('query');
    const outcome = await c.var.services.audience.deleteMatching(search, expected);
    if (outcome.ok) {
      await recordAudit(c, 'profiles-deleted', 'audience', 'search', 'Audience', `${outcome.deleted} profiles matching "${search}"`);
      return c.json({ deleted: outcome.deleted }, 200);
    }
    return c.json(
      {
        error: 'search-changed',
        message: `"${search}" now matches ${outcome.matching.toLocaleString('en-US')} profiles, not the ${expected.toLocaleString('en-US')} you confirmed: the audience changed meanwhile, and nothing was deleted. Check the list and delete again.`,
      },
      409,
    );
  })
  .get('/demo', async (c) => {
    const { audience } = c.var.services;
    const names = new Set(DEMO_SCHEMA.map((a) => a.name));
    const [profiles, schema] = await Promise.all([demoProfilesLeft(audience), audience.schema()]);
    return c.json({ profiles, attributes: schema.filter((a) => names.has(a.name)) }, 200);
  })
  .delete('/demo', async (c) => {
    const removal = await removeDemoAudience(c.var.services.audience);
    const detail = `${removal.deleted} demo profiles deleted, ${removal.kept} written by an import since kept`;
    await recordAudit(c, 'profiles-deleted', 'audience', 'demo', 'Demo audience', detail);
    return c.json(removal, 200);
  })
  .delete('/profiles/:id', params(profileParams), async (c) => {
    const { id } = c.req.valid('param');
    if (!(await c.var.services.audience.delete(id))) {
      return c.json({ error: 'profile-not-found', message: 'There is no such profile in the audience of record.' }, 404);
    }
    // Named by its number only: the log outlives the profile, and must not keep its address.
    await recordAudit(c, 'profiles-deleted', 'audience', `profile-${id}`, `Profile ${id}`, '1 profile');
    return c.json({ deleted: true }, 200);
  })
  .post('/imports', query(importQuery), async (c) => {
    const { fileName, mapping } = c.req.valid('query');
    const body = c.req.raw.body;
    if (!body)
      return c.json(
        { error: 'empty-file', message: 'The file is empty. Choose a CSV file with a header line and one profile per line.' },
        400,
      );
    const { audience, now } = c.var.services;
    const startedAt = now().toISOString();
    const outcome = await importCsv(Readable.fromWeb(body as import('node:stream/web').ReadableStream), audience, {
      fileName,
      mapping,
      now,
    });
    if (!outcome.ok) return c.json({ error: outcome.code, message: outcome.message }, 422);
    const { summary } = outcome;
    await audience.saveImport({ ...summary, startedAt, finishedAt: now().toISOString(), report: outcome.report });
    const counts = `${summary.rows} rows: ${summary.inserted} new, ${summary.updated} updated, ${summary.rejected} rejected`;
    await recordAudit(c, 'imported', 'audience', summary.id, summary.fileName, `"${summary.fileName}", ${counts}`);
    return c.json(summary, 200);
  })
  .get('/imports/:id/report', async (c) => {
    const stored = await c.var.services.audience.importReport(c.req.param('id'));
    if (!stored) return c.json({ error: 'import-not-found', message: 'There is no such import.' }, 404);
    const name = `${stored.fileName.replace(/\.csv$/i, '').replace(/[^\w.-]+/g, '_')}-rejected.csv`;
    return c.body(stored.report, 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="${name}"`,
    });
  })
  .get('/export', (c) =>
    c.body(exportCsv(c.var.services.audience), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="audience-${c.var.services.now().toISOString().slice(0, 10)}.csv"`,
    }),
  )
  .put('/denylist', jsonBody(denyBody), async (c) => {
    const { email, reason } = c.req.valid('json');
    const address = normalizeEmail(email);
    await c.var.services.audience.denylist(email, reason, c.var.user, c.var.services.now());
    await recordAudit(c, 'denylisted', 'audience', address, address, reason);
    return c.json({ email: email.trim().toLowerCase(), reason }, 200);
  })
  .delete('/denylist', jsonBody(z.object({ email: z.string().min(3) })), async (c) => {
    const { email } = c.req.valid('json');
    if (!(await c.var.services.audience.undeny(email))) {
      return c.json({ error: 'not-denylisted', message: 'That address is not on the denylist.' }, 404);
    }
    const address = normalizeEmail(email);
    await recordAudit(c, 'undenylisted', 'audience', address, address);
    return c.json({ removed: true }, 200);
  });
