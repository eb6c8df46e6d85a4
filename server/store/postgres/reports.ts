/** A delivery's reports in PostgreSQL (see ../reports.ts). */

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
  type ControlComparison,
  type RecipientFilter,
  type RecipientRow,
  type ReportStore,
} from '../reports';
import { numbered, type Pg } from './database';

const WHERE: Record<RecipientFilter, string> = { all: 'TRUE', ...STATUS_WHERE };

/** Returns the report store; `flushEvents` writes the tracking events waiting, before every read. */
export function postgresReportStore(sql: Pg, flushEvents: () => Promise<void>): ReportStore {
  const controlGroup = async (id: string): Promise<ControlComparison | null> => {
    const [row] = await sql<
      { started_at: string | null; excluded_by_cause: string }[]
    >`SELECT started_at, excluded_by_cause FROM deliveries WHERE id = ${id}`;
    const since = row?.started_at ?? null;
    // Only a delivery whose preparation held a control group out has one to compare.
    if (since === null || !row.excluded_by_cause.includes('"control-group"')) return null;
    const [groups, later] = await Promise.all([
      sql.unsafe(numbered(CONTROL_GROUP_SQL), [id, id, id, since, since], { prepare: true }) as unknown as Promise<
        ControlGroupRows['groups']
      >,
      sql.unsafe(numbered(LATER_DELIVERIES_SQL), [id, since], { prepare: true }) as unknown as Promise<{ n: number }[]>,
    ]);
    return controlGroupFrom({ since, groups, later: later[0].n });
  };
  return {
    async report(deliveryId) {
      await flushEvents();
      const [{ first, last }] = await sql<{ first: string | null; last: string | null }[]>`
        SELECT MIN(at) AS first, MAX(at) AS last FROM tracking_events
        WHERE delivery_id = ${deliveryId} AND machine = 0 AND kind IN ('open', 'click')`;
      const byHour = hourly(first, last);
      const [points, topLinks, failures, prepared, excludedAtSend] = await Promise.all([
        // ISO times: the first 16 characters are the minute, the first 13 the hour.
        sql<{ bucket: string; opens: number; clicks: number }[]>`
          SELECT substr(at, 1, ${byHour ? 13 : 16}::int) AS bucket, SUM(CASE WHEN kind = 'open' THEN 1 ELSE 0 END) AS opens,
            SUM(CASE WHEN kind = 'click' THEN 1 ELSE 0 END) AS clicks
          FROM tracking_events WHERE delivery_id = ${deliveryId} AND machine = 0 AND kind IN ('open', 'click')
          GROUP BY bucket ORDER BY bucket`,
        sql<{ url: string; clickers: number; clicks: number }[]>`
          SELECT l.url, COUNT(DISTINCT e.journal_id) AS clickers, COUNT(*) AS clicks
          FROM tracking_events e JOIN links l ON l.id = e.link_id
          WHERE e.delivery_id = ${deliveryId} AND e.kind = 'click' AND e.machine = 0
          GROUP BY e.link_id, l.url ORDER BY clickers DESC, clicks DESC LIMIT 10`,
        sql<{ reply: string | null; n: number }[]>`SELECT smtp_reply AS reply, COUNT(*) AS n FROM journal
          WHERE delivery_id = ${deliveryId} AND status IN ('failed', 'bounced') GROUP BY smtp_reply`,
        sql<{ excluded_by_cause: string }[]>`SELECT excluded_by_cause FROM deliveries WHERE id = ${deliveryId}`,
        sql<{ reply: string | null; n: number }[]>`SELECT smtp_reply AS reply, COUNT(*) AS n FROM journal
          WHERE delivery_id = ${deliveryId} AND status = 'excluded' GROUP BY smtp_reply`,
      ]);
      return reportFrom(
        { hourly: byHour, points, topLinks, failures, preparedByCause: prepared[0]?.excluded_by_cause, excludedAtSend },
        await controlGroup(deliveryId),
      );
    },
    async recipients(deliveryId, filter, query, afterSeq, limit) {
      await flushEvents();
      const needle = query.trim().toLowerCase();
      const found = (await sql.unsafe(
        numbered(`SELECT j.seq, j.email, j.status, j.smtp_reply AS reply, j.attempts, j.updated_at AS "updatedAt",
           EXISTS (SELECT 1 FROM tracking_events e WHERE e.journal_id = j.id AND e.kind = 'open' AND e.machine = 0) AS opened,
           EXISTS (SELECT 1 FROM tracking_events e WHERE e.journal_id = j.id AND e.kind = 'click' AND e.machine = 0) AS clicked
         FROM journal j
         WHERE j.delivery_id = ? AND j.seq > ? AND strpos(j.email, ?) > 0 AND ${WHERE[filter]}
         ORDER BY j.seq LIMIT ?`),
        [deliveryId, afterSeq, needle, limit],
        { prepare: true },
      )) as unknown as (Omit<RecipientRow, 'rule' | 'cause'> & { opened: boolean; clicked: boolean })[];
      const rows: RecipientRow[] = found.map((r) => ({ ...r, rule: null, cause: null }));
      // Every exclusion's number is above every recipient's: once the recipients run out, the exclusions follow.
      if (rows.length < limit && EXCLUDED_TOO.has(filter)) {
        const excluded = await sql<Parameters<typeof excludedRow>[0][]>`
          SELECT x.seq, x.email, x.rule, x.cause, d.committed_at AS "updatedAt"
          FROM exclusions x JOIN deliveries d ON d.id = x.delivery_id
          WHERE x.delivery_id = ${deliveryId} AND x.staged = 0 AND x.seq > ${afterSeq} AND strpos(x.email, ${needle}) > 0
          ORDER BY x.seq LIMIT ${limit - rows.length}`;
        for (const x of excluded) rows.push(excludedRow(x));
      }
      return rows;
    },
  };
}
