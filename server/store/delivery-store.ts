/**
 * Deliveries on the server: the hand-off of a prepared batch in idempotent chunks, the
 * status a delivery is in, and its live figures. The batch is kept in staging tables until
 * it is complete and consistent; only then does it become journal rows (its recipients) and
 * exclusion rows (its excluded profiles, with their rules), in one transaction.
 *
 * The server trusts a batch no further than it can check it: its figures must add up and fit
 * the audience of record, every recipient and every excluded profile must be a profile of
 * record at the address the batch names (or a profile deleted since, which late suppression
 * then skips), none twice, and the exclusions must be as many, cause by cause, as the figures
 * say. A batch that fails any check is refused whole, and nothing of it is kept.
 *
 * Exclusions are numbered after the recipients (the highest recipient number + 1 onwards), so
 * that the delivery log pages both by one number: every recipient first, then the excluded.
 */

import type { BatchHeaderBody } from '../../shared/handoff';
import { canTransition } from '../../shared/status';
import { isValidEmail, normalizeEmail } from '../../shared/email-address';
import type { DeliveryStatus, Exclusion, PreparedRecipient, SendKpis } from '../../shared/types';
import type { Db } from './database';

/** The header of a batch, as the browser sends it (shared/handoff.ts), with the delivery's id. */
export interface BatchHeader extends BatchHeaderBody {
  id: string;
}

export interface ServerDelivery extends BatchHeader {
  status: DeliveryStatus;
  statusReason: string | null;
  scheduledAt: string | null;
  committed: boolean;
  /** When the batch was committed (its exclusions are as of then); null before, and for batches committed before it was kept. */
  committedAt: string | null;
  createdAt: string;
  updatedAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}

/** An expected refusal: a machine-readable code and a sentence for the person. */
export interface Refusal {
  ok: false;
  code: string;
  message: string;
  status: 404 | 409 | 422;
}

export type Outcome<T = object> = ({ ok: true } & T) | Refusal;

/** One part of a batch: recipients (parts 1 to chunkCount) or exclusions (the parts after them). */
export type BatchPart = { recipients: PreparedRecipient[]; exclusions?: undefined } | { exclusions: Exclusion[]; recipients?: undefined };

export interface DeliveryStore {
  get(id: string): ServerDelivery | undefined;
  /** Returns the status alone (no content), for checks on the send path. */
  status(id: string): DeliveryStatus | undefined;
  list(): ServerDelivery[];
  /** Opens (or reopens) the hand-off of a batch; chunks of another content hash are dropped. */
  beginBatch(header: BatchHeader, now: Date): Outcome;
  /** Stores one part of the batch; storing the same part again changes nothing. Returns once it is on disk. */
  putChunk(id: string, contentHash: string, seq: number, part: BatchPart): Outcome<{ received: number }>;
  /** Turns a complete batch into journal and exclusion rows, or refuses it and keeps nothing of it. */
  commitBatch(id: string, contentHash: string, now: Date): Outcome<{ recipients: number }>;
  /** Moves a delivery to a new status when the transition table allows it. */
  transition(
    id: string,
    to: DeliveryStatus,
    now: Date,
    fields?: { scheduledAt?: string | null; reason?: string | null },
  ): Outcome<{ delivery: ServerDelivery }>;
  kpis(id: string, now: Date): SendKpis | undefined;
}

interface DeliveryRow {
  id: string;
  version: number;
  content_hash: string;
  name: string;
  from_name: string;
  from_address: string;
  subject: string;
  html: string;
  status: DeliveryStatus;
  status_reason: string | null;
  scheduled_at: string | null;
  targeted: number;
  to_deliver: number;
  excluded: number;
  excluded_by_cause: string;
  chunk_count: number;
  exclusion_chunk_count: number | null;
  committed: number;
  committed_at: string | null;
  created_at: string;
  updated_at: string;
  started_at: string | null;
  finished_at: string | null;
}

