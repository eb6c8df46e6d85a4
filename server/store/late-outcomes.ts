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

export interface LateOutcomeStore {
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
