/**
 * The send journal: one row per recipient, the engine's only view of storage.
 *
 * Invariants, which is what makes a crash harmless:
 * - a row leaves `queued`/`retrying` only by being claimed (`sending`) or cancelled;
 * - a claimed row leaves `sending` only on an SMTP outcome, a release (pause, shutdown), an
 *   `unsent` outcome (never handed to the relay: back to `queued` like a release, with no
 *   attempt counted) or, at start, by being marked `unknown` (the process died while it was
 *   in flight);
 * - only an SMTP outcome counts an attempt, so a relay that cannot be reached costs no row
 *   its retries;
 * - so after a crash nobody is skipped: every row is either final, still to send, or listed
 *   as `unknown` for the operator to resend or not;
 * - a claim names its node and carries a lease: when several nodes send one delivery, a node
 *   that dies leaves only its own rows to become `unknown`, never another node's;
 * - rows of a batch not yet committed are `staged`: the engine never sees them;
 * - with an A/B test, the rows of the rest of the audience are `held` until the winner is
 *   chosen (chooseWinner), then `queued`, sent with the winner's variant; Stop cancels them.
 */

import type { VariantFigures } from '../../shared/experiment';
import type { TemplateValue } from '../../shared/types';
import type { SmtpOutcome } from '../sending/messenger';

export interface JournalEntry {
  id: number;
  deliveryId: string;
  seq: number;
  profileId: number;
  email: string;
  subject: string;
  values: Record<string, TemplateValue>;
  attempts: number;
  /** With an A/B test: the row's variant in the test population (0 for A); null for the rest (it gets the winner) and without a test. */
  variant: number | null;
}

export interface RecordedOutcome {
  id: number;
  outcome: SmtpOutcome;
  /** For a retry: when to try again (ms since epoch). */
  retryAt?: number;
}

/** Rows of a delivery still to send or undecided, and when the earliest retry is due. */
export interface PendingCounts {
  queued: number;
  retrying: number;
  sending: number;
  unknown: number;
  /** With an A/B test: rows waiting for the winner. */
  held: number;
  /** Queued rows not yet due (a local time, a later wave; not in `queued`), and when the next is. */
  waiting: number;
  nextDueAt: number | null;
  nextRetryAt: number | null;
}

/** How long a claim holds (a row `sending` past it, whatever its node, is left for unknown): far beyond a message's time with the relay. */
export const CLAIM_LEASE_MS = 10 * 60_000;

/**
 * Thrown by claim() when the outcomes it was given were written but the claim itself failed
 * (PostgreSQL writes them in a statement of their own): they must not be written again.
 */
export class ClaimFailedAfterRecording extends Error {
  constructor(cause: unknown) {
    super(`the outcomes were written, the claim failed: ${(cause as Error).message ?? cause}`, { cause });
    this.name = 'ClaimFailedAfterRecording';
  }
}