const toDelivery = (r: DeliveryRow): ServerDelivery => ({
  id: r.id,
  version: r.version,
  contentHash: r.content_hash,
  name: r.name,
  fromName: r.from_name,
  fromAddress: r.from_address,
  subject: r.subject,
  html: r.html,
  status: r.status,
  statusReason: r.status_reason,
  scheduledAt: r.scheduled_at,
  targeted: r.targeted,
  toDeliver: r.to_deliver,
  excluded: r.excluded,
  excludedByCause: JSON.parse(r.excluded_by_cause),
  chunkCount: r.chunk_count,
  ...(r.exclusion_chunk_count === null ? {} : { exclusionChunkCount: r.exclusion_chunk_count }),
  committed: r.committed === 1,
  committedAt: r.committed_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

const refuse = (status: Refusal['status'], code: string, message: string): Refusal => ({ ok: false, status, code, message });
const notFound = (id: string) => refuse(404, 'delivery-not-found', `There is no delivery ${id} on the server. Send it again from the app.`);

export function sqliteDeliveryStore(db: Db): DeliveryStore {
  const byId = db.prepare('SELECT * FROM deliveries WHERE id = ?');
  const all = db.prepare('SELECT * FROM deliveries ORDER BY created_at DESC');
  const statusOf = db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck();
  const get = (id: string) => {
    const row = byId.get(id) as DeliveryRow | undefined;
    return row && toDelivery(row);
  };
  const upsert = db.prepare(
    `INSERT INTO deliveries (id, version, content_hash, name, from_name, from_address, subject, html, status, targeted, to_deliver,
       excluded, excluded_by_cause, chunk_count, exclusion_chunk_count, committed, created_at, updated_at)
     VALUES (@id, @version, @contentHash, @name, @fromName, @fromAddress, @subject, @html, 'prepared', @targeted, @toDeliver,
       @excluded, @excludedByCause, @chunkCount, @exclusionChunkCount, 0, @now, @now)
     ON CONFLICT (id) DO UPDATE SET version = excluded.version, content_hash = excluded.content_hash, name = excluded.name,
       from_name = excluded.from_name, from_address = excluded.from_address, subject = excluded.subject, html = excluded.html,
       status = 'prepared', status_reason = NULL, targeted = excluded.targeted, to_deliver = excluded.to_deliver,
       excluded = excluded.excluded, excluded_by_cause = excluded.excluded_by_cause, chunk_count = excluded.chunk_count,
       exclusion_chunk_count = excluded.exclusion_chunk_count, committed = 0, committed_at = NULL, updated_at = excluded.updated_at`,
  );
  const dropOtherChunks = db.prepare('DELETE FROM batch_chunks WHERE delivery_id = ? AND content_hash <> ?');
  const dropOtherExclusionChunks = db.prepare('DELETE FROM batch_exclusions WHERE delivery_id = ? AND content_hash <> ?');
  const dropChunks = db.prepare('DELETE FROM batch_chunks WHERE delivery_id = ?');
  const dropExclusionChunks = db.prepare('DELETE FROM batch_exclusions WHERE delivery_id = ?');
  const putChunk = db.prepare(
    'INSERT INTO batch_chunks (delivery_id, content_hash, seq, recipients) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const putExclusionChunk = db.prepare(
    'INSERT INTO batch_exclusions (delivery_id, content_hash, seq, exclusions) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const chunks = db.prepare('SELECT seq, recipients FROM batch_chunks WHERE delivery_id = ? AND content_hash = ? ORDER BY seq');
  const exclusionChunkSeqs = db.prepare('SELECT seq FROM batch_exclusions WHERE delivery_id = ? AND content_hash = ? ORDER BY seq').pluck();
  const exclusionChunk = db
    .prepare('SELECT exclusions FROM batch_exclusions WHERE delivery_id = ? AND content_hash = ? AND seq = ?')
    .pluck();
  const insertJournal = db.prepare(
    `INSERT INTO journal (delivery_id, seq, profile_id, email, subject, vals, status, updated_at)
     VALUES (?, ?, ?, ?, ?, ?, 'queued', ?)`,
  );
  const insertExclusion = db.prepare('INSERT INTO exclusions (delivery_id, seq, profile_id, email, rule, cause) VALUES (?, ?, ?, ?, ?, ?)');
  const dropExclusions = db.prepare('DELETE FROM exclusions WHERE delivery_id = ?');
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
    `UPDATE journal SET status = 'cancelled', updated_at = ? WHERE delivery_id = ? AND status IN ('queued', 'retrying')`,
  );

  const audienceCount = db.prepare('SELECT COUNT(*) FROM profiles').pluck();
  const deletedCount = db.prepare('SELECT COUNT(*) FROM tombstones').pluck();
  const addressOf = db.prepare('SELECT email FROM profiles WHERE id = ?').pluck();
  const profileAt = db.prepare('SELECT id FROM profiles WHERE email = ?').pluck();
  const wasDeleted = db.prepare('SELECT 1 FROM tombstones WHERE profile_id = ?').pluck();
  const ofRecord: AudienceOfRecord = {
    addressOf: (profileId) => addressOf.get(profileId) as string | undefined,
    profileAt: (email) => profileAt.get(email) as number | undefined,
    wasDeleted: (profileId) => wasDeleted.get(profileId) !== undefined,
  };

  const discard = (id: string) => {
    dropChunks.run(id);
    dropExclusionChunks.run(id);
    dropExclusions.run(id);
    db.prepare("DELETE FROM deliveries WHERE id = ? AND committed = 0 AND status = 'prepared'").run(id);
  };

  /**
   * Checks the staged exclusions part by part (one part in memory at a time) and writes them
   * as exclusion rows numbered from `firstSeq`; `profiles` holds the recipients' profiles.
   * Returns why they cannot be the preparation's, or null; on a problem the caller discards.
   */
  const keepExclusions = (delivery: ServerDelivery, firstSeq: number, profiles: Set<number>): string | null => {
    const parts = exclusionChunkSeqs.all(delivery.id, delivery.contentHash) as number[];
    const byCause = new Map<string, number>();
    let seq = firstSeq;
    for (const part of parts) {
      const exclusions = JSON.parse(exclusionChunk.get(delivery.id, delivery.contentHash, part) as string) as Exclusion[];
      for (const e of exclusions) {
        const problem = checkExcluded(e, seq - firstSeq + 1, profiles, ofRecord);
        if (problem) return problem;
        byCause.set(e.cause, (byCause.get(e.cause) ?? 0) + 1);
        insertExclusion.run(delivery.id, seq++, e.profileId, e.email, e.rule, e.cause);
      }
    }
    return checkExclusionTotals(delivery, seq - firstSeq, byCause);
  };

  return {
    get,
    status: (id) => statusOf.get(id) as DeliveryStatus | undefined,
    list: () => (all.all() as DeliveryRow[]).map(toDelivery),

    beginBatch: db.transaction((header: BatchHeader, now: Date): Outcome => {
      const existing = get(header.id);
      // The same batch again (a retried upload): keep what the server already has.
      const sameParts = existing?.chunkCount === header.chunkCount && existing?.exclusionChunkCount === header.exclusionChunkCount;
      if (existing && existing.contentHash === header.contentHash && (existing.committed || sameParts)) {
        return { ok: true };
      }
      const problem = checkHeader(header, (audienceCount.get() as number) + (deletedCount.get() as number));
      if (problem) return refuse(422, 'batch-refused', `The batch was refused: ${problem} Prepare the delivery again.`);
      if (existing && existing.committed && existing.status !== 'prepared') {
        return refuse(
          409,
          'delivery-already-sent',
          `"${existing.name}" was already handed to the sender (${existing.status}); it cannot be replaced.`,
        );
      }
      if (existing?.committed) {
        db.prepare('DELETE FROM journal WHERE delivery_id = ?').run(header.id);
        dropExclusions.run(header.id);
      }
      upsert.run({
        ...header,
        exclusionChunkCount: header.exclusionChunkCount ?? null,
        excludedByCause: JSON.stringify(header.excludedByCause),
        now: now.toISOString(),
      });
      dropOtherChunks.run(header.id, header.contentHash);
      dropOtherExclusionChunks.run(header.id, header.contentHash);
      return { ok: true };
    }),

    putChunk(id, contentHash, seq, part) {
      const delivery = get(id);
      if (!delivery) return notFound(id);
      if (delivery.contentHash !== contentHash) {
        return refuse(409, 'stale-batch', 'This chunk belongs to an older preparation of the delivery. Prepare again and send.');
      }
      const received = (part.recipients ?? part.exclusions).length;
      if (delivery.committed) return { ok: true, received };
      const parts = delivery.chunkCount + (delivery.exclusionChunkCount ?? 0);
      if (seq < 1 || seq > parts) {
        return refuse(422, 'chunk-out-of-range', `Chunk ${seq} is outside the batch of ${parts} chunks.`);
      }
      if (seq <= delivery.chunkCount) {
        if (!part.recipients) {
          return refuse(422, 'chunk-kind', `Chunk ${seq} holds recipients (chunks 1 to ${delivery.chunkCount} do), not exclusions.`);
        }
        putChunk.run(id, contentHash, seq, JSON.stringify(part.recipients));
      } else {
        if (!part.exclusions) {
          return refuse(422, 'chunk-kind', `Chunk ${seq} holds exclusions (those after chunk ${delivery.chunkCount} do), not recipients.`);
        }
        putExclusionChunk.run(id, contentHash, seq, JSON.stringify(part.exclusions));
      }
      return { ok: true, received };
    },

    commitBatch: db.transaction((id: string, contentHash: string, now: Date): Outcome<{ recipients: number }> => {
      const delivery = get(id);
      if (!delivery) return notFound(id);
      if (delivery.contentHash !== contentHash) {
        return refuse(409, 'stale-batch', 'The batch belongs to an older preparation of the delivery. Prepare again and send.');
      }
      if (delivery.committed) return { ok: true, recipients: delivery.toDeliver };
      const rows = chunks.all(id, contentHash) as { seq: number; recipients: string }[];
      const exclusionParts = exclusionChunkSeqs.all(id, contentHash).length;
      const parts = delivery.chunkCount + (delivery.exclusionChunkCount ?? 0);
      if (rows.length + exclusionParts !== parts) {
        return refuse(
          422,
          'batch-incomplete',
          `The server has ${rows.length + exclusionParts} of ${parts} chunks; the upload will resume.`,
        );
      }
      const recipients = rows.flatMap((r) => JSON.parse(r.recipients) as PreparedRecipient[]);
      const profiles = new Set<number>();
      let problem = checkTotals(delivery, recipients) ?? checkRecipients(recipients, ofRecord, profiles);
      // A header without exclusion parts comes from an app older than kept exclusions: its log shows them by cause only.
      if (!problem && delivery.exclusionChunkCount !== undefined) {
        const after = recipients.reduce((highest, r) => Math.max(highest, r.seq), 0);
        problem = keepExclusions(delivery, after + 1, profiles);
      }
      if (problem) {
        discard(id);
        return refuse(422, 'batch-mismatch', `The batch was refused and nothing of it was kept: ${problem} Prepare the delivery again.`);
      }
      const at = now.toISOString();
      for (const r of recipients) insertJournal.run(id, r.seq, r.profileId, r.email, r.subject, JSON.stringify(r.values), at);
      dropChunks.run(id);
      dropExclusionChunks.run(id);
      markCommitted.run({ at, id });
      return { ok: true, recipients: recipients.length };
    }),

    transition: db.transaction((id: string, to: DeliveryStatus, now: Date, fields = {}) => {
      const delivery = get(id);
      if (!delivery) return notFound(id);
      if (!delivery.committed) {
        return refuse(409, 'batch-not-committed', `"${delivery.name}" has not been fully received yet; the app is still sending it.`);
      }
      if (!canTransition(delivery.status, to)) {
        return refuse(409, 'invalid-transition', transitionRefusal(delivery, to));
      }
      const at = now.toISOString();
      setStatus.run({
        id,
        from: delivery.status,
        to,
        reason: fields.reason ?? null,
        now: at,
        setSchedule: fields.scheduledAt !== undefined ? 1 : 0,
        scheduledAt: fields.scheduledAt ?? null,
      });
      if (to === 'stopped') cancelRemaining.run(at, id);
      return { ok: true, delivery: get(id)! };
    }) as DeliveryStore['transition'],

    kpis(id, now) {
      const delivery = get(id);
      if (!delivery) return undefined;
      const counts: Record<string, number> = {};
      for (const row of journalCounts.all(id) as { status: string; n: number }[]) counts[row.status] = row.n;
      const events = engagement.get(id) as Pick<
        SendKpis,
        | 'opens'
        | 'totalOpens'
        | 'clicks'
        | 'totalClicks'
        | 'machineOpens'
        | 'machineClicks'
        | 'unsubscribes'
        | 'firstOpenAt'
        | 'lastOpenAt'
        | 'firstClickAt'
        | 'lastClickAt'
      >;
      const n = (s: string) => counts[s] ?? 0;
      return {
        status: delivery.status,
        statusReason: delivery.statusReason,
        targeted: delivery.targeted,
        toDeliver: delivery.toDeliver,
        delivered: n('sent'),
        failed: n('failed') + n('bounced'),
        bounced: n('bounced'),
        excludedAtSend: n('excluded'),
        cancelled: n('cancelled'),
        unknown: n('unknown'),
        remaining: n('queued') + n('retrying') + n('sending'),
        ...events,
        sendRate: sentSince.get(id, new Date(now.getTime() - 60_000).toISOString()) as number,
        updatedAt: now.toISOString(),
      };
    },
  };
}

/** Returns why a batch header's figures cannot be a preparation of this audience, or null when they can. */
function checkHeader(header: BatchHeader, audienceEver: number): string | null {
  if (header.toDeliver + header.excluded !== header.targeted) {
    return `to deliver (${header.toDeliver}) plus excluded (${header.excluded}) is not targeted (${header.targeted}).`;
  }
  const byCause = Object.values(header.excludedByCause).reduce((sum, n) => sum + n, 0);
  if (byCause !== header.excluded) return `the exclusions by cause add up to ${byCause}, not to the ${header.excluded} excluded.`;
  // Profiles deleted since preparation still count: they were in the audience when it ran.
  if (header.targeted > audienceEver) {
    return `it targets ${header.targeted} profiles, more than the audience of record has ever held (${audienceEver}).`;
  }
  return null;
}

/** Returns why the recipients do not match the preparation's figures, or null when they do. */
function checkTotals(delivery: ServerDelivery, recipients: PreparedRecipient[]): string | null {
  if (recipients.length !== delivery.toDeliver) {
    return `it holds ${recipients.length} recipients but the preparation counted ${delivery.toDeliver} to deliver.`;
  }
  if (delivery.toDeliver + delivery.excluded !== delivery.targeted) {
    return `to deliver (${delivery.toDeliver}) plus excluded (${delivery.excluded}) is not targeted (${delivery.targeted}).`;
  }
  return null;
}

/** What the hand-off checks recipients against: the audience of record, now. */
interface AudienceOfRecord {
  /** The address of a profile of record, or undefined when there is no such profile. */
  addressOf(profileId: number): string | undefined;
  /** The profile of record at a (normalized) address. */
  profileAt(email: string): number | undefined;
  /** True when the profile existed and was deleted (it left a tombstone). */
  wasDeleted(profileId: number): boolean;
}

/**
 * Returns why the recipients cannot be sent as given, or null when every one is a distinct
 * profile of record at its own, valid address. A profile deleted since preparation passes
 * (late suppression skips it), unless its address now belongs to another profile. Adds each
 * recipient's profile to `profiles`.
 */
function checkRecipients(recipients: PreparedRecipient[], audience: AudienceOfRecord, profiles: Set<number>): string | null {
  const seqs = new Set<number>();
  const addresses = new Set<string>();
  for (const r of recipients) {
    const email = normalizeEmail(r.email);
    const who = `recipient ${r.seq} (${JSON.stringify(r.email.slice(0, 100))})`;
    if (seqs.has(r.seq)) return `recipient number ${r.seq} appears twice.`;
    if (profiles.has(r.profileId)) return `profile ${r.profileId} appears twice.`;
    if (addresses.has(email)) return `the address ${JSON.stringify(r.email.slice(0, 100))} appears twice.`;
    seqs.add(r.seq);
    profiles.add(r.profileId);
    addresses.add(email);
    if (email !== r.email || !isValidEmail(email)) return `${who} is not a valid address.`;
    const address = audience.addressOf(r.profileId);
    if (address === undefined) {
      const holder = audience.profileAt(email);
      if (!audience.wasDeleted(r.profileId)) return `${who} names profile ${r.profileId}, which is not in the audience of record.`;
      if (holder !== undefined) return `${who} names profile ${r.profileId}, but that address belongs to profile ${holder}.`;
    } else if (address !== email) {
      return `${who} is not the address of profile ${r.profileId} in the audience of record.`;
    }
  }
  return null;
}

/**
 * Returns why an exclusion (the `n`-th) cannot be the preparation's, or null: its profile must
 * be one of record at the address it names, valid or not (or a profile deleted since whose
 * address nobody else holds), and neither a recipient nor excluded twice. Adds it to `profiles`.
 */
function checkExcluded(e: Exclusion, n: number, profiles: Set<number>, audience: AudienceOfRecord): string | null {
  const who = `excluded profile ${n} (${JSON.stringify(e.email.slice(0, 100))})`;
  if (profiles.has(e.profileId)) return `profile ${e.profileId} appears twice.`;
  profiles.add(e.profileId);
  const address = audience.addressOf(e.profileId);
  if (address === undefined) {
    if (!audience.wasDeleted(e.profileId)) return `${who} names profile ${e.profileId}, which is not in the audience of record.`;
    const holder = audience.profileAt(e.email);
    if (holder !== undefined) return `${who} names profile ${e.profileId}, but that address belongs to profile ${holder}.`;
  } else if (address !== e.email) {
    return `${who} is not the address of profile ${e.profileId} in the audience of record.`;
  }
  return null;
}

/** Returns why `count` exclusions, so many per cause, are not the preparation's figures, or null when they are. */
function checkExclusionTotals(delivery: ServerDelivery, count: number, byCause: Map<string, number>): string | null {
  if (count !== delivery.excluded) return `it holds ${count} exclusions but the preparation counted ${delivery.excluded} excluded.`;
  for (const cause of new Set([...byCause.keys(), ...Object.keys(delivery.excludedByCause)])) {
    const counted = delivery.excludedByCause[cause] ?? 0;
    if ((byCause.get(cause) ?? 0) !== counted) {
      return `it holds ${byCause.get(cause) ?? 0} exclusions for the cause "${cause}" but the preparation counted ${counted}.`;
    }
  }
  return null;
}

function transitionRefusal(delivery: ServerDelivery, to: DeliveryStatus): string {
  if (delivery.status === 'stopped') return `"${delivery.name}" was stopped; a stopped delivery cannot be resumed or sent again.`;
  if (delivery.status === 'completed') return `"${delivery.name}" has already been sent to everyone.`;
  if (to === 'prepared') return `"${delivery.name}" is ${delivery.status}, not scheduled: only a scheduled delivery can be unscheduled.`;
  return `"${delivery.name}" is ${delivery.status} and cannot be moved to ${to}.`;
}
