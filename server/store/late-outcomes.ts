/**
 * What arrives after a message was accepted: bounces and complaints reported later, each kept
 * with the journal row it is about (server/bounces/). Soft bounces are counted per address;
 * the rates of a delivery are what its automatic pause looks at.
 */

import type { LateKind } from '../bounces/reports';

export interface LateOutcome {
  journalId: number;
  deliveryId: string;
  email: string;
  kind: LateKind;
  status: string;
  diagnostic: string;
  mailboxFull: boolean;
  receivedAt: string;
}

/** The journal row a report names, as it was sent. */
export interface SentRow {
  journalId: number;
  deliveryId: string;
  email: string;
  profileId: number;
}

/** The list's health: how many addresses are suppressed, and when they became so, by day. */
export interface ListHealth {
  totals: { profiles: number; unsubscribed: number; denylisted: number; quarantined: number };
  /** Days (YYYY-MM-DD, UTC) since the one asked for, with what happened on each: days without anything are left out. */
  days: { day: string; unsubscribed: number; denylisted: number; quarantined: number }[];
  /** Bounces and complaints by day since the day asked for: refused at send (the relay's reply), and reported later by kind. */
  bounces: ({ day: string } & BounceCounts)[];
  /** The same by recipient domain, the ten with most first. */
  bounceDomains: ({ domain: string } & BounceCounts)[];
}

export interface BounceCounts {
  atSend: number;
  hardBounce: number;
  softBounce: number;
  complaint: number;
}

/**
 * Bounces and complaints by day and recipient domain, in SQL both engines read but for the
 * function that finds the @ (`instr` in SQLite, `strpos` in PostgreSQL): the late outcomes
 * received since then, and the messages refused at send by deliveries started since then.
 */
export const bounceRowsSql = (find: 'instr' | 'strpos') => `
  SELECT substr(received_at, 1, 10) AS day, lower(substr(email, ${find}(email, '@') + 1)) AS domain, kind AS what, COUNT(*) AS n
    FROM late_outcomes WHERE received_at >= ? GROUP BY 1, 2, 3
  UNION ALL SELECT substr(j.updated_at, 1, 10), lower(substr(j.email, ${find}(j.email, '@') + 1)), 'at-send', COUNT(*)
    FROM journal j JOIN deliveries d ON d.id = j.delivery_id
    WHERE d.started_at >= ? AND j.status = 'bounced' AND j.updated_at >= ? GROUP BY 1, 2`;

const BOUNCE_KEYS: Record<string, keyof BounceCounts> = {
  'at-send': 'atSend',
  'hard-bounce': 'hardBounce',
  'soft-bounce': 'softBounce',
  complaint: 'complaint',
};

/** Folds the rows of bounceRowsSql into days (in order) and the ten domains with most. */
export function foldBounces(
  rows: readonly { day: string; domain: string; what: string; n: number | string }[],
): Pick<ListHealth, 'bounces' | 'bounceDomains'> {
  const none = (): BounceCounts => ({ atSend: 0, hardBounce: 0, softBounce: 0, complaint: 0 });
  const days = new Map<string, { day: string } & BounceCounts>();
  const domains = new Map<string, { domain: string } & BounceCounts>();
  for (const row of rows) {
    const key = BOUNCE_KEYS[row.what];
    if (!key) continue;
    const day = days.get(row.day) ?? { day: row.day, ...none() };
    const domain = domains.get(row.domain) ?? { domain: row.domain, ...none() };
    day[key] += Number(row.n);
    domain[key] += Number(row.n);
    days.set(row.day, day);
    domains.set(row.domain, domain);
  }
  const total = (c: BounceCounts) => c.atSend + c.hardBounce + c.softBounce + c.complaint;
  return {
    bounces: [...days.values()].sort((a, b) => a.day.localeCompare(b.day)),
    bounceDomains: [...domains.values()].sort((a, b) => total(b) - total(a) || a.domain.localeCompare(b.domain)).slice(0, 10),
  };
}

/** The list's health in SQL both engines read (ISO times are text in both). */
export const LIST_HEALTH_TOTALS = `SELECT
  (SELECT COUNT(*) FROM profiles) AS profiles,
  (SELECT COUNT(*) FROM profiles WHERE status = 'unsubscribed') AS unsubscribed,
  (SELECT COUNT(*) FROM denylist) AS denylisted,
  (SELECT COUNT(*) FROM quarantine) AS quarantined`;
export const LIST_HEALTH_DAYS = `SELECT substr(at, 1, 10) AS day, 'quarantined' AS what, COUNT(*) AS n FROM quarantine WHERE at >= ? GROUP BY 1
  UNION ALL SELECT substr(added_at, 1, 10), 'denylisted', COUNT(*) FROM denylist WHERE added_at >= ? GROUP BY 1
  UNION ALL SELECT substr(status_changed_at, 1, 10), 'unsubscribed', COUNT(*) FROM profiles
    WHERE status = 'unsubscribed' AND status_changed_at >= ? GROUP BY 1`;

/** Folds the rows of LIST_HEALTH_DAYS into days, in order. */
export function foldDays(rows: readonly { day: string; what: string; n: number | string }[]): ListHealth['days'] {
  const days = new Map<string, ListHealth['days'][number]>();
  for (const row of rows) {
    const day = days.get(row.day) ?? { day: row.day, unsubscribed: 0, denylisted: 0, quarantined: 0 };
    day[row.what as 'unsubscribed' | 'denylisted' | 'quarantined'] = Number(row.n);
    days.set(row.day, day);
  }
  return [...days.values()].sort((a, b) => a.day.localeCompare(b.day));
}

export interface LateOutcomeStore {
  /** The list's health since this day (ISO). */
  listHealth(since: string): Promise<ListHealth>;
  /** Returns the row of this id when its message was sent (a report about anything else is not ours). */
  sentRow(journalId: number): Promise<SentRow | undefined>;
  /** Returns the latest row sent to this address (for a report that names only the address). */
  latestSentTo(email: string): Promise<SentRow | undefined>;
  /** Keeps the outcome; resolves false when this row already has one of this kind and status (a report delivered twice). */
  record(outcome: LateOutcome): Promise<boolean>;
  /** Soft bounces of the address received since then (ISO). */
  softBouncesSince(email: string, since: string): Promise<number>;
  /** The delivery's messages sent, and its rows reported later as hard bounces and as complaints. */
  rates(deliveryId: string): Promise<{ sent: number; hardBounces: number; complaints: number }>;
  /** The delivery's late outcomes counted by kind and by the recipient's domain, the most first. */
  byKindAndDomain(deliveryId: string): Promise<{ kind: LateKind; domain: string; count: number }[]>;
  /** The late outcomes of these recipients of a delivery, by their place in it (its log), oldest first. */
  ofRecipients(deliveryId: string, seqs: readonly number[]): Promise<(LateOutcome & { seq: number })[]>;
}
