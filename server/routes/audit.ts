/**
 * The audit log over HTTP, for every role: a page of entries newest first (by object, actor
 * or action; the next page starts `before` the last id), and the whole filtered log as CSV,
 * streamed in pages, its cells neutralized against spreadsheet formulas.
 */

import { Hono } from 'hono';
import { z } from 'zod';
import { neutralize } from '../audience/export';
import { csvCell } from '../audience/importer';
import type { AppEnv } from '../services';
import { AUDIT_ACTIONS, type AuditFilter, type AuditStore } from '../store/audit';
import { query } from './validate';

const filters = {
  object: z.string().min(1).max(200).optional(),
  actor: z.string().min(1).max(200).optional(),
  action: z.enum(AUDIT_ACTIONS).optional(),
  before: z.coerce.number().int().min(1).optional(),
};
const listQuery = z.object({ ...filters, limit: z.coerce.number().int().min(1).max(500).default(100) });
const exportQuery = z.object(filters);

const PAGE = 1_000;

/** Returns the store's filter for the query's (`object` is the object's id). */
const filterOf = (q: z.infer<typeof exportQuery>, limit: number): AuditFilter => ({
  objectId: q.object,
  actor: q.actor,
  action: q.action,
  before: q.before,
  limit,
});

export const audit = new Hono<AppEnv>()
  .get('/', query(listQuery), async (c) => {
    const q = c.req.valid('query');
    return c.json({ entries: await c.var.services.audit.list(filterOf(q, q.limit)) }, 200);
  })
  .get('/export.csv', query(exportQuery), (c) => {
    const { audit, now } = c.var.services;
    return c.body(auditCsv(audit, filterOf(c.req.valid('query'), PAGE)), 200, {
      'Content-Type': 'text/csv; charset=utf-8',
      'Content-Disposition': `attachment; filename="audit-${now().toISOString().slice(0, 10)}.csv"`,
    });
  });

/** The filtered log as CSV, newest first, read a page at a time by id (never OFFSET). */
function auditCsv(audit: AuditStore, filter: AuditFilter): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let before = filter.before;
  let header = true;
  return new ReadableStream({
    async pull(controller) {
      if (header) {
        header = false;
        return controller.enqueue(encoder.encode('at,actor,action,object_kind,object_id,object_name,detail\r\n'));
      }
      const page = await audit.list({ ...filter, before });
      if (page.length === 0) return controller.close();
      before = page[page.length - 1].id;
      const lines = page.map((e) =>
        [e.at, e.actor, e.action, e.objectKind, e.objectId, e.objectName, e.detail].map((cell) => csvCell(neutralize(cell))).join(','),
      );
      controller.enqueue(encoder.encode(lines.join('\r\n') + '\r\n'));
    },
  });
}
