/**
 * Deliveries on the server: the hand-off of a prepared batch in idempotent chunks, the
 * status a delivery is in, and its live figures. Each part of a batch becomes rows at once —
 * journal rows (its recipients) and exclusion rows (its excluded profiles, with their rules),
 * both staged — and the commit makes them the delivery's in one statement each, once the batch
 * is complete and consistent. No batch is ever held whole in memory or written in one go.
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

import { contentVariants, VARIANT_NAMES, variantCount, type Experiment, type Translation } from '../../shared/experiment';
import type { Waves } from '../../shared/send-time';
import type { BatchHeaderBody } from '../../shared/handoff';
import { isValidEmail, normalizeEmail } from '../../shared/email-address';
import type { DeliveryStatus, Exclusion, PreparedRecipient, SendKpis } from '../../shared/types';

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
  /** With an A/B test: the variant the rest of the audience gets once chosen (0 for A), why, and when; null before. */
  winner: number | null;
  winnerReason: string | null;
  winnerAt: string | null;
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
  get(id: string): Promise<ServerDelivery | undefined>;
  /** Returns the status alone (no content), for checks on the send path. */
  status(id: string): Promise<DeliveryStatus | undefined>;
  list(): Promise<ServerDelivery[]>;
  /** Opens (or reopens) the hand-off of a batch; chunks of another content hash are dropped. */
  beginBatch(header: BatchHeader, now: Date): Promise<Outcome>;
  /**
   * Stores one part of the batch as staged rows; storing the same part again changes nothing.
   * A part that cannot be the preparation's (see checkPart and checkAgainstRecord) refuses the
   * whole batch and nothing of it is kept. Resolves once it is on disk.
   */
  putChunk(id: string, contentHash: string, seq: number, part: BatchPart): Promise<Outcome<{ received: number }>>;
  /** Makes a complete, consistent batch the delivery's (its rows queued), or refuses it and keeps nothing of it. */
  commitBatch(id: string, contentHash: string, now: Date): Promise<Outcome<{ recipients: number }>>;
  /** Moves a delivery to a new status when the transition table allows it. */
  transition(
    id: string,
    to: DeliveryStatus,
    now: Date,
    fields?: { scheduledAt?: string | null; reason?: string | null },
  ): Promise<Outcome<{ delivery: ServerDelivery }>>;
  /** The live figures; the tracking events waiting are written first. */
  kpis(id: string, now: Date): Promise<SendKpis | undefined>;
}