export interface SendJournal {
  /** Returns the ids of scheduled deliveries whose time has come. */
  dueScheduled(now: Date): Promise<string[]>;
  /** Returns the ids of deliveries in status `sending`. */
  sending(): Promise<string[]>;
  /**
   * Claims up to `limit` queued rows after `afterId` (keyset order) that are due (`due_at`
   * not later than `now`: a local time, a wave) and marks them `sending`.
   * Rows whose profile is suppressed now (deleted, unsubscribed, denylisted, quarantined) are
   * marked `excluded` instead, with the reason, and not returned. `recorded`, when given, is
   * written first as record() writes it, and with the claim in one transaction where the
   * engine allows (SQLite: a commit costs about as much as a group of rows).
   */
  claim(
    deliveryId: string,
    afterId: number,
    limit: number,
    now: Date,
    recorded?: readonly RecordedOutcome[],
  ): Promise<{ entries: JournalEntry[]; lastId: number }>;
  /**
   * Claims like claim(), for a delivery whose rows have due times (a local time, waves): the
   * earliest due first, whatever their order in the batch, so that a recipient whose hour came
   * first is not kept behind one due later. No keyset: a claimed row leaves the queued rows.
   */
  claimDue(deliveryId: string, limit: number, now: Date, recorded?: readonly RecordedOutcome[]): Promise<JournalEntry[]>;
  /** Whether the delivery's rows have due times (claimDue, not claim, takes them). */
  hasDueTimes(deliveryId: string): Promise<boolean>;
  /** Claims retrying rows whose time has come. */
  claimRetries(deliveryId: string, limit: number, now: Date): Promise<JournalEntry[]>;
  /**
   * Writes outcomes in one transaction; a send is remembered for the profile, a hard bounce
   * quarantines the address, and an `unsent` row goes back to the queue (cancelled if the
   * delivery was stopped) with its reply kept and no attempt counted.
   */
  record(outcomes: readonly RecordedOutcome[], now: Date): Promise<void>;
  /** Puts claimed rows that were not sent back in the queue (pause, shutdown), or cancels them when the delivery was stopped. */
  release(ids: readonly number[], now: Date): Promise<void>;
  /** Returns how many rows are still to send or undecided (unknown), and when the earliest retry is due. */
  pending(deliveryId: string, now?: Date): Promise<PendingCounts>;
  /**
   * Marks as `unknown` the rows left `sending` by a node that is no longer running (its claims
   * expired: its heartbeat stopped, or its lease ran out), and only those; returns how many.
   * On SQLite, one node owns the file: at its start, every row left `sending` is its own.
   */
  markInFlightUnknown(now: Date): Promise<number>;
  /** Puts `unknown` rows of a delivery back in the queue, or cancels them. */
  settleUnknown(deliveryId: string, resend: boolean, now: Date): Promise<number>;
  /** Returns the figures of an A/B test's variants among the rows sent with one (the test population). */
  variantFigures(deliveryId: string, variants: number): Promise<VariantFigures[]>;
  /**
   * Chooses the winner of an A/B test, once: records it with its reason and queues the held
   * rows (sent with the winner's variant). Returns false, changing nothing, when a winner was chosen already
   * (another node, or the operator, was first).
   */
  chooseWinner(deliveryId: string, winner: number, reason: string, now: Date): Promise<boolean>;
  /**
   * Queues a delivery's seed copies (`queued`, apart from the journal: in no figure), once: true
   * for the one call that does (the first start, on one node); false ever after, so that no
   * seed gets the copies twice by a restart.
   */
  claimSeeds(deliveryId: string, copies: readonly { email: string; variant: number }[], now: Date): Promise<boolean>;
  /**
   * Claims the seed copies to send now (`sending`): queued, a retry that is due, or one left
   * `sending` past the claim lease (its node died with it in flight: a seed may get that copy twice).
   */
  takeSeedCopies(deliveryId: string, now: Date): Promise<{ email: string; variant: number; attempts: number }[]>;
  /** Returns the sample each seed copy is made from: the delivery's first recipient (of variant `variant` with an A/B test). */
  seedSample(deliveryId: string, variant: number | null): Promise<JournalEntry | undefined>;
  /** Keeps what became of a claimed seed copy: final, or to try again at `nextAttemptAt` (`counted`: an attempt the relay answered). */
  recordSeed(deliveryId: string, copy: SeedCopy & { counted: boolean; nextAttemptAt: number | null }): Promise<void>;
  /** How many of the delivery's seed copies are still to send, and when the first retry among them is due. */
  seedsPending(deliveryId: string): Promise<{ count: number; nextAt: number | null }>;
  /** Returns the delivery's seed copies, by address and variant. */
  seedCopies(deliveryId: string): Promise<SeedCopy[]>;
  /**
   * With a local send time's window: queued rows whose window has passed unsent (a pause, the
   * relay down) wait for the same local time the next day it can still be met; returns how many.
   */
  deferMissed(deliveryId: string, windowMs: number, now: Date): Promise<number>;
}

/** The day a missed local time moves by; takes now, the window, the delivery's id, the window and now (both engines: whole numbers). */
export const DEFER_MISSED_SQL = `UPDATE journal SET due_at = due_at + ((CAST(? AS BIGINT) - due_at - CAST(? AS BIGINT)) / 86400000 + 1) * 86400000
  WHERE delivery_id = ? AND status = 'queued' AND due_at IS NOT NULL AND due_at + CAST(? AS BIGINT) < CAST(? AS BIGINT)`;

/** A copy of a delivery sent to a seed address: its variant (0 for A), and what the relay said. */
export interface SeedCopy {
  email: string;
  variant: number;
  status: 'queued' | 'sending' | 'retrying' | 'sent' | 'failed' | 'cancelled';
  reply: string;
  at: string;
}

