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
 *   as `unknown` for the operator to resend or not.
 */

import type { TemplateValue } from '../../shared/types';
import { nextChangeSeq, type Db } from './database';

export interface JournalEntry {
  id: number;
  deliveryId: string;
  seq: number;
  profileId: number;
  email: string;
  subject: string;
  values: Record<string, TemplateValue>;
  attempts: number;
}

/**
 * The message was never handed to the relay: no connection could be opened (the relay
 * refuses, does not answer, refuses the login…) or the messenger was closing. `relay` says
 * what is wrong as the start of a sentence ("The relay at host:port refuses connections").
 */
export type UnsentOutcome = { kind: 'unsent'; reply: string; relay: string };

export type SmtpOutcome =
  | { kind: 'sent'; reply: string }
  | { kind: 'retry'; reply: string }
  | { kind: 'failed'; reply: string }
  | { kind: 'bounced'; reply: string }
  | UnsentOutcome;

export interface RecordedOutcome {
  id: number;
  outcome: SmtpOutcome;
  /** For a retry: when to try again (ms since epoch). */
  retryAt?: number;
}

export interface SendJournal {
  /** Returns the ids of scheduled deliveries whose time has come. */
  dueScheduled(now: Date): string[];
  /** Returns the ids of deliveries in status `sending`. */
  sending(): string[];
  /**
   * Claims up to `limit` queued rows after `afterId` (keyset order) and marks them `sending`.
   * Rows whose profile is suppressed now (deleted, unsubscribed, denylisted, quarantined) are
   * marked `excluded` instead, with the reason, and not returned.
   */
  claim(deliveryId: string, afterId: number, limit: number, now: Date): { entries: JournalEntry[]; lastId: number };
  /** Claims retrying rows whose time has come. */
  claimRetries(deliveryId: string, limit: number, now: Date): JournalEntry[];
  /**
   * Writes outcomes in one transaction; a send is remembered for the profile, a hard bounce
   * quarantines the address, and an `unsent` row goes back to the queue (cancelled if the
   * delivery was stopped) with its reply kept and no attempt counted.
   */
  record(outcomes: readonly RecordedOutcome[], now: Date): void;
  /** Puts claimed rows that were not sent back in the queue (pause, shutdown), or cancels them when the delivery was stopped. */
  release(ids: readonly number[], now: Date): void;
  /** Returns how many rows are still to send or undecided (unknown), and when the earliest retry is due. */
  pending(deliveryId: string): { queued: number; retrying: number; sending: number; unknown: number; nextRetryAt: number | null };
  /** Marks rows left `sending` by a process that died as `unknown`; returns how many. */
  markInFlightUnknown(now: Date): number;
  /** Puts `unknown` rows of a delivery back in the queue, or cancels them. */
  settleUnknown(deliveryId: string, resend: boolean, now: Date): number;
}

interface JournalRow {
  id: number;
  delivery_id: string;
  seq: number;
  profile_id: number;
  email: string;
  subject: string;
  vals: string;
  attempts: number;
}

const toEntry = (r: JournalRow): JournalEntry => ({
  id: r.id,
  deliveryId: r.delivery_id,
  seq: r.seq,
  profileId: r.profile_id,
  email: r.email,
  subject: r.subject,
  values: JSON.parse(r.vals),
  attempts: r.attempts,
});

type ClaimedRow = JournalRow & { suppressed: 'deleted' | 'unsubscribed' | 'denylisted' | 'quarantined' | null };