export interface DeliveryRow {
  id: string;
  version: number;
  content_hash: string;
  name: string;
  from_name: string;
  from_address: string;
  subject: string;
  preheader: string;
  html: string;
  text_part: string;
  relay_id: string | null;
  experiment: string | null;
  seeds: string | null;
  waves: string | null;
  send_window_ms: number | null;
  translations?: string | null;
  winner: number | null;
  winner_reason: string | null;
  winner_at: string | null;
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

export const toDelivery = (r: DeliveryRow): ServerDelivery => ({
  id: r.id,
  version: r.version,
  contentHash: r.content_hash,
  name: r.name,
  fromName: r.from_name,
  fromAddress: r.from_address,
  subject: r.subject,
  preheader: r.preheader,
  html: r.html,
  text: r.text_part,
  relayId: r.relay_id,
  ...(r.experiment ? { experiment: JSON.parse(r.experiment) as Experiment } : {}),
  ...(r.translations ? { translations: JSON.parse(r.translations) as Translation[] } : {}),
  ...(r.seeds ? { seeds: JSON.parse(r.seeds) as string[] } : {}),
  ...(r.waves ? { waves: JSON.parse(r.waves) as Waves } : {}),
  ...(r.send_window_ms ? { sendWindowMs: Number(r.send_window_ms) } : {}),
  winner: r.winner === null || r.winner === undefined ? null : Number(r.winner),
  winnerReason: r.winner_reason ?? null,
  winnerAt: r.winner_at ?? null,
  status: r.status,
  statusReason: r.status_reason,
  scheduledAt: r.scheduled_at,
  targeted: r.targeted,
  toDeliver: r.to_deliver,
  excluded: r.excluded,
  excludedByCause: JSON.parse(r.excluded_by_cause),
  chunkCount: r.chunk_count,
  ...(r.exclusion_chunk_count === null ? {} : { exclusionChunkCount: r.exclusion_chunk_count }),
  committed: Number(r.committed) === 1,
  committedAt: r.committed_at,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  startedAt: r.started_at,
  finishedAt: r.finished_at,
});

export const refuse = (status: Refusal['status'], code: string, message: string): Refusal => ({ ok: false, status, code, message });
export const notFound = (id: string) =>
  refuse(404, 'delivery-not-found', `There is no delivery ${id} on the server. Send it again from the app.`);

/** Returns why a batch header's figures cannot be a preparation of this audience, or null when they can. */
export function checkHeader(header: BatchHeader, audienceEver: number): string | null {
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

/** What the hand-off knows of the profiles a part names, from the audience of record now. */
export interface RecordFacts {
  /** The address of each named profile of record (absent: no such profile now). */
  addressOf: ReadonlyMap<number, string>;
  /** The profiles among the named that were deleted (they left a tombstone). */
  deleted: ReadonlySet<number>;
  /** The profile of record at each named address, where there is one. */
  holderOf: ReadonlyMap<string, number>;
}

/** The part of a batch as the checks see it: who it names, recipients or excluded. */
export type PartRows = { kind: 'recipients'; rows: readonly PreparedRecipient[] } | { kind: 'exclusions'; rows: readonly Exclusion[] };

/**
 * Returns why a part cannot be the preparation's on its own, or null: a recipient number, a
 * profile or an address twice in it; a recipient's address not valid or not in normal form.
 * (Across parts, the commit checks the same with the database.)
 */
export function checkPart(part: PartRows): string | null {
  const profiles = new Set<number>();
  const seqs = new Set<number>();
  const addresses = new Set<string>();
  for (const row of part.rows) {
    if (profiles.has(row.profileId)) return `profile ${row.profileId} appears twice.`;
    profiles.add(row.profileId);
    if (part.kind === 'exclusions') continue;
    const r = row as PreparedRecipient;
    const email = normalizeEmail(r.email);
    if (seqs.has(r.seq)) return `recipient number ${r.seq} appears twice.`;
    if (addresses.has(email)) return `the address ${JSON.stringify(r.email.slice(0, 100))} appears twice.`;
    seqs.add(r.seq);
    addresses.add(email);
    if (email !== r.email || !isValidEmail(email))
      return `recipient ${r.seq} (${JSON.stringify(r.email.slice(0, 100))}) is not a valid address.`;
  }
  return null;
}

/** Returns why a part's recipients name variants the delivery's A/B test lacks (or it has none), or null. */
export function checkVariants(delivery: ServerDelivery, part: PartRows): string | null {
  if (part.kind !== 'recipients') return null;
  const variants = contentVariants(delivery);
  const count = variantCount(variants);
  for (const r of part.rows as PreparedRecipient[]) {
    if (r.variant === undefined || (variants && r.variant < count)) continue;
    if (delivery.translations?.length) {
      return `recipient ${r.seq} has translation ${r.variant}, but the delivery has ${delivery.translations.length}.`;
    }
    const has = delivery.experiment ? `the A/B test has variants A to ${VARIANT_NAMES[count - 1]}` : 'the delivery has no A/B test';
    return `recipient ${r.seq} has variant ${VARIANT_NAMES[r.variant] ?? r.variant}, but ${has}.`;
  }
  return null;
}

/**
 * Returns why a part's rows are not profiles of record at the addresses they name, or null.
 * A profile deleted since preparation passes (late suppression skips it), unless its address
 * now belongs to another profile. `firstExcluded` numbers the excluded in the sentence.
 */
export function checkAgainstRecord(part: PartRows, facts: RecordFacts, firstExcluded = 1): string | null {
  let n = firstExcluded;
  for (const row of part.rows) {
    const who =
      part.kind === 'recipients'
        ? `recipient ${(row as PreparedRecipient).seq} (${JSON.stringify(row.email.slice(0, 100))})`
        : `excluded profile ${n++} (${JSON.stringify(row.email.slice(0, 100))})`;
    const email = part.kind === 'recipients' ? normalizeEmail(row.email) : row.email;
    const address = facts.addressOf.get(row.profileId);
    if (address === undefined) {
      if (!facts.deleted.has(row.profileId)) return `${who} names profile ${row.profileId}, which is not in the audience of record.`;
      const holder = facts.holderOf.get(email);
      if (holder !== undefined) return `${who} names profile ${row.profileId}, but that address belongs to profile ${holder}.`;
    } else if (address !== email) {
      return `${who} is not the address of profile ${row.profileId} in the audience of record.`;
    }
  }
  return null;
}

/** Returns why `count` exclusions, so many per cause, are not the preparation's figures, or null when they are. */
export function checkExclusionTotals(delivery: ServerDelivery, count: number, byCause: ReadonlyMap<string, number>): string | null {
  if (count !== delivery.excluded) return `it holds ${count} exclusions but the preparation counted ${delivery.excluded} excluded.`;
  for (const cause of new Set([...byCause.keys(), ...Object.keys(delivery.excludedByCause)])) {
    const counted = delivery.excludedByCause[cause] ?? 0;
    if ((byCause.get(cause) ?? 0) !== counted) {
      return `it holds ${byCause.get(cause) ?? 0} exclusions for the cause "${cause}" but the preparation counted ${counted}.`;
    }
  }
  return null;
}

/**
 * The number a staged exclusion is kept under until the commit numbers it after the
 * recipients: below zero, in the order of the parts and within them (migrations.ts makes the
 * same numbers of parts staged before it).
 */
export const stagedExclusionSeq = (part: number, index: number) => -(part * 100_000 + index + 1);

/** Exclusions in one part at most (the route allows 2,000): stagedExclusionSeq keeps them apart. */
export const MAX_PART_ROWS = 100_000;

export function transitionRefusal(delivery: ServerDelivery, to: DeliveryStatus): string {
  if (delivery.status === 'stopped') return `"${delivery.name}" was stopped; a stopped delivery cannot be resumed or sent again.`;
  if (delivery.status === 'completed') return `"${delivery.name}" has already been sent to everyone.`;
  if (to === 'prepared') return `"${delivery.name}" is ${delivery.status}, not scheduled: only a scheduled delivery can be unscheduled.`;
  return `"${delivery.name}" is ${delivery.status} and cannot be moved to ${to}.`;
}

/** The refusal of a batch that failed a check: nothing of it is kept. */
export const mismatch = (problem: string) =>
  refuse(422, 'batch-mismatch', `The batch was refused and nothing of it was kept: ${problem} Prepare the delivery again.`);

/** The figures of a delivery read from its tracking events. */
export type TrackingFigures = Pick<
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

/** Returns the live figures of a delivery from its journal's counts by status and its tracking figures. */
export function kpisOf(
  delivery: ServerDelivery,
  counts: Record<string, number>,
  events: TrackingFigures,
  sendRate: number,
  now: Date,
): SendKpis {
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
    // With an A/B test, the rest of the audience waits (held) for the winner: still to send.
    remaining: n('queued') + n('retrying') + n('sending') + n('held'),
    ...events,
    sendRate,
    updatedAt: now.toISOString(),
  };
}