/** The seed copies' SQL, both engines (`?` placeholders). */
export const SEED_SQL = {
  claim: 'UPDATE deliveries SET seeds_sent_at = ? WHERE id = ? AND seeds IS NOT NULL AND seeds_sent_at IS NULL',
  /** Takes the delivery's id and the variant twice (null: the first recipient, whatever its variant). */
  sample: `SELECT * FROM journal WHERE delivery_id = ? AND (CAST(? AS INTEGER) IS NULL OR variant = CAST(? AS INTEGER)) ORDER BY seq LIMIT 1`,
  /** Takes the delivery's id, the address, the variant and the time. */
  queue: `INSERT INTO seed_sends (delivery_id, email, variant, status, reply, at) VALUES (?, ?, ?, 'queued', '', ?)
    ON CONFLICT (delivery_id, email, variant) DO NOTHING`,
  /** Takes the time, the delivery's id, the time (ms) and the time the lease ran out (ISO). */
  take: `UPDATE seed_sends SET status = 'sending', at = ? WHERE delivery_id = ? AND (status = 'queued'
    OR (status = 'retrying' AND next_attempt_at <= ?) OR (status = 'sending' AND at < ?)) RETURNING email, variant, attempts`,
  record: `UPDATE seed_sends SET status = ?, reply = ?, at = ?, attempts = attempts + ?, next_attempt_at = ?
    WHERE delivery_id = ? AND email = ? AND variant = ?`,
  pending: `SELECT COUNT(*) AS n, MIN(CASE WHEN status = 'retrying' THEN next_attempt_at END) AS next FROM seed_sends
    WHERE delivery_id = ? AND status IN ('queued', 'sending', 'retrying')`,
  /** Takes the time and the delivery's id: Stop cancels the copies still to send. */
  cancel: `UPDATE seed_sends SET status = 'cancelled', reply = 'the delivery was stopped', at = ?
    WHERE delivery_id = ? AND status IN ('queued', 'retrying')`,
  copies: 'SELECT email, variant, status, reply, at FROM seed_sends WHERE delivery_id = ? ORDER BY email, variant',
};

/**
 * An A/B test's figures per variant, in SQL both engines run: takes the delivery's id. Only the
 * test population has a variant of its own (the rest keeps none: it gets the winner); people
 * only (machines apart); a click counts as an open.
 */
export const VARIANT_FIGURES_SQL = `SELECT j.variant, COUNT(*) AS delivered,
    SUM(CASE WHEN EXISTS (SELECT 1 FROM tracking_events t WHERE t.journal_id = j.id AND t.kind IN ('open', 'click') AND t.machine = 0) THEN 1 ELSE 0 END) AS opened,
    SUM(CASE WHEN EXISTS (SELECT 1 FROM tracking_events t WHERE t.journal_id = j.id AND t.kind = 'click' AND t.machine = 0) THEN 1 ELSE 0 END) AS clicked,
    SUM(CASE WHEN EXISTS (SELECT 1 FROM tracking_events t WHERE t.journal_id = j.id AND t.kind = 'unsubscribe') THEN 1 ELSE 0 END) AS unsubscribed
  FROM journal j WHERE j.delivery_id = ? AND j.status = 'sent' AND j.variant IS NOT NULL
  GROUP BY j.variant ORDER BY j.variant`;

/** Returns the figures of every variant of `count`, those without a row sent as zeros. */
export function variantFiguresOf(
  rows: { variant: number; delivered: number; opened: number; clicked: number; unsubscribed: number }[],
  count: number,
): VariantFigures[] {
  return Array.from({ length: count }, (_, variant) => {
    const row = rows.find((r) => Number(r.variant) === variant);
    return {
      variant,
      delivered: Number(row?.delivered ?? 0),
      opened: Number(row?.opened ?? 0),
      clicked: Number(row?.clicked ?? 0),
      unsubscribed: Number(row?.unsubscribed ?? 0),
    };
  });
}

export interface JournalRow {
  id: number;
  variant?: number | null;
  delivery_id: string;
  seq: number;
  profile_id: number;
  email: string;
  subject: string;
  vals: string;
  attempts: number;
}

export const toEntry = (r: JournalRow): JournalEntry => ({
  id: r.id,
  deliveryId: r.delivery_id,
  seq: r.seq,
  profileId: r.profile_id,
  email: r.email,
  subject: r.subject,
  values: JSON.parse(r.vals),
  // PostgreSQL hands 64-bit integers as numbers here (postgres/database.ts), SQLite as numbers too.
  attempts: r.attempts,
  variant: r.variant === null || r.variant === undefined ? null : Number(r.variant),
});

/**
 * Late suppression, in SQL over `journal j LEFT JOIN profiles p ON p.id = j.profile_id` (the
 * same in both engines): why a row's recipient must not be mailed now, or NULL. The audience
 * is read as it is now — a profile deleted, unsubscribed, denylisted or quarantined since
 * preparation is not mailed — and by address as well as by id: whatever a batch claimed, the
 * address that would be mailed is checked against its own profile of record too.
 */
export const SUPPRESSED_NOW = `CASE
    WHEN p.id IS NULL THEN 'deleted'
    WHEN p.status = 'unsubscribed' THEN 'unsubscribed'
    WHEN p.pending_since IS NOT NULL THEN 'pending'
    WHEN EXISTS (SELECT 1 FROM profiles a WHERE a.email = j.email AND a.status = 'unsubscribed') THEN 'unsubscribed'
    WHEN EXISTS (SELECT 1 FROM denylist d WHERE d.email = j.email) THEN 'denylisted'
    WHEN EXISTS (SELECT 1 FROM quarantine q WHERE q.email = j.email) THEN 'quarantined'
  END`;

export type ClaimedRow = JournalRow & { suppressed: 'deleted' | 'unsubscribed' | 'pending' | 'denylisted' | 'quarantined' | null };
