/** The send journal in SQLite (see ../journal.ts for its invariants). */

import {
  CLAIM_LEASE_MS,
  SUPPRESSED_NOW,
  toEntry,
  DEFER_MISSED_SQL,
  SEED_SQL,
  VARIANT_FIGURES_SQL,
  variantFiguresOf,
  type JournalRow,
  type SeedCopy,
  type ClaimedRow,
  type JournalEntry,
  type PendingCounts,
  type RecordedOutcome,
  type SendJournal,
} from '../journal';
import { asAsync, type Sync } from '../sync';
import { nextChangeSeq, type Db } from './database';

/** Returns the journal; `nodeId` names this process's claims (one node owns a SQLite file). */
/** `flushEvents` writes the tracking events waiting, before an A/B test's figures are read. */
export function sqliteSendJournal(db: Db, nodeId: string, flushEvents: () => Promise<void> = async () => {}): SendJournal {
  const journal = asAsync<SendJournal>(syncSendJournal(db, nodeId));
  return { ...journal, variantFigures: async (id, variants) => (await flushEvents(), journal.variantFigures(id, variants)) };
}

function syncSendJournal(db: Db, nodeId: string): Sync<SendJournal> {
  const due = db.prepare("SELECT id FROM deliveries WHERE status = 'scheduled' AND scheduled_at <= ? ORDER BY scheduled_at").pluck();
  const sending = db.prepare("SELECT id FROM deliveries WHERE status = 'sending' ORDER BY started_at").pluck();
  const SUPPRESSED = `${SUPPRESSED_NOW} AS suppressed`;
  const nextQueued = db.prepare(
    `SELECT j.*, ${SUPPRESSED} FROM journal j LEFT JOIN profiles p ON p.id = j.profile_id
     WHERE j.delivery_id = ? AND j.status = 'queued' AND j.id > ? AND (j.due_at IS NULL OR j.due_at <= ?) ORDER BY j.id LIMIT ?`,
  );
  const nextDue = db.prepare(
    `SELECT j.*, ${SUPPRESSED} FROM journal j LEFT JOIN profiles p ON p.id = j.profile_id
     WHERE j.delivery_id = ? AND j.status = 'queued' AND j.due_at <= ? ORDER BY j.due_at, j.id LIMIT ?`,
  );
  const anyDue = db.prepare('SELECT 1 FROM journal WHERE delivery_id = ? AND due_at IS NOT NULL LIMIT 1').pluck();
  const dueRetries = db.prepare(
    `SELECT j.*, ${SUPPRESSED} FROM journal j LEFT JOIN profiles p ON p.id = j.profile_id
     WHERE j.delivery_id = ? AND j.status = 'retrying' AND j.next_attempt_at <= ? ORDER BY j.id LIMIT ?`,
  );
  const mark = db.prepare("UPDATE journal SET status = 'sending', claimed_by = ?, lease_until = ?, updated_at = ? WHERE id = ?");
  const exclude = db.prepare("UPDATE journal SET status = 'excluded', smtp_reply = ?, updated_at = ? WHERE id = ?");
  const recordOne = db.prepare(
    `UPDATE journal SET status = @status, smtp_reply = @reply, attempts = attempts + @counted, next_attempt_at = @retryAt, updated_at = @now
     WHERE id = @id`,
  );
  // What the audience of record learns from an outcome: a send (for pressure rules) or a quarantine.
  const recordSend = db.prepare(
    'INSERT OR IGNORE INTO sends (profile_id, delivery_id, at) SELECT profile_id, delivery_id, ? FROM journal WHERE id = ?',
  );
  const quarantine = db.prepare(
    `INSERT INTO quarantine (email, reason, smtp_reply, delivery_id, at) SELECT lower(email), 'hard-bounce', ?, delivery_id, ? FROM journal WHERE id = ?
     ON CONFLICT (email) DO UPDATE SET reason = 'hard-bounce', smtp_reply = excluded.smtp_reply, delivery_id = excluded.delivery_id, at = excluded.at,
       lift_at = NULL`,
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
     WHERE delivery_id = ? AND status IN ('queued', 'retrying', 'sending', 'unknown', 'held') GROUP BY status`,
  );
  const notDue = db.prepare(
    "SELECT COUNT(*) AS n, MIN(due_at) AS next FROM journal WHERE delivery_id = ? AND status = 'queued' AND due_at > ?",
  );
  const claimSeeds = db.prepare(SEED_SQL.claim);
  const seedSample = db.prepare(SEED_SQL.sample);
  const recordSeed = db.prepare(SEED_SQL.record);
  const queueSeed = db.prepare(SEED_SQL.queue);
  const takeSeeds = db.prepare(SEED_SQL.take);
  const seedsPending = db.prepare(SEED_SQL.pending);
  const seedCopies = db.prepare(SEED_SQL.copies);
  const deferMissed = db.prepare(DEFER_MISSED_SQL);
  const variantFigures = db.prepare(VARIANT_FIGURES_SQL);
  const setWinner = db.prepare(
    'UPDATE deliveries SET winner = ?, winner_reason = ?, winner_at = ?, updated_at = ? WHERE id = ? AND winner IS NULL AND experiment IS NOT NULL',
  );
  const releaseHeld = db.prepare("UPDATE journal SET status = 'queued', updated_at = ? WHERE delivery_id = ? AND status = 'held'");
  const unknownAll = db.prepare("UPDATE journal SET status = 'unknown', updated_at = ? WHERE status = 'sending'");
  const settle = db.prepare("UPDATE journal SET status = ?, updated_at = ? WHERE delivery_id = ? AND status = 'unknown'");

  /** Marks the rows claimed (within the caller's transaction); those suppressed since preparation are excluded instead. */
  const claimRows = (rows: ClaimedRow[], now: Date) => {
    const at = now.toISOString();
    const entries: JournalEntry[] = [];
    for (const row of rows) {
      if (row.suppressed) {
        exclude.run(`suppressed after preparation (${row.suppressed})`, at, row.id);
        continue;
      }
      mark.run(nodeId, now.getTime() + CLAIM_LEASE_MS, at, row.id);
      entries.push(toEntry(row));
    }
    return entries;
  };

  /** Writes outcomes (within the caller's transaction). */
  const recordOutcomes = (outcomes: readonly RecordedOutcome[], now: Date) => {
    const at = now.toISOString();
    for (const { id, outcome, retryAt } of outcomes) {
      if (outcome.kind === 'unsent') {
        unsentOne.run({ id, reply: outcome.reply.slice(0, 500), now: at });
        continue;
      }
      const status = outcome.kind === 'retry' || outcome.kind === 'deferred' ? 'retrying' : outcome.kind;
      const counted = outcome.kind === 'deferred' ? 0 : 1; // a deferral by a limit of ours is no attempt
      recordOne.run({ id, status, reply: outcome.reply.slice(0, 500), retryAt: retryAt ?? null, now: at, counted });
      if (outcome.kind === 'sent') recordSend.run(at, id);
      if (outcome.kind === 'bounced') {
        quarantine.run(outcome.reply.slice(0, 500), at, id);
        stampProfile.run(nextChangeSeq(db), at, id);
      }
    }
  };

  return {
    dueScheduled: (now) => due.all(now.toISOString()) as string[],
    sending: () => sending.all() as string[],
    claim: db.transaction((deliveryId: string, afterId: number, limit: number, now: Date, recorded: readonly RecordedOutcome[] = []) => {
      if (recorded.length) recordOutcomes(recorded, now);
      const rows = nextQueued.all(deliveryId, afterId, now.getTime(), limit) as ClaimedRow[];
      const lastId = rows.length ? rows[rows.length - 1].id : afterId;
      return { entries: claimRows(rows, now), lastId };
    }),
    claimDue: db.transaction((deliveryId: string, limit: number, now: Date, recorded: readonly RecordedOutcome[] = []) => {
      if (recorded.length) recordOutcomes(recorded, now);
      return claimRows(nextDue.all(deliveryId, now.getTime(), limit) as ClaimedRow[], now);
    }),
    hasDueTimes: (deliveryId) => anyDue.get(deliveryId) !== undefined,
    claimRetries: db.transaction((deliveryId: string, limit: number, now: Date) =>
      claimRows(dueRetries.all(deliveryId, now.getTime(), limit) as ClaimedRow[], now),
    ),
    record: db.transaction((outcomes: readonly RecordedOutcome[], now: Date) => recordOutcomes(outcomes, now)),
    release: db.transaction((ids: readonly number[], now: Date) => {
      const at = now.toISOString();
      for (const id of ids) releaseOne.run(at, id);
    }),
    pending(deliveryId, now = new Date()) {
      const result: PendingCounts = {
        queued: 0,
        retrying: 0,
        sending: 0,
        unknown: 0,
        held: 0,
        waiting: 0,
        nextDueAt: null,
        nextRetryAt: null,
      };
      for (const row of pendingCounts.all(deliveryId) as {
        status: 'queued' | 'retrying' | 'sending' | 'unknown' | 'held';
        n: number;
        next: number | null;
      }[]) {
        result[row.status] = row.n;
        if (row.status === 'retrying') result.nextRetryAt = row.next;
      }
      if (result.queued > 0) {
        const later = notDue.get(deliveryId, now.getTime()) as { n: number; next: number | null };
        result.waiting = later.n;
        result.queued -= later.n;
        result.nextDueAt = later.next;
      }
      return result;
    },
    markInFlightUnknown: (now) => unknownAll.run(now.toISOString()).changes,
    settleUnknown: (deliveryId, resend, now) => settle.run(resend ? 'queued' : 'cancelled', now.toISOString(), deliveryId).changes,
    variantFigures: (deliveryId, variants) =>
      variantFiguresOf(variantFigures.all(deliveryId) as Parameters<typeof variantFiguresOf>[0], variants),
    claimSeeds: db.transaction((deliveryId: string, copies: readonly { email: string; variant: number }[], now: Date) => {
      const at = now.toISOString();
      if (claimSeeds.run(at, deliveryId).changes !== 1) return false;
      for (const copy of copies) queueSeed.run(deliveryId, copy.email, copy.variant, at);
      return true;
    }),
    takeSeedCopies: (deliveryId, now) =>
      takeSeeds.all(now.toISOString(), deliveryId, now.getTime(), new Date(now.getTime() - CLAIM_LEASE_MS).toISOString()) as {
        email: string;
        variant: number;
        attempts: number;
      }[],
    seedsPending(deliveryId) {
      const row = seedsPending.get(deliveryId) as { n: number; next: number | null };
      return { count: row.n, nextAt: row.next };
    },
    seedSample(deliveryId, variant) {
      const row = seedSample.get(deliveryId, variant, variant) as JournalRow | undefined;
      return row && toEntry(row);
    },
    recordSeed(deliveryId, copy) {
      recordSeed.run(
        copy.status,
        copy.reply.slice(0, 500),
        copy.at,
        copy.counted ? 1 : 0,
        copy.nextAttemptAt,
        deliveryId,
        copy.email,
        copy.variant,
      );
    },
    seedCopies: (deliveryId) => seedCopies.all(deliveryId) as SeedCopy[],
    deferMissed: (deliveryId, windowMs, now) => deferMissed.run(now.getTime(), windowMs, deliveryId, windowMs, now.getTime()).changes,
    chooseWinner: db.transaction((deliveryId: string, winner: number, reason: string, now: Date) => {
      const at = now.toISOString();
      if (setWinner.run(winner, reason, at, at, deliveryId).changes === 0) return false;
      releaseHeld.run(at, deliveryId);
      return true;
    }),
  };
}
