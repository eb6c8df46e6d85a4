/**
 * A delivery's reports, read from the journal, the exclusions and the tracking events: opens
 * and clicks over time, top links, failures by reason, exclusions by cause, and the
 * per-recipient log of everyone targeted — the recipients, then the profiles the preparation
 * excluded, with the rule that excluded them. People only, except where machines are named.
 * Reads flush the tracking events waiting first (tracking.ts).
 */

import { addressProblem } from '../../shared/email-address';

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
  report(deliveryId: string): Promise<DeliveryReport>;
  /**
   * Returns up to `limit` rows after `afterSeq` in order, filtered by status and by a part of
   * the address: the recipients, then (for `all` and `excluded`) the profiles the preparation
   * excluded, whose numbers follow the recipients'.
   */
  recipients(deliveryId: string, filter: RecipientFilter, query: string, afterSeq: number, limit: number): Promise<RecipientRow[]>;
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

/**
 * Which journal rows a filter of the delivery log keeps, as SQL both engines read (the
 * journal aliased `j`); `all` is each engine's own truth (1, TRUE).
 */
export const STATUS_WHERE: Record<Exclude<RecipientFilter, 'all'>, string> = {
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

/** The filters whose log lists the profiles the preparation excluded too (after the recipients). */
export const EXCLUDED_TOO: ReadonlySet<RecipientFilter> = new Set<RecipientFilter>(['all', 'excluded']);

/** Returns true when a report of activity from `first` to `last` (ISO) counts by hour: past three hours of it. */
export const hourly = (first: string | null, last: string | null) =>
  first !== null && last !== null && Date.parse(last) - Date.parse(first) > 3 * 3_600_000;

/** What a report is made of, as the engines read it. */
export interface ReportRows {
  hourly: boolean;
  /** Opens and clicks by bucket: the first 16 characters of the ISO time (minute), or 13 (hour). */
  points: { bucket: string; opens: number; clicks: number }[];
  topLinks: DeliveryReport['topLinks'];
  failures: { reply: string | null; n: number }[];
  /** The preparation's exclusions by cause (the delivery's excluded_by_cause, as JSON). */
  preparedByCause: string | undefined;
  /** Exclusions at send time, by what suppressed them. */
  excludedAtSend: { reply: string | null; n: number }[];
}

/** Returns the report from what the engine read. */
export function reportFrom(rows: ReportRows): DeliveryReport {
  const reasons = new Map<string, number>();
  for (const row of rows.failures) {
    const reason = reasonOf(row.reply);
    reasons.set(reason, (reasons.get(reason) ?? 0) + Number(row.n));
  }
  const prepared = JSON.parse(rows.preparedByCause ?? '{}') as Record<string, number>;
  const exclusions = Object.entries(prepared).map(([cause, count]) => ({ cause, count }));
  for (const row of rows.excludedAtSend) exclusions.push({ cause: row.reply ?? 'suppressed after preparation', count: Number(row.n) });
  return {
    bucket: rows.hourly ? 'hour' : 'minute',
    timeline: rows.points.map((p) => ({
      at: `${p.bucket}${rows.hourly ? ':00' : ''}:00.000Z`,
      opens: Number(p.opens),
      clicks: Number(p.clicks),
    })),
    topLinks: rows.topLinks.map((l) => ({ url: l.url, clickers: Number(l.clickers), clicks: Number(l.clicks) })),
    failuresByReason: [...reasons].map(([reason, count]) => ({ reason, count })).sort((a, b) => b.count - a.count),
    exclusionsByCause: exclusions,
  };
}

/** Returns a profile the preparation excluded as a row of the delivery log. */
export function excludedRow(x: { seq: number; email: string; rule: string; cause: string; updatedAt: string | null }): RecipientRow {
  return {
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
  };
}