export function sqliteSendJournal(db: Db): SendJournal {
  const due = db.prepare("SELECT id FROM deliveries WHERE status = 'scheduled' AND scheduled_at <= ? ORDER BY scheduled_at").pluck();
  const sending = db.prepare("SELECT id FROM deliveries WHERE status = 'sending' ORDER BY started_at").pluck();
  // Late suppression reads the audience as it is now: a profile deleted, unsubscribed,
  // denylisted or quarantined since preparation is not mailed.
  // Suppression goes by address as well as by id: whatever a batch claimed, the address that
  // would be mailed is checked against its own profile of record too.
  const SUPPRESSED = `CASE
      WHEN p.id IS NULL THEN 'deleted'
      WHEN p.status = 'unsubscribed' THEN 'unsubscribed'
      WHEN EXISTS (SELECT 1 FROM profiles a WHERE a.email = j.email AND a.status = 'unsubscribed') THEN 'unsubscribed'
      WHEN EXISTS (SELECT 1 FROM denylist d WHERE d.email = j.email) THEN 'denylisted'
      WHEN EXISTS (SELECT 1 FROM quarantine q WHERE q.email = j.email) THEN 'quarantined'
    END AS suppressed`;
  const nextQueued = db.prepare(
    `SELECT j.*, ${SUPPRESSED} FROM journal j LEFT JOIN profiles p ON p.id = j.profile_id
     WHERE j.delivery_id = ? AND j.status = 'queued' AND j.id > ? ORDER BY j.id LIMIT ?`,
  );
  const dueRetries = db.prepare(
    `SELECT j.*, ${SUPPRESSED} FROM journal j LEFT JOIN profiles p ON p.id = j.profile_id
     WHERE j.delivery_id = ? AND j.status = 'retrying' AND j.next_attempt_at <= ? ORDER BY j.id LIMIT ?`,
  );
  const mark = db.prepare('UPDATE journal SET status = ?, updated_at = ? WHERE id = ?');
  const exclude = db.prepare("UPDATE journal SET status = 'excluded', smtp_reply = ?, updated_at = ? WHERE id = ?");
  const recordOne = db.prepare(
    `UPDATE journal SET status = @status, smtp_reply = @reply, attempts = attempts + 1, next_attempt_at = @retryAt, updated_at = @now
     WHERE id = @id`,
  );
  // What the audience of record learns from an outcome: a send (for pressure rules) or a quarantine.
  const recordSend = db.prepare(
    'INSERT OR IGNORE INTO sends (profile_id, delivery_id, at) SELECT profile_id, delivery_id, ? FROM journal WHERE id = ?',
  );
  const quarantine = db.prepare(
    `INSERT INTO quarantine (email, reason, smtp_reply, delivery_id, at) SELECT lower(email), 'hard-bounce', ?, delivery_id, ? FROM journal WHERE id = ?
     ON CONFLICT (email) DO UPDATE SET smtp_reply = excluded.smtp_reply, delivery_id = excluded.delivery_id, at = excluded.at`,
  );
  const stampProfile = db.prepare(
    'UPDATE profiles SET change_seq = ?, updated_at = ? WHERE id = (SELECT profile_id FROM journal WHERE id = ?)',
  );
  // Back in the queue; cancelled instead if the delivery was stopped meanwhile (Stop cancels what remains).
  const BACK = `CASE WHEN (SELECT status FROM deliveries WHERE id = journal.delivery_id) = 'stopped' THEN 'cancelled' ELSE 'queued' END`;
  const releaseOne = db.prepare(`UPDATE journal SET updated_at = ?, status = ${BACK} WHERE id = ? AND status = 'sending'`);
  const unsentOne = db.prepare(
    `UPDATE journal SET updated_at = @now, status = ${BACK}, smtp_reply = @reply, next_attempt_at = NULL WHERE id = @id AND status = 'sending'`,
  );
  const pendingCounts = db.prepare(
    `SELECT status, COUNT(*) AS n, MIN(next_attempt_at) AS next FROM journal
     WHERE delivery_id = ? AND status IN ('queued', 'retrying', 'sending', 'unknown') GROUP BY status`,
  );
  const unknownAll = db.prepare("UPDATE journal SET status = 'unknown', updated_at = ? WHERE status = 'sending'");
  const settle = db.prepare("UPDATE journal SET status = ?, updated_at = ? WHERE delivery_id = ? AND status = 'unknown'");

  const claimRows = db.transaction((rows: ClaimedRow[], now: Date) => {
    const at = now.toISOString();
    const entries: JournalEntry[] = [];
    for (const row of rows) {
      if (row.suppressed) {
        exclude.run(`suppressed after preparation (${row.suppressed})`, at, row.id);
        continue;
      }
      mark.run('sending', at, row.id);
      entries.push(toEntry(row));
    }
    return entries;
  });

  return {
    dueScheduled: (now) => due.all(now.toISOString()) as string[],
    sending: () => sending.all() as string[],
    claim(deliveryId, afterId, limit, now) {
      const rows = nextQueued.all(deliveryId, afterId, limit) as ClaimedRow[];
      const lastId = rows.length ? rows[rows.length - 1].id : afterId;
      return { entries: claimRows(rows, now), lastId };
    },
    claimRetries(deliveryId, limit, now) {
      const rows = dueRetries.all(deliveryId, now.getTime(), limit) as ClaimedRow[];
      return claimRows(rows, now);
    },
    record: db.transaction((outcomes: readonly RecordedOutcome[], now: Date) => {
      const at = now.toISOString();
      for (const { id, outcome, retryAt } of outcomes) {
        if (outcome.kind === 'unsent') {
          unsentOne.run({ id, reply: outcome.reply.slice(0, 500), now: at });
          continue;
        }
        const status = outcome.kind === 'retry' ? 'retrying' : outcome.kind;
        recordOne.run({ id, status, reply: outcome.reply.slice(0, 500), retryAt: retryAt ?? null, now: at });
        if (outcome.kind === 'sent') recordSend.run(at, id);
        if (outcome.kind === 'bounced') {
          quarantine.run(outcome.reply.slice(0, 500), at, id);
          stampProfile.run(nextChangeSeq(db), at, id);
        }
      }
    }),
    release: db.transaction((ids: readonly number[], now: Date) => {
      const at = now.toISOString();
      for (const id of ids) releaseOne.run(at, id);
    }),
    pending(deliveryId) {
      const result = { queued: 0, retrying: 0, sending: 0, unknown: 0, nextRetryAt: null as number | null };
      for (const row of pendingCounts.all(deliveryId) as {
        status: 'queued' | 'retrying' | 'sending' | 'unknown';
        n: number;
        next: number | null;
      }[]) {
        result[row.status] = row.n;
        if (row.status === 'retrying') result.nextRetryAt = row.next;
      }
      return result;
    },
    markInFlightUnknown: (now) => unknownAll.run(now.toISOString()).changes,
    settleUnknown: (deliveryId, resend, now) => settle.run(resend ? 'queued' : 'cancelled', now.toISOString(), deliveryId).changes,
  };
}
