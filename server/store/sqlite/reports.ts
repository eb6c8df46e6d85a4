/** A delivery's reports in SQLite (see ../reports.ts). */

import {
  CONTROL_GROUP_SQL,
  controlGroupFrom,
  EXCLUDED_TOO,
  LATER_DELIVERIES_SQL,
  excludedRow,
  hourly,
  reportFrom,
  STATUS_WHERE,
  type ControlGroupRows,
  type RecipientFilter,
  type RecipientRow,
  type ReportStore,
} from '../reports';
import type { Sync } from '../sync';
import type { Db } from './database';

const WHERE: Record<RecipientFilter, string> = { all: '1', ...STATUS_WHERE };

/** Returns the report store; `flushEvents` writes the tracking events waiting, before every read. */
export function sqliteReportStore(db: Db, flushEvents: () => Promise<void>): ReportStore {
  const store = syncReportStore(db);
  return {
    report: async (id) => (await flushEvents(), store.report(id)),
    recipients: async (...args) => (await flushEvents(), store.recipients(...args)),
  };
}

function syncReportStore(db: Db): Sync<ReportStore> {
  const span = db.prepare(
    "SELECT MIN(at) AS first, MAX(at) AS last FROM tracking_events WHERE delivery_id = ? AND machine = 0 AND kind IN ('open', 'click')",
  );
  const timeline = db.prepare(
    `SELECT substr(at, 1, ?) AS bucket, SUM(kind = 'open') AS opens, SUM(kind = 'click') AS clicks
     FROM tracking_events WHERE delivery_id = ? AND machine = 0 AND kind IN ('open', 'click') GROUP BY bucket ORDER BY bucket`,
  );
  const topLinks = db.prepare(
    `SELECT l.url, COUNT(DISTINCT e.journal_id) AS clickers, COUNT(*) AS clicks
     FROM tracking_events e JOIN links l ON l.id = e.link_id
     WHERE e.delivery_id = ? AND e.kind = 'click' AND e.machine = 0
     GROUP BY e.link_id ORDER BY clickers DESC, clicks DESC LIMIT 10`,
  );
  const failures = db.prepare(
    "SELECT smtp_reply AS reply, COUNT(*) AS n FROM journal WHERE delivery_id = ? AND status IN ('failed', 'bounced') GROUP BY smtp_reply",
  );
  const excludedAtSend = db.prepare(
    "SELECT smtp_reply AS reply, COUNT(*) AS n FROM journal WHERE delivery_id = ? AND status = 'excluded' GROUP BY smtp_reply",
  );
  const preparedExclusions = db.prepare('SELECT excluded_by_cause FROM deliveries WHERE id = ?').pluck();
  const startedAt = db.prepare('SELECT started_at FROM deliveries WHERE id = ?').pluck();
  const controlGroups = db.prepare(CONTROL_GROUP_SQL);
  const laterDeliveries = db.prepare(LATER_DELIVERIES_SQL).pluck();
  const controlGroup = (id: string) => {
    const since = (startedAt.get(id) as string | null | undefined) ?? null;
    // Only a delivery whose preparation held a control group out has one to compare.
    if (since === null || !String(preparedExclusions.get(id) ?? '').includes('"control-group"')) return null;
    const groups = controlGroups.all(id, id, id, since, since) as ControlGroupRows['groups'];
    return controlGroupFrom({ since, groups, later: laterDeliveries.get(id, since) as number });
  };
  const recipientQueries = new Map<RecipientFilter, { all(...params: unknown[]): unknown[] }>();
  const recipientQuery = (filter: RecipientFilter) => {
    let statement = recipientQueries.get(filter);
    if (!statement) {
      statement = db.prepare(
        `SELECT j.seq, j.email, j.status, j.smtp_reply AS reply, j.attempts, j.updated_at AS updatedAt,
           EXISTS (SELECT 1 FROM tracking_events e WHERE e.journal_id = j.id AND e.kind = 'open' AND e.machine = 0) AS opened,
           EXISTS (SELECT 1 FROM tracking_events e WHERE e.journal_id = j.id AND e.kind = 'click' AND e.machine = 0) AS clicked
         FROM journal j
         WHERE j.delivery_id = ? AND j.seq > ? AND instr(j.email, ?) > 0 AND ${WHERE[filter]}
         ORDER BY j.seq LIMIT ?`,
      );
      recipientQueries.set(filter, statement);
    }
    return statement;
  };

  const exclusionRows = db.prepare(
    `SELECT x.seq, x.email, x.rule, x.cause, d.committed_at AS updatedAt
     FROM exclusions x JOIN deliveries d ON d.id = x.delivery_id
     WHERE x.delivery_id = ? AND x.seq > ? AND instr(x.email, ?) > 0
     ORDER BY x.seq LIMIT ?`,
  );

  return {
    report(deliveryId) {
      const { first, last } = span.get(deliveryId) as { first: string | null; last: string | null };
      const byHour = hourly(first, last);
      return reportFrom(
        {
          hourly: byHour,
          // ISO times: the first 16 characters are the minute, the first 13 the hour.
          points: timeline.all(byHour ? 13 : 16, deliveryId) as { bucket: string; opens: number; clicks: number }[],
          topLinks: topLinks.all(deliveryId) as { url: string; clickers: number; clicks: number }[],
          failures: failures.all(deliveryId) as { reply: string | null; n: number }[],
          preparedByCause: preparedExclusions.get(deliveryId) as string | undefined,
          excludedAtSend: excludedAtSend.all(deliveryId) as { reply: string | null; n: number }[],
        },
        controlGroup(deliveryId),
      );
    },
    recipients(deliveryId, filter, query, afterSeq, limit) {
      const needle = query.trim().toLowerCase();
      const rows: RecipientRow[] = (
        recipientQuery(filter).all(deliveryId, afterSeq, needle, limit) as (Omit<RecipientRow, 'opened' | 'clicked' | 'rule' | 'cause'> & {
          opened: number;
          clicked: number;
        })[]
      ).map((r) => ({ ...r, opened: r.opened === 1, clicked: r.clicked === 1, rule: null, cause: null }));
      // Every exclusion's number is above every recipient's: once the recipients run out, the exclusions follow.
      if (rows.length < limit && EXCLUDED_TOO.has(filter)) {
        const excluded = exclusionRows.all(deliveryId, afterSeq, needle, limit - rows.length) as Parameters<typeof excludedRow>[0][];
        for (const x of excluded) rows.push(excludedRow(x));
      }
      return rows;
    },
  };
}
