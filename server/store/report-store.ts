/**
 * A delivery's reports, read from the journal, the exclusions and the tracking events: opens
 * and clicks over time, top links, failures by reason, exclusions by cause, and the
 * per-recipient log of everyone targeted — the recipients, then the profiles the preparation
 * excluded, with the rule that excluded them. People only, except where machines are named.
 */

import { addressProblem } from '../../shared/email-address';
import type { Db } from './database';

export interface TimelinePoint {
  /** Start of the bucket (ISO). */
  at: string;
  opens: number;
  clicks: number;
}

export interface DeliveryReport {
  /** "minute" for the first three hours of activity, "hour" after. */
  bucket: 'minute' | 'hour';
  timeline: TimelinePoint[];
  topLinks: { url: string; clickers: number; clicks: number }[];
  failuresByReason: { reason: string; count: number }[];
  /** At preparation (by cause) and at send time (suppressed after preparation, by what). */
  exclusionsByCause: { cause: string; count: number }[];
}

export type RecipientFilter =
  'all' | 'sent' | 'failed' | 'bounced' | 'excluded' | 'cancelled' | 'pending' | 'unknown' | 'opened' | 'clicked';

export interface RecipientRow {
  seq: number;
  email: string;
  /** The journal's status; `excluded` for a profile the preparation excluded, and for one suppressed after it. */
  status: string;
  /**
   * The SMTP reply; for one suppressed at send time what suppressed it ("suppressed after
   * preparation (unsubscribed)"); for an address the preparation excluded as invalid, why
   * (`not a valid email address`, `needs a relay that offers SMTPUTF8`).
   */
  reply: string | null;
  attempts: number;
  updatedAt: string;
  opened: boolean;
  clicked: boolean;
  /** For a profile the preparation excluded: the rule's name and its cause; null for a recipient. */
  rule: string | null;
  cause: string | null;
}

export interface ReportStore {
  report(deliveryId: string): DeliveryReport;
  /**
   * Returns up to `limit` rows after `afterSeq` in order, filtered by status and by a part of
   * the address: the recipients, then (for `all` and `excluded`) the profiles the preparation
   * excluded, whose numbers follow the recipients'.
   */
  recipients(deliveryId: string, filter: RecipientFilter, query: string, afterSeq: number, limit: number): RecipientRow[];
}

const STATUS_WHERE: Record<RecipientFilter, string> = {
  all: '1',
  sent: "j.status = 'sent'",
  failed: "j.status = 'failed'",
  bounced: "j.status = 'bounced'",
  excluded: "j.status = 'excluded'",
  cancelled: "j.status = 'cancelled'",
  pending: "j.status IN ('queued', 'retrying', 'sending')",
  unknown: "j.status = 'unknown'",
  opened: "EXISTS (SELECT 1 FROM tracking_events e WHERE e.journal_id = j.id AND e.kind = 'open' AND e.machine = 0)",
  clicked: "EXISTS (SELECT 1 FROM tracking_events e WHERE e.journal_id = j.id AND e.kind = 'click' AND e.machine = 0)",
};

export function sqliteReportStore(db: Db): ReportStore {
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
  const recipientQueries = new Map<RecipientFilter, { all(...params: unknown[]): unknown[] }>();
  const recipientQuery = (filter: RecipientFilter) => {
    let statement = recipientQueries.get(filter);
    if (!statement) {
      statement = db.prepare(
        `SELECT j.seq, j.email, j.status, j.smtp_reply AS reply, j.attempts, j.updated_at AS updatedAt,
           EXISTS (SELECT 1 FROM tracking_events e WHERE e.journal_id = j.id AND e.kind = 'open' AND e.machine = 0) AS opened,
           EXISTS (SELECT 1 FROM tracking_events e WHERE e.journal_id = j.id AND e.kind = 'click' AND e.machine = 0) AS clicked
         FROM journal j
         WHERE j.delivery_id = ? AND j.seq > ? AND instr(j.email, ?) > 0 AND ${STATUS_WHERE[filter]}
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
  const excludedToo = new Set<RecipientFilter>(['all', 'excluded']);

  return {
    report(deliveryId) {
      const { first, last } = span.get(deliveryId) as { first: string | null; last: string | null };
      const hourly = first !== null && last !== null && Date.parse(last) - Date.parse(first) > 3 * 3_600_000;
      // ISO times: the first 16 characters are the minute, the first 13 the hour.
      const points = timeline.all(hourly ? 13 : 16, deliveryId) as { bucket: string; opens: number; clicks: number }[];
      const reasons = new Map<string, number>();
      for (const row of failures.all(deliveryId) as { reply: string | null; n: number }[]) {
        const reason = reasonOf(row.reply);
        reasons.set(reason, (reasons.get(reason) ?? 0) + row.n);
      }
      const prepared = JSON.parse((preparedExclusions.get(deliveryId) as string | undefined) ?? '{}') as Record<string, number>;
      const exclusions = Object.entries(prepared).map(([cause, count]) => ({ cause, count }));
      for (const row of excludedAtSend.all(deliveryId) as { reply: string | null; n: number }[]) {
        exclusions.push({ cause: row.reply ?? 'suppressed after preparation', count: row.n });
      }
      return {
        bucket: hourly ? 'hour' : 'minute',
        timeline: points.map((p) => ({ at: `${p.bucket}${hourly ? ':00' : ''}:00.000Z`, opens: p.opens, clicks: p.clicks })),
        topLinks: topLinks.all(deliveryId) as DeliveryReport['topLinks'],
        failuresByReason: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
        exclusionsByCause: exclusions,
      };
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
      if (rows.length < limit && excludedToo.has(filter)) {
        const excluded = exclusionRows.all(deliveryId, afterSeq, needle, limit - rows.length) as {
          seq: number;
          email: string;
          rule: string;
          cause: string;
          updatedAt: string | null;
        }[];
        for (const x of excluded) {
          rows.push({
            seq: x.seq,
            email: x.email,
            status: 'excluded',
            reply: x.cause === 'invalid-address' ? addressProblem(x.email) : null,
            attempts: 0,
            updatedAt: x.updatedAt ?? '',
            opened: false,
            clicked: false,
            rule: x.rule,
            cause: x.cause,
          });
        }
      }
      return rows;
    },
  };
}

/**
 * Returns a failure's reason as a report groups it: the enhanced status code and the first
 * words of the reply ("5.1.1 user unknown"), without what varies per recipient.
 */
export function reasonOf(reply: string | null): string {
  if (!reply) return 'no reply';
  const enhanced = /\b([245]\.\d{1,3}\.\d{1,3})\b/.exec(reply)?.[1];
  const code = /^\s*(\d{3})\b/.exec(reply)?.[1];
  const words = reply
    .replace(/^\s*\d{3}[\s-]*/, '')
    .replace(/\b[245]\.\d{1,3}\.\d{1,3}\b/, '')
    .replace(/<[^>]*>|\S+@\S+/g, '')
    .replace(/^[\s:;,.-]+/, '')
    .trim()
    .split(/\s+/)
    .slice(0, 4)
    .join(' ')
    .toLowerCase();
  return [enhanced ?? code, words].filter(Boolean).join(' ') || 'no reply';
}
