/** Deliveries and the hand-off of their batches in SQLite (see ../deliveries.ts for what it checks). */

import { normalizeEmail } from '../../../shared/email-address';
import { canTransition } from '../../../shared/status';
import type { DeliveryStatus, Exclusion, PreparedRecipient } from '../../../shared/types';
import {
  checkAgainstRecord,
  checkExclusionTotals,
  checkHeader,
  checkPart,
  checkVariants,
  kpisOf,
  mismatch,
  notFound,
  refuse,
  stagedExclusionSeq,
  toDelivery,
  transitionRefusal,
  type BatchHeader,
  type DeliveryRow,
  type DeliveryStore,
  type Outcome,
  type PartRows,
  type RecordFacts,
  type ServerDelivery,
  type TrackingFigures,
} from '../deliveries';
import { SEED_SQL } from '../journal';
import { asAsync, type Sync } from '../sync';
import { waveSql } from '../../../shared/send-time';
import type { Db } from './database';

/** Returns the delivery store; `flushEvents` writes the tracking events waiting before the figures are read. */
export function sqliteDeliveryStore(db: Db, flushEvents: () => Promise<void>): DeliveryStore {
  const store = syncDeliveryStore(db);
  return {
    ...asAsync<DeliveryStore>(store),
    kpis: async (id, now) => (await flushEvents(), store.kpis(id, now)),
  };
}

