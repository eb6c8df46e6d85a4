/**
 * The send journal in PostgreSQL (see ../journal.ts for its invariants), shared by every
 * node: a claim takes rows with FOR UPDATE SKIP LOCKED (two nodes never claim one row; one
 * never waits for the other's), names this node and gives a lease; a row whose node stopped
 * saying it is alive, or whose lease ran out, becomes unknown — only that node's rows.
 */

import { NODE_TTL_MS } from '../nodes';
import {
  CLAIM_LEASE_MS,
  ClaimFailedAfterRecording,
  SUPPRESSED_NOW,
  toEntry,
  DEFER_MISSED_SQL,
  SEED_SQL,
  VARIANT_FIGURES_SQL,
  variantFiguresOf,
  type SeedCopy,
  type JournalRow,
  type PendingCounts,
  type RecordedOutcome,
  type SendJournal,
} from '../journal';
import { CHANGE_LOG_LOCK, numbered, type Pg, type PgRunner } from './database';

/** `flushEvents` writes the tracking events waiting, before an A/B test's figures are read. */
export function postgresSendJournal(sql: Pg, nodeId: string, flushEvents: () => Promise<void> = async () => {}): SendJournal {
  /**
   * Claims up to `limit` rows chosen by `where` in one statement: those suppressed now become
   * `excluded`, the others `sending` under this node's name; returns them and the highest id looked at.
   */
  /** `order` is the claim's (a column list of `j`): the rows come back in it, the first to send first. */
  const claimWhere = async (where: string, params: unknown[], limit: number, now: Date, order = 'j.id') => {
    const at = now.toISOString();
    const n = params.length;
    const [row] = (await sql.unsafe(
      `WITH c AS (
         SELECT j.id, ${SUPPRESSED_NOW} AS suppressed FROM journal j LEFT JOIN profiles p ON p.id = j.profile_id
         WHERE ${where} ORDER BY ${order} LIMIT $${n + 1} FOR UPDATE OF j SKIP LOCKED
       ), x AS (
         UPDATE journal SET status = 'excluded', smtp_reply = 'suppressed after preparation (' || c.suppressed || ')', updated_at = $${n + 2}
         FROM c WHERE journal.id = c.id AND c.suppressed IS NOT NULL
       ), y AS (
         UPDATE journal SET status = 'sending', claimed_by = $${n + 3}, lease_until = $${n + 4}, updated_at = $${n + 2}
         FROM c WHERE journal.id = c.id AND c.suppressed IS NULL
         RETURNING journal.id, journal.delivery_id, journal.seq, journal.profile_id, journal.email, journal.subject, journal.vals, journal.attempts,
           journal.variant, journal.due_at
       )
       SELECT (SELECT MAX(id) FROM c) AS last_id, COALESCE((SELECT json_agg(y ORDER BY ${order.replaceAll('j.', 'y.')}) FROM y), '[]'::json) AS claimed`,
      [...params, limit, at, nodeId, now.getTime() + CLAIM_LEASE_MS] as never[],
      { prepare: true },
    )) as unknown as { last_id: number | null; claimed: JournalRow[] }[];
    return { entries: row.claimed.map(toEntry), lastId: row.last_id };
  };

  /** Writes what the audience of record learns from outcomes: sends (for pressure rules), and quarantines for hard bounces. */
  const learn = async (tx: PgRunner, sent: number[], bounced: { id: number; reply: string }[], at: string) => {
    if (sent.length) {
      await tx`INSERT INTO sends (profile_id, delivery_id, at) SELECT profile_id, delivery_id, ${at} FROM journal
        WHERE id = ANY(${sent}::bigint[]) ON CONFLICT DO NOTHING`;
    }
    if (bounced.length === 0) return;
    await tx`SELECT pg_advisory_xact_lock(${CHANGE_LOG_LOCK})`;
    for (const b of bounced) {
      await tx`INSERT INTO quarantine (email, reason, smtp_reply, delivery_id, at)
          SELECT lower(email), 'hard-bounce', ${b.reply}, delivery_id, ${at} FROM journal WHERE id = ${b.id}
        ON CONFLICT (email) DO UPDATE SET reason = 'hard-bounce', smtp_reply = EXCLUDED.smtp_reply, delivery_id = EXCLUDED.delivery_id,
          at = EXCLUDED.at, lift_at = NULL`;
      // The replicas pull the quarantine with the profile: it takes a change number.
      await tx`UPDATE profiles SET change_seq = nextval('change_seq'), updated_at = ${at}
        WHERE id = (SELECT profile_id FROM journal WHERE id = ${b.id})`;
    }
  };

  const journal: SendJournal = {
    async dueScheduled(now) {
      return (
        await sql<{ id: string }[]>`SELECT id FROM deliveries WHERE status = 'scheduled' AND scheduled_at <= ${now.toISOString()}
          ORDER BY scheduled_at`
      ).map((r) => r.id);
    },
    async sending() {
      return (await sql<{ id: string }[]>`SELECT id FROM deliveries WHERE status = 'sending' ORDER BY started_at`).map((r) => r.id);
    },
    async claim(deliveryId, afterId, limit, now, recorded = []) {
      // Two statements: each is its own transaction here, and a round trip costs what a commit does.
      if (recorded.length) await journal.record(recorded, now);
      try {
        const { entries, lastId } = await claimWhere(
          `j.delivery_id = $1 AND j.status = 'queued' AND j.id > $2 AND (j.due_at IS NULL OR j.due_at <= $3)`,
          [deliveryId, afterId, now.getTime()],
          limit,
          now,
        );
        return { entries, lastId: lastId ?? afterId };
      } catch (error) {
        throw recorded.length ? new ClaimFailedAfterRecording(error) : error;
      }
    },
    async claimDue(deliveryId, limit, now, recorded = []) {
      if (recorded.length) await journal.record(recorded, now);
      try {
        return (
          await claimWhere(
            `j.delivery_id = $1 AND j.status = 'queued' AND j.due_at <= $2`,
            [deliveryId, now.getTime()],
            limit,
            now,
            'j.due_at, j.id',
          )
        ).entries;
      } catch (error) {
        throw recorded.length ? new ClaimFailedAfterRecording(error) : error;
      }
    },
    async hasDueTimes(deliveryId) {
      return (await sql`SELECT 1 FROM journal WHERE delivery_id = ${deliveryId} AND due_at IS NOT NULL LIMIT 1`).length > 0;
    },
    async claimRetries(deliveryId, limit, now) {
      return (
        await claimWhere(
          `j.delivery_id = $1 AND j.status = 'retrying' AND j.next_attempt_at <= $2`,
          [deliveryId, now.getTime()],
          limit,
          now,
        )
      ).entries;
    },
    async record(outcomes: readonly RecordedOutcome[], now: Date) {
      if (outcomes.length === 0) return;
      const at = now.toISOString();
      const final = outcomes.filter((o) => o.outcome.kind !== 'unsent');
      const unsent = outcomes.filter((o) => o.outcome.kind === 'unsent');
      const rows = (list: readonly RecordedOutcome[]) => ({
        ids: list.map((o) => o.id),
        statuses: list.map((o) => (o.outcome.kind === 'retry' || o.outcome.kind === 'deferred' ? 'retrying' : o.outcome.kind)),
        // A deferral by a limit of ours is no attempt.
        counted: list.map((o) => (o.outcome.kind === 'deferred' ? 0 : 1)),
        replies: list.map((o) => o.outcome.reply.slice(0, 500)),
        retries: list.map((o) => o.retryAt ?? null) as number[],
      });
      if (unsent.length === 0 && final.every((o) => o.outcome.kind !== 'bounced')) {
        // The usual answers (sent, retry, failed) in one statement, the sends they make with them:
        // one round trip instead of a transaction of four, which the send loop would wait for.
        const o = rows(final);
        await sql`WITH o AS (SELECT * FROM unnest(${o.ids}::bigint[], ${o.statuses}::text[], ${o.replies}::text[], ${o.retries}::bigint[],
              ${o.counted}::int[]) AS o(id, status, reply, retry_at, counted)),
            s AS (INSERT INTO sends (profile_id, delivery_id, at) SELECT j.profile_id, j.delivery_id, ${at} FROM journal j
              JOIN o ON j.id = o.id WHERE o.status = 'sent' ON CONFLICT DO NOTHING)
          UPDATE journal SET status = o.status, smtp_reply = o.reply, attempts = attempts + o.counted, next_attempt_at = o.retry_at, updated_at = ${at}
          FROM o WHERE journal.id = o.id AND journal.claimed_by = ${nodeId} AND journal.status IN ('sending', 'unknown')`;
        return;
      }
      await sql.begin(async (tx) => {
        if (final.length) {
          // Only this node's claims: a row another node took over meanwhile is not overwritten.
          const o = rows(final);
          await tx`UPDATE journal SET status = o.status, smtp_reply = o.reply, attempts = attempts + o.counted, next_attempt_at = o.retry_at,
              updated_at = ${at}
            FROM unnest(${o.ids}::bigint[], ${o.statuses}::text[], ${o.replies}::text[], ${o.retries}::bigint[], ${o.counted}::int[])
              AS o(id, status, reply, retry_at, counted)
            WHERE journal.id = o.id AND journal.claimed_by = ${nodeId} AND journal.status IN ('sending', 'unknown')`;
        }
        if (unsent.length) {
          // Never handed to the relay: back in the queue (cancelled if the delivery was stopped), no attempt counted.
          await tx`UPDATE journal SET updated_at = ${at}, smtp_reply = o.reply, next_attempt_at = NULL,
              status = CASE WHEN (SELECT status FROM deliveries WHERE id = journal.delivery_id) = 'stopped' THEN 'cancelled' ELSE 'queued' END
            FROM unnest(${unsent.map((o) => o.id)}::bigint[], ${unsent.map((o) => o.outcome.reply.slice(0, 500))}::text[]) AS o(id, reply)
            WHERE journal.id = o.id AND journal.status = 'sending' AND journal.claimed_by = ${nodeId}`;
        }
        await learn(
          tx,
          final.filter((o) => o.outcome.kind === 'sent').map((o) => o.id),
          final.filter((o) => o.outcome.kind === 'bounced').map((o) => ({ id: o.id, reply: o.outcome.reply.slice(0, 500) })),
          at,
        );
      });
    },
    async release(ids, now) {
      if (ids.length === 0) return;
      await sql`UPDATE journal SET updated_at = ${now.toISOString()},
          status = CASE WHEN (SELECT status FROM deliveries WHERE id = journal.delivery_id) = 'stopped' THEN 'cancelled' ELSE 'queued' END
        WHERE id = ANY(${ids as number[]}::bigint[]) AND status = 'sending' AND claimed_by = ${nodeId}`;
    },
    async pending(deliveryId, now = new Date()) {
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
      for (const row of await sql<{ status: 'queued' | 'retrying' | 'sending' | 'unknown' | 'held'; n: number; next: number | null }[]>`
        SELECT status, COUNT(*) AS n, MIN(next_attempt_at) AS next FROM journal
        WHERE delivery_id = ${deliveryId} AND status IN ('queued', 'retrying', 'sending', 'unknown', 'held') GROUP BY status`) {
        result[row.status] = row.n;
        if (row.status === 'retrying') result.nextRetryAt = row.next;
      }
      if (result.queued > 0) {
        const [later] = await sql<{ n: number; next: number | null }[]>`SELECT COUNT(*) AS n, MIN(due_at) AS next FROM journal
          WHERE delivery_id = ${deliveryId} AND status = 'queued' AND due_at > ${now.getTime()}`;
        result.waiting = Number(later.n);
        result.queued -= Number(later.n);
        result.nextDueAt = later.next === null ? null : Number(later.next);
      }
      return result;
    },
    async markInFlightUnknown(now) {
      const rows = await sql`UPDATE journal SET status = 'unknown', updated_at = ${now.toISOString()}
        WHERE status = 'sending' AND (lease_until < ${now.getTime()} OR claimed_by IS NULL
          OR claimed_by NOT IN (SELECT id FROM nodes WHERE seen_at >= ${now.getTime() - NODE_TTL_MS}))
        RETURNING id`;
      return rows.length;
    },
    async settleUnknown(deliveryId, resend, now) {
      const rows = await sql`UPDATE journal SET status = ${resend ? 'queued' : 'cancelled'}, updated_at = ${now.toISOString()}
        WHERE delivery_id = ${deliveryId} AND status = 'unknown' RETURNING id`;
      return rows.length;
    },
    async variantFigures(deliveryId, variants) {
      await flushEvents();
      const rows = (await sql.unsafe(numbered(VARIANT_FIGURES_SQL), [deliveryId], { prepare: true })) as unknown as Parameters<
        typeof variantFiguresOf
      >[0];
      return variantFiguresOf(rows, variants);
    },
    claimSeeds(deliveryId, copies, now) {
      const at = now.toISOString();
      return sql.begin(async (tx) => {
        const claimed = await tx.unsafe(numbered(`${SEED_SQL.claim} RETURNING id`), [at, deliveryId]);
        if (claimed.length !== 1) return false;
        await tx`INSERT INTO seed_sends (delivery_id, email, variant, status, reply, at)
          SELECT ${deliveryId}, c.email, c.variant, 'queued', '', ${at}
          FROM unnest(${copies.map((c) => c.email)}::text[], ${copies.map((c) => c.variant)}::int[]) AS c(email, variant)
          ON CONFLICT (delivery_id, email, variant) DO NOTHING`;
        return true;
      }) as Promise<boolean>;
    },
    async takeSeedCopies(deliveryId, now) {
      const rows = (await sql.unsafe(
        numbered(SEED_SQL.take),
        [now.toISOString(), deliveryId, now.getTime(), new Date(now.getTime() - CLAIM_LEASE_MS).toISOString()],
        { prepare: true },
      )) as unknown as { email: string; variant: number; attempts: number }[];
      return rows.map((r) => ({ email: r.email, variant: Number(r.variant), attempts: Number(r.attempts) }));
    },
    async seedsPending(deliveryId) {
      const [row] = (await sql.unsafe(numbered(SEED_SQL.pending), [deliveryId], { prepare: true })) as unknown as {
        n: number;
        next: number | null;
      }[];
      return { count: Number(row.n), nextAt: row.next === null ? null : Number(row.next) };
    },
    async seedSample(deliveryId, variant) {
      const [row] = (await sql.unsafe(numbered(SEED_SQL.sample), [deliveryId, variant, variant] as never[], {
        prepare: true,
      })) as unknown as JournalRow[];
      return row && toEntry(row);
    },
    async recordSeed(deliveryId, copy) {
      await sql.unsafe(
        numbered(SEED_SQL.record),
        [
          copy.status,
          copy.reply.slice(0, 500),
          copy.at,
          copy.counted ? 1 : 0,
          copy.nextAttemptAt,
          deliveryId,
          copy.email,
          copy.variant,
        ] as never[],
        { prepare: true },
      );
    },
    async deferMissed(deliveryId, windowMs, now) {
      const moved = await sql.unsafe(
        numbered(`${DEFER_MISSED_SQL} RETURNING id`),
        [now.getTime(), windowMs, deliveryId, windowMs, now.getTime()],
        { prepare: true },
      );
      return moved.length;
    },
    async seedCopies(deliveryId) {
      return (await sql.unsafe(numbered(SEED_SQL.copies), [deliveryId], { prepare: true })) as unknown as SeedCopy[];
    },
    chooseWinner(deliveryId, winner, reason, now) {
      const at = now.toISOString();
      return sql.begin(async (tx) => {
        const chosen = await tx`UPDATE deliveries SET winner = ${winner}, winner_reason = ${reason}, winner_at = ${at}, updated_at = ${at}
          WHERE id = ${deliveryId} AND winner IS NULL AND experiment IS NOT NULL RETURNING id`;
        if (chosen.length === 0) return false;
        await tx`UPDATE journal SET status = 'queued', updated_at = ${at} WHERE delivery_id = ${deliveryId} AND status = 'held'`;
        return true;
      }) as Promise<boolean>;
    },
  };
  return journal;
}
