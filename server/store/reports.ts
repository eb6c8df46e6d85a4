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
  /** The control group against the recipients since the delivery started; null without a control group, or before it started. */
  controlGroup: ControlComparison | null;
}

/** What a group of people did since a delivery started: unsubscribed (by any means), opened or clicked a later delivery. */
export interface GroupFigures {
  people: number;
  unsubscribed: number;
  openedLater: number;
  clickedLater: number;
}

export interface ControlComparison {
  since: string;
  /** Those the delivery was sent to (delivered), and those its control group held out. */
  recipients: GroupFigures;
  control: GroupFigures;
  /** Deliveries that started since: what "later" measures. */
  laterDeliveries: number;
}

/**
 * The control group and the recipients, in SQL both engines run (`?` placeholders): takes
 * the delivery's id three times and its start twice. A group is 1 for the control group.
 * Opens and clicks are people's, on other deliveries, since the start; a click counts as an open.
 */
export const CONTROL_GROUP_SQL = `WITH grp AS (
    SELECT profile_id, 1 AS grp FROM exclusions WHERE delivery_id = ? AND cause = 'control-group' AND seq > 0
    UNION ALL SELECT profile_id, 0 FROM journal WHERE delivery_id = ? AND status = 'sent'),
  later AS (SELECT j.profile_id, MAX(CASE WHEN t.kind = 'click' THEN 1 ELSE 0 END) AS clicked
    FROM tracking_events t JOIN journal j ON j.id = t.journal_id
    WHERE t.delivery_id <> ? AND t.at >= ? AND t.machine = 0 AND t.kind IN ('open', 'click') GROUP BY j.profile_id)
  SELECT g.grp, COUNT(*) AS people,
    SUM(CASE WHEN p.status = 'unsubscribed' AND p.status_changed_at >= ? THEN 1 ELSE 0 END) AS unsubscribed,
    SUM(CASE WHEN l.profile_id IS NULL THEN 0 ELSE 1 END) AS opened, SUM(COALESCE(l.clicked, 0)) AS clicked
  FROM grp g LEFT JOIN profiles p ON p.id = g.profile_id LEFT JOIN later l ON l.profile_id = g.profile_id
  GROUP BY g.grp`;
/** Takes the delivery's id and its start. */
export const LATER_DELIVERIES_SQL = 'SELECT COUNT(*) AS n FROM deliveries WHERE id <> ? AND started_at > ?';

export interface ControlGroupRows {
  since: string | null;
  groups: { grp: number; people: number; unsubscribed: number; opened: number; clicked: number }[];
  later: number;
}

/** Returns the comparison the rows make, or null when there is no control group to compare with. */
export function controlGroupFrom(rows: ControlGroupRows): ControlComparison | null {
  const figures = (grp: number): GroupFigures => {
    const row = rows.groups.find((g) => Number(g.grp) === grp);
    return {
      people: Number(row?.people ?? 0),
      unsubscribed: Number(row?.unsubscribed ?? 0),
      openedLater: Number(row?.opened ?? 0),
      clickedLater: Number(row?.clicked ?? 0),
    };
  };
  const control = figures(1);
  if (rows.since === null || control.people === 0) return null;
  return { since: rows.since, recipients: figures(0), control, laterDeliveries: Number(rows.later) };
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
  pending: "j.status IN ('queued', 'retrying', 'sending', 'held')",
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
export function reportFrom(rows: ReportRows, controlGroup: ControlComparison | null): DeliveryReport {
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
    controlGroup,
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