function syncDeliveryStore(db: Db): Sync<DeliveryStore> {
  const byId = db.prepare('SELECT * FROM deliveries WHERE id = ?');
  const all = db.prepare('SELECT * FROM deliveries ORDER BY created_at DESC');
  const statusOf = db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck();
  const get = (id: string) => {
    const row = byId.get(id) as DeliveryRow | undefined;
    return row && toDelivery(row);
  };
  const upsert = db.prepare(
    `INSERT INTO deliveries (id, version, content_hash, name, from_name, from_address, subject, preheader, html, text_part, relay_id, experiment, seeds, waves, send_window_ms, translations, status, targeted, to_deliver,
       excluded, excluded_by_cause, chunk_count, exclusion_chunk_count, committed, created_at, updated_at)
     VALUES (@id, @version, @contentHash, @name, @fromName, @fromAddress, @subject, @preheader, @html, @text, @relayId, @experiment, @seeds, @waves, @sendWindowMs, @translations, 'prepared', @targeted, @toDeliver,
       @excluded, @excludedByCause, @chunkCount, @exclusionChunkCount, 0, @now, @now)
     ON CONFLICT (id) DO UPDATE SET version = excluded.version, content_hash = excluded.content_hash, name = excluded.name,
       from_name = excluded.from_name, from_address = excluded.from_address, subject = excluded.subject, preheader = excluded.preheader, html = excluded.html, text_part = excluded.text_part,
       relay_id = excluded.relay_id, experiment = excluded.experiment, seeds = excluded.seeds, seeds_sent_at = NULL, waves = excluded.waves, send_window_ms = excluded.send_window_ms, translations = excluded.translations, winner = NULL, winner_reason = NULL, winner_at = NULL,
       status = 'prepared', status_reason = NULL, targeted = excluded.targeted, to_deliver = excluded.to_deliver,
       excluded = excluded.excluded, excluded_by_cause = excluded.excluded_by_cause, chunk_count = excluded.chunk_count,
       exclusion_chunk_count = excluded.exclusion_chunk_count, committed = 0, committed_at = NULL, updated_at = excluded.updated_at`,
  );
  const partKnown = db.prepare('SELECT 1 FROM batch_parts WHERE delivery_id = ? AND content_hash = ? AND seq = ?').pluck();
  const addPart = db.prepare('INSERT INTO batch_parts (delivery_id, content_hash, seq, rows) VALUES (?, ?, ?, ?)');
  const partCount = db.prepare('SELECT COUNT(*) FROM batch_parts WHERE delivery_id = ? AND content_hash = ?').pluck();
  const excludedBefore = db
    .prepare('SELECT COALESCE(SUM(rows), 0) FROM batch_parts WHERE delivery_id = ? AND content_hash = ? AND seq > ? AND seq < ?')
    .pluck();
  const dropParts = db.prepare('DELETE FROM batch_parts WHERE delivery_id = ?');
  const dropStagedJournal = db.prepare("DELETE FROM journal WHERE delivery_id = ? AND status = 'staged'");
  const dropJournal = db.prepare('DELETE FROM journal WHERE delivery_id = ?');
  const dropStagedExclusions = db.prepare('DELETE FROM exclusions WHERE delivery_id = ? AND staged = 1');
  const dropExclusions = db.prepare('DELETE FROM exclusions WHERE delivery_id = ?');
  const stageRecipient = db.prepare(
    `INSERT INTO journal (delivery_id, seq, profile_id, email, subject, vals, variant, due_at, status, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'staged', ?)`,
  );
  const stageExclusion = db.prepare(
    'INSERT INTO exclusions (delivery_id, seq, profile_id, email, rule, cause, staged) VALUES (?, ?, ?, ?, ?, ?, 1)',
  );
  const stagedCount = db.prepare("SELECT COUNT(*) FROM journal WHERE delivery_id = ? AND status = 'staged'").pluck();
  // Across parts: what checkPart checks within one. Each is one pass over the staged rows.
  const twiceProfile = db
    .prepare("SELECT profile_id FROM journal WHERE delivery_id = ? AND status = 'staged' GROUP BY profile_id HAVING COUNT(*) > 1 LIMIT 1")
    .pluck();
  const twiceAddress = db
    .prepare("SELECT email FROM journal WHERE delivery_id = ? AND status = 'staged' GROUP BY email HAVING COUNT(*) > 1 LIMIT 1")
    .pluck();
  const twiceExcluded = db
    .prepare('SELECT profile_id FROM exclusions WHERE delivery_id = ? AND staged = 1 GROUP BY profile_id HAVING COUNT(*) > 1 LIMIT 1')
    .pluck();
  const excludedAndRecipient = db
    .prepare(
      `SELECT x.profile_id FROM exclusions x JOIN journal j ON j.delivery_id = x.delivery_id AND j.profile_id = x.profile_id AND j.status = 'staged'
       WHERE x.delivery_id = ? AND x.staged = 1 LIMIT 1`,
    )
    .pluck();
  const stagedByCause = db.prepare('SELECT cause, COUNT(*) AS n FROM exclusions WHERE delivery_id = ? AND staged = 1 GROUP BY cause');
  // With an A/B test (held = 1), the rows without a variant wait for the winner.
  const queueStaged = db.prepare(
    "UPDATE journal SET status = CASE WHEN variant IS NULL AND @held = 1 THEN 'held' ELSE 'queued' END, updated_at = @at WHERE delivery_id = @id AND status = 'staged'",
  );
  const highestSeq = db.prepare('SELECT COALESCE(MAX(seq), 0) FROM journal WHERE delivery_id = ?').pluck();
  // The excluded are numbered after the recipients, in the order their parts came (stagedExclusionSeq).
  const numberExclusions = db.prepare(
    `UPDATE exclusions SET seq = r.n + @after, staged = 0
     FROM (SELECT seq AS staged_seq, ROW_NUMBER() OVER (ORDER BY seq DESC) AS n FROM exclusions WHERE delivery_id = @id AND staged = 1) r
     WHERE exclusions.delivery_id = @id AND exclusions.seq = r.staged_seq`,
  );
  const markCommitted = db.prepare('UPDATE deliveries SET committed = 1, committed_at = @at, updated_at = @at WHERE id = @id');
  const journalCounts = db.prepare('SELECT status, COUNT(*) AS n FROM journal WHERE delivery_id = ? GROUP BY status');
  const engagement = db.prepare(
    `SELECT
       COUNT(DISTINCT CASE WHEN kind = 'open' AND machine = 0 THEN journal_id END) AS opens,
       COUNT(CASE WHEN kind = 'open' AND machine = 0 THEN 1 END) AS totalOpens,
       COUNT(DISTINCT CASE WHEN kind = 'click' AND machine = 0 THEN journal_id END) AS clicks,
       COUNT(CASE WHEN kind = 'click' AND machine = 0 THEN 1 END) AS totalClicks,
       COUNT(CASE WHEN kind = 'open' AND machine = 1 THEN 1 END) AS machineOpens,
       COUNT(CASE WHEN kind = 'click' AND machine = 1 THEN 1 END) AS machineClicks,
       COUNT(DISTINCT CASE WHEN kind = 'unsubscribe' THEN journal_id END) AS unsubscribes,
       MIN(CASE WHEN kind = 'open' AND machine = 0 THEN at END) AS firstOpenAt,
       MAX(CASE WHEN kind = 'open' AND machine = 0 THEN at END) AS lastOpenAt,
       MIN(CASE WHEN kind = 'click' AND machine = 0 THEN at END) AS firstClickAt,
       MAX(CASE WHEN kind = 'click' AND machine = 0 THEN at END) AS lastClickAt
     FROM tracking_events WHERE delivery_id = ?`,
  );
  const sentSince = db.prepare("SELECT COUNT(*) FROM journal WHERE delivery_id = ? AND status = 'sent' AND updated_at >= ?").pluck();
  const setStatus = db.prepare(
    `UPDATE deliveries SET status = @to, status_reason = @reason, updated_at = @now,
       scheduled_at = CASE WHEN @setSchedule THEN @scheduledAt ELSE scheduled_at END,
       started_at = CASE WHEN @to = 'sending' AND started_at IS NULL THEN @now ELSE started_at END,
       finished_at = CASE WHEN @to IN ('stopped', 'completed') THEN @now ELSE finished_at END
     WHERE id = @id AND status = @from`,
  );
  const cancelRemaining = db.prepare(
    `UPDATE journal SET status = 'cancelled', updated_at = ? WHERE delivery_id = ? AND status IN ('queued', 'retrying', 'held')`,
  );
  const cancelSeeds = db.prepare(SEED_SQL.cancel);
  const audienceCount = db.prepare('SELECT COUNT(*) FROM profiles').pluck();
  const deletedCount = db.prepare('SELECT COUNT(*) FROM tombstones').pluck();
  const addressOf = db.prepare('SELECT email FROM profiles WHERE id = ?').pluck();
  const profileAt = db.prepare('SELECT id FROM profiles WHERE email = ?').pluck();
  const wasDeleted = db.prepare('SELECT 1 FROM tombstones WHERE profile_id = ?').pluck();
  const dropDelivery = db.prepare("DELETE FROM deliveries WHERE id = ? AND committed = 0 AND status = 'prepared'");

  /** What the audience of record says of the profiles and addresses a part names. */
  const factsOf = (part: PartRows): RecordFacts => {
    const facts = { addressOf: new Map<number, string>(), deleted: new Set<number>(), holderOf: new Map<string, number>() };
    for (const row of part.rows) {
      const address = addressOf.get(row.profileId) as string | undefined;
      if (address !== undefined) facts.addressOf.set(row.profileId, address);
      else if (wasDeleted.get(row.profileId) !== undefined) {
        facts.deleted.add(row.profileId);
        const email = part.kind === 'recipients' ? normalizeEmail(row.email) : row.email;
        const holder = profileAt.get(email) as number | undefined;
        if (holder !== undefined) facts.holderOf.set(email, holder);
      }
    }
    return facts;
  };

  /** Keeps nothing of an uncommitted batch: its staged rows, its parts, and the delivery it opened. */
  const discard = (id: string) => {
    dropStagedJournal.run(id);
    dropStagedExclusions.run(id);
    dropParts.run(id);
    dropDelivery.run(id);
  };

  /** Returns why the staged rows, taken together, are not the preparation's, or null. */
  const commitProblem = (delivery: ServerDelivery): string | null => {
    const staged = stagedCount.get(delivery.id) as number;
    if (staged !== delivery.toDeliver) return `it holds ${staged} recipients but the preparation counted ${delivery.toDeliver} to deliver.`;
    const profile = twiceProfile.get(delivery.id) as number | undefined;
    if (profile !== undefined) return `profile ${profile} appears twice.`;
    const address = twiceAddress.get(delivery.id) as string | undefined;
    if (address !== undefined) return `the address ${JSON.stringify(address.slice(0, 100))} appears twice.`;
    // A header without exclusion parts comes from an app older than kept exclusions: its log shows them by cause only.
    if (delivery.exclusionChunkCount === undefined) return null;
    const excluded = (twiceExcluded.get(delivery.id) ?? excludedAndRecipient.get(delivery.id)) as number | undefined;
    if (excluded !== undefined) return `profile ${excluded} appears twice.`;
    const byCause = new Map<string, number>();
    let count = 0;
    for (const row of stagedByCause.all(delivery.id) as { cause: string; n: number }[]) {
      byCause.set(row.cause, row.n);
      count += row.n;
    }
    return checkExclusionTotals(delivery, count, byCause);
  };

  const beginBatch = db.transaction((header: BatchHeader, now: Date): Outcome => {
    const existing = get(header.id);
    // The same batch again (a retried upload): keep what the server already has.
    const sameParts = existing?.chunkCount === header.chunkCount && existing?.exclusionChunkCount === header.exclusionChunkCount;
    if (existing && existing.contentHash === header.contentHash && (existing.committed || sameParts)) return { ok: true };
    const problem = checkHeader(header, (audienceCount.get() as number) + (deletedCount.get() as number));
    if (problem) return refuse(422, 'batch-refused', `The batch was refused: ${problem} Prepare the delivery again.`);
    if (existing && existing.committed && existing.status !== 'prepared') {
      return refuse(
        409,
        'delivery-already-sent',
        `"${existing.name}" was already handed to the sender (${existing.status}); it cannot be replaced.`,
      );
    }
    // Another preparation replaces the last one, staged or committed (but never sent).
    dropJournal.run(header.id);
    dropExclusions.run(header.id);
    dropParts.run(header.id);
    upsert.run({
      ...header,
      preheader: header.preheader ?? '',
      text: header.text ?? '',
      relayId: header.relayId ?? null,
      experiment: header.experiment ? JSON.stringify(header.experiment) : null,
      seeds: header.seeds?.length ? JSON.stringify(header.seeds) : null,
      waves: header.waves ? JSON.stringify(header.waves) : null,
      sendWindowMs: header.sendWindowMs ?? null,
      translations: header.translations?.length ? JSON.stringify(header.translations) : null,
      exclusionChunkCount: header.exclusionChunkCount ?? null,
      excludedByCause: JSON.stringify(header.excludedByCause),
      now: now.toISOString(),
    });
    return { ok: true };
  });

  const putChunk = db.transaction((id: string, contentHash: string, seq: number, part: Parameters<DeliveryStore['putChunk']>[3]) => {
    const delivery = get(id);
    if (!delivery) return notFound(id);
    if (delivery.contentHash !== contentHash) {
      return refuse(409, 'stale-batch', 'This chunk belongs to an older preparation of the delivery. Prepare again and send.');
    }
    const received = (part.recipients ?? part.exclusions).length;
    if (delivery.committed || partKnown.get(id, contentHash, seq) !== undefined) return { ok: true as const, received };
    const parts = delivery.chunkCount + (delivery.exclusionChunkCount ?? 0);
    if (seq < 1 || seq > parts) return refuse(422, 'chunk-out-of-range', `Chunk ${seq} is outside the batch of ${parts} chunks.`);
    const rows: PartRows | null =
      seq <= delivery.chunkCount
        ? part.recipients
          ? { kind: 'recipients', rows: part.recipients }
          : null
        : part.exclusions
          ? { kind: 'exclusions', rows: part.exclusions }
          : null;
    if (!rows) {
      const holds =
        seq <= delivery.chunkCount
          ? 'recipients (chunks 1 to ' + delivery.chunkCount + ' do)'
          : `exclusions (those after chunk ${delivery.chunkCount} do)`;
      return refuse(422, 'chunk-kind', `Chunk ${seq} holds ${holds}, not ${seq <= delivery.chunkCount ? 'exclusions' : 'recipients'}.`);
    }
    // The excluded are numbered across parts, in the order the outbox sends them.
    const before = excludedBefore.get(id, contentHash, delivery.chunkCount, seq) as number;
    const problem = checkPart(rows) ?? checkVariants(delivery, rows) ?? checkAgainstRecord(rows, factsOf(rows), before + 1);
    if (problem) {
      discard(id);
      return mismatch(problem);
    }
    const at = new Date().toISOString();
    if (rows.kind === 'recipients') {
      for (const r of rows.rows as PreparedRecipient[]) {
        try {
          stageRecipient.run(id, r.seq, r.profileId, r.email, r.subject, JSON.stringify(r.values), r.variant ?? null, r.dueAt ?? null, at);
        } catch (error) {
          if ((error as { code?: string }).code !== 'SQLITE_CONSTRAINT_UNIQUE') throw error;
          discard(id);
          return mismatch(`recipient number ${r.seq} appears twice.`);
        }
      }
    } else {
      (rows.rows as Exclusion[]).forEach((e, index) =>
        stageExclusion.run(id, stagedExclusionSeq(seq, index), e.profileId, e.email, e.rule, e.cause),
      );
    }
    addPart.run(id, contentHash, seq, received);
    return { ok: true as const, received };
  });

  const commitBatch = db.transaction((id: string, contentHash: string, now: Date): Outcome<{ recipients: number }> => {
    const delivery = get(id);
    if (!delivery) return notFound(id);
    if (delivery.contentHash !== contentHash) {
      return refuse(409, 'stale-batch', 'The batch belongs to an older preparation of the delivery. Prepare again and send.');
    }
    if (delivery.committed) return { ok: true, recipients: delivery.toDeliver };
    const parts = delivery.chunkCount + (delivery.exclusionChunkCount ?? 0);
    const have = partCount.get(id, contentHash) as number;
    if (have !== parts) return refuse(422, 'batch-incomplete', `The server has ${have} of ${parts} chunks; the upload will resume.`);
    const problem = commitProblem(delivery);
    if (problem) {
      discard(id);
      return mismatch(problem);
    }
    const at = now.toISOString();
    numberExclusions.run({ id, after: highestSeq.get(id) as number });
    queueStaged.run({ at, id, held: delivery.experiment ? 1 : 0 });
    dropParts.run(id);
    markCommitted.run({ at, id });
    return { ok: true, recipients: delivery.toDeliver };
  });

  const transition = db.transaction(
    (id: string, to: DeliveryStatus, now: Date, fields: { scheduledAt?: string | null; reason?: string | null } = {}) => {
      const delivery = get(id);
      if (!delivery) return notFound(id);
      if (!delivery.committed) {
        return refuse(409, 'batch-not-committed', `"${delivery.name}" has not been fully received yet; the app is still sending it.`);
      }
      if (!canTransition(delivery.status, to)) return refuse(409, 'invalid-transition', transitionRefusal(delivery, to));
      const at = now.toISOString();
      const changed = setStatus.run({
        id,
        from: delivery.status,
        to,
        reason: fields.reason ?? null,
        now: at,
        setSchedule: fields.scheduledAt !== undefined ? 1 : 0,
        scheduledAt: fields.scheduledAt ?? null,
      }).changes;
      if (changed === 0) return refuse(409, 'invalid-transition', transitionRefusal(get(id)!, to));
      if (to === 'stopped') {
        cancelRemaining.run(at, id);
        cancelSeeds.run(at, id);
      }
      // Waves are due from the start of sending: the first start sets each row's due time by its wave.
      if (to === 'sending' && delivery.startedAt === null && delivery.waves) {
        db.prepare(`UPDATE journal SET due_at = ? + (${waveSql(delivery.waves)}) * ? WHERE delivery_id = ? AND due_at IS NULL`).run(
          now.getTime(),
          Math.round(delivery.waves.everyHours * 3_600_000),
          id,
        );
      }
      return { ok: true as const, delivery: get(id)! };
    },
  );

  return {
    get,
    status: (id) => statusOf.get(id) as DeliveryStatus | undefined,
    list: () => (all.all() as DeliveryRow[]).map(toDelivery),
    beginBatch,
    putChunk,
    commitBatch,
    transition,
    kpis(id, now) {
      const delivery = get(id);
      if (!delivery) return undefined;
      const counts: Record<string, number> = {};
      for (const row of journalCounts.all(id) as { status: string; n: number }[]) counts[row.status] = row.n;
      const events = engagement.get(id) as TrackingFigures;
      return kpisOf(delivery, counts, events, sentSince.get(id, new Date(now.getTime() - 60_000).toISOString()) as number, now);
    },
  };
}
