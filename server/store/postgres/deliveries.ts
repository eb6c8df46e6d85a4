/**
 * Deliveries and the hand-off of their batches in PostgreSQL (see ../deliveries.ts for what
 * it checks). Every step of a hand-off locks its delivery's row first: parts of one batch
 * may reach different nodes at once, and they take their turns.
 */

import { normalizeEmail } from '../../../shared/email-address';
import { waveSql } from '../../../shared/send-time';
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
  type DeliveryRow,
  type DeliveryStore,
  type Outcome,
  type PartRows,
  type RecordFacts,
  type ServerDelivery,
  type TrackingFigures,
} from '../deliveries';
import { SEED_SQL } from '../journal';
import { numbered, type Pg, type PgRunner } from './database';

export function postgresDeliveryStore(sql: Pg, flushEvents: () => Promise<void>): DeliveryStore {
  const get = async (runner: PgRunner, id: string, lock = false): Promise<ServerDelivery | undefined> => {
    const [row] = lock
      ? await runner<DeliveryRow[]>`SELECT * FROM deliveries WHERE id = ${id} FOR UPDATE`
      : await runner<DeliveryRow[]>`SELECT * FROM deliveries WHERE id = ${id}`;
    return row && toDelivery(row);
  };

  /** What the audience of record says of the profiles and addresses a part names: three queries, whatever its size. */
  const factsOf = async (tx: PgRunner, part: PartRows): Promise<RecordFacts> => {
    const ids = part.rows.map((r) => r.profileId);
    const known = await tx<{ id: number; email: string }[]>`SELECT id, email FROM profiles WHERE id = ANY(${ids}::bigint[])`;
    const addressOf = new Map(known.map((r) => [r.id, r.email]));
    const missing = ids.filter((id) => !addressOf.has(id));
    const deleted = new Set(
      missing.length
        ? (await tx<{ id: number }[]>`SELECT profile_id AS id FROM tombstones WHERE profile_id = ANY(${missing}::bigint[])`).map(
            (r) => r.id,
          )
        : [],
    );
    const emails = part.rows
      .filter((r) => deleted.has(r.profileId))
      .map((r) => (part.kind === 'recipients' ? normalizeEmail(r.email) : r.email));
    const holders = emails.length
      ? await tx<{ id: number; email: string }[]>`SELECT id, email FROM profiles WHERE email = ANY(${emails}::text[])`
      : [];
    return { addressOf, deleted, holderOf: new Map(holders.map((r) => [r.email, r.id])) };
  };

  /** Keeps nothing of an uncommitted batch: its staged rows, its parts, and the delivery it opened. */
  const discard = async (tx: PgRunner, id: string) => {
    await tx`DELETE FROM journal WHERE delivery_id = ${id} AND status = 'staged'`;
    await tx`DELETE FROM exclusions WHERE delivery_id = ${id} AND staged = 1`;
    await tx`DELETE FROM batch_parts WHERE delivery_id = ${id}`;
    await tx`DELETE FROM deliveries WHERE id = ${id} AND committed = 0 AND status = 'prepared'`;
  };

  /** Returns why the staged rows, taken together, are not the preparation's, or null. */
  const commitProblem = async (tx: PgRunner, d: ServerDelivery): Promise<string | null> => {
    const [{ n: staged }] = await tx<{ n: number }[]>`SELECT COUNT(*) AS n FROM journal WHERE delivery_id = ${d.id} AND status = 'staged'`;
    if (staged !== d.toDeliver) return `it holds ${staged} recipients but the preparation counted ${d.toDeliver} to deliver.`;
    const [profile] = await tx<{ profile_id: number }[]>`SELECT profile_id FROM journal WHERE delivery_id = ${d.id} AND status = 'staged'
      GROUP BY profile_id HAVING COUNT(*) > 1 LIMIT 1`;
    if (profile) return `profile ${profile.profile_id} appears twice.`;
    const [address] = await tx<{ email: string }[]>`SELECT email FROM journal WHERE delivery_id = ${d.id} AND status = 'staged'
      GROUP BY email HAVING COUNT(*) > 1 LIMIT 1`;
    if (address) return `the address ${JSON.stringify(address.email.slice(0, 100))} appears twice.`;
    // A header without exclusion parts comes from an app older than kept exclusions: its log shows them by cause only.
    if (d.exclusionChunkCount === undefined) return null;
    const [twice] = await tx<{ profile_id: number }[]>`
      (SELECT profile_id FROM exclusions WHERE delivery_id = ${d.id} AND staged = 1 GROUP BY profile_id HAVING COUNT(*) > 1 LIMIT 1)
      UNION ALL
      (SELECT x.profile_id FROM exclusions x JOIN journal j ON j.delivery_id = x.delivery_id AND j.profile_id = x.profile_id AND j.status = 'staged'
       WHERE x.delivery_id = ${d.id} AND x.staged = 1 LIMIT 1)
      LIMIT 1`;
    if (twice) return `profile ${twice.profile_id} appears twice.`;
    const causes = await tx<{ cause: string; n: number }[]>`SELECT cause, COUNT(*) AS n FROM exclusions
      WHERE delivery_id = ${d.id} AND staged = 1 GROUP BY cause`;
    return checkExclusionTotals(
      d,
      causes.reduce((sum, c) => sum + c.n, 0),
      new Map(causes.map((c) => [c.cause, c.n])),
    );
  };

  return {
    get: (id) => get(sql, id),
    async status(id) {
      const [row] = await sql<{ status: DeliveryStatus }[]>`SELECT status FROM deliveries WHERE id = ${id}`;
      return row?.status;
    },
    async list() {
      return (await sql<DeliveryRow[]>`SELECT * FROM deliveries ORDER BY created_at DESC`).map(toDelivery);
    },

    beginBatch(header, now) {
      return sql.begin(async (tx) => {
        // Two nodes opening the same delivery's hand-off at once take turns on this lock.
        await tx`SELECT pg_advisory_xact_lock(hashtext(${`batch ${header.id}`}))`;
        const existing = await get(tx, header.id, true);
        // The same batch again (a retried upload): keep what the server already has.
        const sameParts = existing?.chunkCount === header.chunkCount && existing?.exclusionChunkCount === header.exclusionChunkCount;
        if (existing && existing.contentHash === header.contentHash && (existing.committed || sameParts)) return { ok: true };
        const [{ n: profiles }] = await tx<
          { n: number }[]
        >`SELECT (SELECT COUNT(*) FROM profiles) + (SELECT COUNT(*) FROM tombstones) AS n`;
        const problem = checkHeader(header, profiles);
        if (problem) return refuse(422, 'batch-refused', `The batch was refused: ${problem} Prepare the delivery again.`);
        if (existing && existing.committed && existing.status !== 'prepared') {
          return refuse(
            409,
            'delivery-already-sent',
            `"${existing.name}" was already handed to the sender (${existing.status}); it cannot be replaced.`,
          );
        }
        // Another preparation replaces the last one, staged or committed (but never sent).
        await tx`DELETE FROM journal WHERE delivery_id = ${header.id}`;
        await tx`DELETE FROM exclusions WHERE delivery_id = ${header.id}`;
        await tx`DELETE FROM batch_parts WHERE delivery_id = ${header.id}`;
        const at = now.toISOString();
        await tx`INSERT INTO deliveries (id, version, content_hash, name, from_name, from_address, subject, preheader, html, text_part, relay_id, experiment, seeds, waves, send_window_ms, translations, status, targeted, to_deliver,
            excluded, excluded_by_cause, chunk_count, exclusion_chunk_count, committed, created_at, updated_at)
          VALUES (${header.id}, ${header.version}, ${header.contentHash}, ${header.name}, ${header.fromName}, ${header.fromAddress},
            ${header.subject}, ${header.preheader ?? ''}, ${header.html}, ${header.text ?? ''}, ${header.relayId ?? null},
            ${header.experiment ? JSON.stringify(header.experiment) : null}, ${header.seeds?.length ? JSON.stringify(header.seeds) : null}, ${header.waves ? JSON.stringify(header.waves) : null}, ${header.sendWindowMs ?? null}, ${header.translations?.length ? JSON.stringify(header.translations) : null}, 'prepared', ${header.targeted}, ${header.toDeliver}, ${header.excluded},
            ${JSON.stringify(header.excludedByCause)}, ${header.chunkCount}, ${header.exclusionChunkCount ?? null}, 0, ${at}, ${at})
          ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, content_hash = EXCLUDED.content_hash, name = EXCLUDED.name,
            from_name = EXCLUDED.from_name, from_address = EXCLUDED.from_address, subject = EXCLUDED.subject, preheader = EXCLUDED.preheader, html = EXCLUDED.html, text_part = EXCLUDED.text_part,
            relay_id = EXCLUDED.relay_id, experiment = EXCLUDED.experiment, seeds = EXCLUDED.seeds, seeds_sent_at = NULL, waves = EXCLUDED.waves, send_window_ms = EXCLUDED.send_window_ms, translations = EXCLUDED.translations, winner = NULL, winner_reason = NULL, winner_at = NULL,
            status = 'prepared', status_reason = NULL, targeted = EXCLUDED.targeted, to_deliver = EXCLUDED.to_deliver,
            excluded = EXCLUDED.excluded, excluded_by_cause = EXCLUDED.excluded_by_cause, chunk_count = EXCLUDED.chunk_count,
            exclusion_chunk_count = EXCLUDED.exclusion_chunk_count, committed = 0, committed_at = NULL, updated_at = EXCLUDED.updated_at`;
        return { ok: true };
      }) as Promise<Outcome>;
    },

    putChunk(id, contentHash, seq, part) {
      return sql.begin(async (tx) => {
        const delivery = await get(tx, id, true);
        if (!delivery) return notFound(id);
        if (delivery.contentHash !== contentHash) {
          return refuse(409, 'stale-batch', 'This chunk belongs to an older preparation of the delivery. Prepare again and send.');
        }
        const received = (part.recipients ?? part.exclusions).length;
        if (delivery.committed) return { ok: true as const, received };
        const [known] = await tx`SELECT 1 FROM batch_parts WHERE delivery_id = ${id} AND content_hash = ${contentHash} AND seq = ${seq}`;
        if (known) return { ok: true as const, received };
        const parts = delivery.chunkCount + (delivery.exclusionChunkCount ?? 0);
        if (seq < 1 || seq > parts) return refuse(422, 'chunk-out-of-range', `Chunk ${seq} is outside the batch of ${parts} chunks.`);
        const forRecipients = seq <= delivery.chunkCount;
        const rows: PartRows | null = forRecipients
          ? part.recipients
            ? { kind: 'recipients', rows: part.recipients }
            : null
          : part.exclusions
            ? { kind: 'exclusions', rows: part.exclusions }
            : null;
        if (!rows) {
          const holds = forRecipients
            ? `recipients (chunks 1 to ${delivery.chunkCount} do)`
            : `exclusions (those after chunk ${delivery.chunkCount} do)`;
          return refuse(422, 'chunk-kind', `Chunk ${seq} holds ${holds}, not ${forRecipients ? 'exclusions' : 'recipients'}.`);
        }
        // The excluded are numbered across parts, in the order the outbox sends them.
        const [{ n: before }] = await tx<{ n: number }[]>`SELECT COALESCE(SUM(rows), 0)::int AS n FROM batch_parts
          WHERE delivery_id = ${id} AND content_hash = ${contentHash} AND seq > ${delivery.chunkCount} AND seq < ${seq}`;
        const problem = checkPart(rows) ?? checkVariants(delivery, rows) ?? checkAgainstRecord(rows, await factsOf(tx, rows), before + 1);
        if (problem) {
          await discard(tx, id);
          return mismatch(problem);
        }
        const at = new Date().toISOString();
        if (rows.kind === 'recipients') {
          const r = rows.rows as PreparedRecipient[];
          const inserted = await tx<
            { seq: number }[]
          >`INSERT INTO journal (delivery_id, seq, profile_id, email, subject, vals, variant, due_at, status, updated_at)
            SELECT ${id}, * , 'staged', ${at} FROM unnest(${r.map((x) => x.seq)}::int[], ${r.map((x) => x.profileId)}::bigint[],
              ${r.map((x) => x.email)}::text[], ${r.map((x) => x.subject)}::text[], ${r.map((x) => JSON.stringify(x.values))}::text[],
              ${r.map((x) => x.variant ?? null)}::int[], ${r.map((x) => x.dueAt ?? null)}::bigint[])
            ON CONFLICT (delivery_id, seq) DO NOTHING RETURNING seq`;
          if (inserted.length !== r.length) {
            // A number another part holds already: the same recipient number twice.
            const got = new Set(inserted.map((x) => x.seq));
            const twice = r.find((x) => !got.has(x.seq))!;
            await discard(tx, id);
            return mismatch(`recipient number ${twice.seq} appears twice.`);
          }
        } else {
          const e = rows.rows as Exclusion[];
          await tx`INSERT INTO exclusions (delivery_id, seq, profile_id, email, rule, cause, staged)
            SELECT ${id}, *, 1 FROM unnest(${e.map((_, i) => stagedExclusionSeq(seq, i))}::int[], ${e.map((x) => x.profileId)}::bigint[],
              ${e.map((x) => x.email)}::text[], ${e.map((x) => x.rule)}::text[], ${e.map((x) => x.cause)}::text[])`;
        }
        await tx`INSERT INTO batch_parts (delivery_id, content_hash, seq, rows) VALUES (${id}, ${contentHash}, ${seq}, ${received})`;
        return { ok: true as const, received };
      }) as ReturnType<DeliveryStore['putChunk']>;
    },

    commitBatch(id, contentHash, now) {
      return sql.begin(async (tx) => {
        const delivery = await get(tx, id, true);
        if (!delivery) return notFound(id);
        if (delivery.contentHash !== contentHash) {
          return refuse(409, 'stale-batch', 'The batch belongs to an older preparation of the delivery. Prepare again and send.');
        }
        if (delivery.committed) return { ok: true as const, recipients: delivery.toDeliver };
        const parts = delivery.chunkCount + (delivery.exclusionChunkCount ?? 0);
        const [{ n: have }] = await tx<
          { n: number }[]
        >`SELECT COUNT(*) AS n FROM batch_parts WHERE delivery_id = ${id} AND content_hash = ${contentHash}`;
        if (have !== parts) return refuse(422, 'batch-incomplete', `The server has ${have} of ${parts} chunks; the upload will resume.`);
        const problem = await commitProblem(tx, delivery);
        if (problem) {
          await discard(tx, id);
          return mismatch(problem);
        }
        const at = now.toISOString();
        // The excluded are numbered after the recipients, in the order their parts came (stagedExclusionSeq).
        await tx`UPDATE exclusions x SET seq = r.n + (SELECT COALESCE(MAX(seq), 0) FROM journal WHERE delivery_id = ${id}), staged = 0
          FROM (SELECT seq AS staged_seq, ROW_NUMBER() OVER (ORDER BY seq DESC) AS n FROM exclusions WHERE delivery_id = ${id} AND staged = 1) r
          WHERE x.delivery_id = ${id} AND x.seq = r.staged_seq`;
        // With an A/B test, the rows without a variant wait for the winner.
        await tx`UPDATE journal SET status = CASE WHEN variant IS NULL AND ${delivery.experiment ? 1 : 0}::int = 1 THEN 'held' ELSE 'queued' END,
            updated_at = ${at} WHERE delivery_id = ${id} AND status = 'staged'`;
        await tx`DELETE FROM batch_parts WHERE delivery_id = ${id}`;
        await tx`UPDATE deliveries SET committed = 1, committed_at = ${at}, updated_at = ${at} WHERE id = ${id}`;
        return { ok: true as const, recipients: delivery.toDeliver };
      }) as ReturnType<DeliveryStore['commitBatch']>;
    },

    transition(id, to, now, fields = {}) {
      return sql.begin(async (tx) => {
        const delivery = await get(tx, id, true);
        if (!delivery) return notFound(id);
        if (!delivery.committed) {
          return refuse(409, 'batch-not-committed', `"${delivery.name}" has not been fully received yet; the app is still sending it.`);
        }
        if (!canTransition(delivery.status, to)) return refuse(409, 'invalid-transition', transitionRefusal(delivery, to));
        const at = now.toISOString();
        const setSchedule = fields.scheduledAt !== undefined;
        await tx`UPDATE deliveries SET status = ${to}, status_reason = ${fields.reason ?? null}, updated_at = ${at},
            scheduled_at = CASE WHEN ${setSchedule} THEN ${fields.scheduledAt ?? null} ELSE scheduled_at END,
            started_at = CASE WHEN ${to} = 'sending' AND started_at IS NULL THEN ${at} ELSE started_at END,
            finished_at = CASE WHEN ${to} IN ('stopped', 'completed') THEN ${at} ELSE finished_at END
          WHERE id = ${id}`;
        // Waves are due from the start of sending: the first start sets each row's due time by its wave.
        if (to === 'sending' && delivery.startedAt === null && delivery.waves) {
          await tx.unsafe(
            `UPDATE journal SET due_at = $1::bigint + (${waveSql(delivery.waves)})::bigint * $2::bigint WHERE delivery_id = $3 AND due_at IS NULL`,
            [now.getTime(), Math.round(delivery.waves.everyHours * 3_600_000), id],
          );
        }
        if (to === 'stopped') {
          await tx`UPDATE journal SET status = 'cancelled', updated_at = ${at} WHERE delivery_id = ${id} AND status IN ('queued', 'retrying', 'held')`;
          await tx.unsafe(numbered(SEED_SQL.cancel), [at, id]);
        }
        return { ok: true as const, delivery: (await get(tx, id))! };
      }) as ReturnType<DeliveryStore['transition']>;
    },

    async kpis(id, now) {
      await flushEvents();
      const delivery = await get(sql, id);
      if (!delivery) return undefined;
      const [counts, [events], [{ n: sendRate }]] = await Promise.all([
        sql<{ status: string; n: number }[]>`SELECT status, COUNT(*) AS n FROM journal WHERE delivery_id = ${id} GROUP BY status`,
        sql<TrackingFigures[]>`SELECT
            COUNT(DISTINCT CASE WHEN kind = 'open' AND machine = 0 THEN journal_id END) AS opens,
            COUNT(CASE WHEN kind = 'open' AND machine = 0 THEN 1 END) AS "totalOpens",
            COUNT(DISTINCT CASE WHEN kind = 'click' AND machine = 0 THEN journal_id END) AS clicks,
            COUNT(CASE WHEN kind = 'click' AND machine = 0 THEN 1 END) AS "totalClicks",
            COUNT(CASE WHEN kind = 'open' AND machine = 1 THEN 1 END) AS "machineOpens",
            COUNT(CASE WHEN kind = 'click' AND machine = 1 THEN 1 END) AS "machineClicks",
            COUNT(DISTINCT CASE WHEN kind = 'unsubscribe' THEN journal_id END) AS unsubscribes,
            MIN(CASE WHEN kind = 'open' AND machine = 0 THEN at END) AS "firstOpenAt",
            MAX(CASE WHEN kind = 'open' AND machine = 0 THEN at END) AS "lastOpenAt",
            MIN(CASE WHEN kind = 'click' AND machine = 0 THEN at END) AS "firstClickAt",
            MAX(CASE WHEN kind = 'click' AND machine = 0 THEN at END) AS "lastClickAt"
          FROM tracking_events WHERE delivery_id = ${id}`,
        sql<{ n: number }[]>`SELECT COUNT(*) AS n FROM journal WHERE delivery_id = ${id} AND status = 'sent'
          AND updated_at >= ${new Date(now.getTime() - 60_000).toISOString()}`,
      ]);
      return kpisOf(delivery, Object.fromEntries(counts.map((c) => [c.status, c.n])), events, sendRate, now);
    },
  };
}
