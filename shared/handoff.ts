/**
 * The hand-off of a prepared batch from the browser to the server: what its header says. The
 * batch goes up in parts of at most a chunk each (PUT …/batch/chunks/:seq): its recipients,
 * then its exclusions, so that the server keeps who was excluded by which rule, not only how
 * many; the commit checks both against the header's figures.
 */

import type { Experiment, Translation } from './experiment';
import type { Waves } from './send-time';
import type { DeliveryContent, PreparationKpis } from './types';

/**
 * What a delivery id may hold: letters, digits, `-` and `_`, at most 64 (the app makes
 * UUIDs). An id goes into the Message-ID header, tracking tokens (which `.` separates) and
 * file names, so anything else is refused where it enters.
 */
export const DELIVERY_ID = /^[A-Za-z0-9_-]{1,64}$/;

export interface BatchHeaderBody {
  version: number;
  contentHash: string;
  name: string;
  fromName: string;
  fromAddress: string;
  subject: string;
  /** '' for none of its own (and absent from an app older than the field). */
  preheader?: string;
  html: string;
  /** The written text part; '' (or absent) to derive it from the HTML. */
  text?: string;
  /** The relay chosen for the delivery; null or absent routes by the From domain. */
  relayId?: string | null;
  /** The A/B test, when there is one: its recipients carry their variants, the rest none (they wait for the winner). */
  experiment?: Experiment | null;
  /** Content by language: its recipients carry their translation's variant (1 for the first), the others none. */
  translations?: Translation[] | null;
  /** Seed addresses: each gets a copy of every variant when sending starts, in no figure. */
  seeds?: string[];
  /** Waves from the start of sending: the server sets each row's due time when sending starts. */
  waves?: Waves | null;
  /** With a local send time's window: how long after its due time a message may still go (ms). */
  sendWindowMs?: number | null;
  targeted: number;
  toDeliver: number;
  excluded: number;
  excludedByCause: Record<string, number>;
  /** Parts of recipients: numbers 1 to chunkCount. */
  chunkCount: number;
  /**
   * Parts of exclusions (every excluded profile, with the rule that excluded it), numbered on
   * after the recipients' (chunkCount + 1 to chunkCount + exclusionChunkCount). Absent in a
   * header from an app older than kept exclusions: its batch is taken without them.
   */
  exclusionChunkCount?: number;
}

/**
 * Returns the body of `PUT /api/deliveries/:id/batch` for a prepared delivery, uploaded as
 * `chunkCount` parts of recipients and then `exclusionChunkCount` parts of exclusions.
 */
export function batchHeader(
  delivery: Pick<
    DeliveryContent,
    | 'name'
    | 'fromName'
    | 'fromAddress'
    | 'subject'
    | 'preheader'
    | 'html'
    | 'text'
    | 'relayId'
    | 'experiment'
    | 'waves'
    | 'localTime'
    | 'translations'
  > & {
    version: number;
  },
  kpis: PreparationKpis,
  contentHash: string,
  chunkCount: number,
  exclusionChunkCount?: number,
  seeds: readonly string[] = [],
): BatchHeaderBody {
  return {
    version: delivery.version,
    contentHash,
    name: delivery.name,
    fromName: delivery.fromName,
    fromAddress: delivery.fromAddress,
    subject: delivery.subject,
    preheader: delivery.preheader ?? '',
    html: delivery.html,
    text: delivery.text ?? '',
    ...(delivery.relayId ? { relayId: delivery.relayId } : {}),
    ...(delivery.experiment ? { experiment: delivery.experiment } : {}),
    ...(delivery.translations?.length ? { translations: delivery.translations } : {}),
    ...(seeds.length ? { seeds: [...seeds] } : {}),
    ...(delivery.waves ? { waves: delivery.waves } : {}),
    ...(delivery.localTime?.windowHours ? { sendWindowMs: Math.round(delivery.localTime.windowHours * 3_600_000) } : {}),
    targeted: kpis.targeted,
    toDeliver: kpis.toDeliver,
    excluded: kpis.excluded,
    excludedByCause: kpis.excludedByCause as Record<string, number>,
    chunkCount,
    ...(exclusionChunkCount === undefined ? {} : { exclusionChunkCount }),
  };
}
