/**
 * The audience of record: profiles with typed custom attributes, their subscription state,
 * the suppression of record (denylist, quarantine), recent sends, and the change log every
 * replica pulls from. Every write that a replica must see takes a number from the change log:
 * upserts and suppression changes stamp the profile, deletions leave a tombstone.
 */

import { createHash } from 'node:crypto';
import { normalizeEmail } from '../../shared/email-address';
import type { AttributeDefinition, ContactHistoryEntry, Profile, ProfileInput, SubscriptionStatus } from '../../shared/types';

export type { ProfileInput };

export interface ChangePage {
  /** Profiles created or changed (subscription, suppression, attributes), in change order. */
  profiles: Profile[];
  /** Ids of profiles deleted since the cursor. */
  deleted: number[];
  /** The change number to ask from next time. */
  cursor: number;
  hasMore: boolean;
  /** Profiles in the audience of record, for progress. */
  total: number;
}

export interface StoredImport {
  id: string;
  fileName: string;
  startedAt: string;
  finishedAt: string;
  rows: number;
  inserted: number;
  updated: number;
  rejected: number;
  report: string;
}

export interface RecentSend {
  deliveryId: string;
  /** The delivery's name, or null when the server no longer has the delivery. */
  deliveryName: string | null;
  at: string;
}

/** What a seed (the demo audience) wrote, to tell its profiles and suppression from the operator's. */
export interface SeedMarks {
  /** The `imported_by` of the profiles it wrote (profiles written before marks existed have none). */
  marker: string;
  /** Who its denylist entries were added by. */
  denylistedBy: string;
  /** The SMTP reply of its quarantine entries (they name no delivery). */
  quarantineReply: string;
}

export interface SeedRemoval {
  /** Profiles deleted: at the seed's addresses, not written by an import since. */
  deleted: number;
  /** Profiles at the seed's addresses that an import wrote since: the operator's now, kept. */
  kept: number;
  /** Attributes removed from the schema (no remaining profile had a value for them). */
  removedAttributes: string[];
  /** Attributes kept because remaining profiles have values for them. */
  keptAttributes: string[];
}

/** Why an address is quarantined: a hard bounce, a complaint, soft bounces counted past the limit, or a full mailbox. */
export type QuarantineReason = 'hard-bounce' | 'complaint' | 'soft-bounces' | 'mailbox-full';

export interface Suppression {
  denylist: { reason: string; addedAt: string; addedBy: string } | null;
  quarantine: { reason: string; smtpReply: string | null; deliveryId: string | null; at: string } | null;
}

/** What an upsert did. */
export interface UpsertCounts {
  inserted: number;
  updated: number;
  /** Rows whose address this same import had already written (the later row won). */
  repeated: number;
  /** Rows that said subscribed for someone who had unsubscribed themselves: they stay unsubscribed. */
  keptUnsubscribed: number;
  /** Rows at the address of a profile erased at its owner's request: not written (erasedAddressHash). */
  erased: number;
}

/**
 * What is kept of an erased profile's address, so that no import brings it back by mistake: a
 * SHA-256 of the normalized address (not the address; an address can still be checked against it).
 */
export function erasedAddressHash(email: string): string {
  return createHash('sha256')
    .update(`mailroom erased\u0000${normalizeEmail(email)}`)
    .digest('hex');
}

/** True for a status the recipient chose (an unsubscribe link, a one-click unsubscribe): no import can undo it. */
export const isRecipientsOwnChoice = (source: string | null) => source?.startsWith(RECIPIENT_SOURCE) ?? false;
/** How the unsubscribe page names the source of the status it sets. */
export const RECIPIENT_SOURCE = 'unsubscribe link';

export interface AudienceStore {
  count(): Promise<number>;
  schema(): Promise<AttributeDefinition[]>;
  /** Adds a custom attribute to the schema, or changes its label; its type cannot change. */
  declareAttribute(definition: AttributeDefinition): Promise<void>;
  /** Returns the changes after `cursor`, in change order, at most `limit` of them. */
  changesSince(cursor: number, limit: number): Promise<ChangePage>;
  /**
   * Inserts new addresses and updates known ones (the given fields only); one transaction.
   * With `importId`, also counts the rows whose address this same import already wrote.
   */
  upsertMany(profiles: readonly ProfileInput[], source: string, now: Date, importId?: string): Promise<UpsertCounts>;
  get(profileId: number): Promise<Profile | undefined>;
  findByEmail(email: string): Promise<Profile | undefined>;
  /** Returns true when the profile existed and is now deleted. */
  delete(profileId: number): Promise<boolean>;
  /**
   * Returns how many profiles match the search (every word of it in the address, the first or
   * the last name, ignoring case and, in names, accents: the replica's search in the app
   * follows the same rule) and the first `limit` of them in id order.
   */
  search(query: string, limit: number): Promise<{ total: number; profiles: Profile[] }>;
  /**
   * Deletes every profile matching the search, in one transaction, when they are `expected`
   * many (what the operator confirmed); otherwise deletes nothing and says how many match now.
   */
  deleteMatching(query: string, expected: number): Promise<{ ok: true; deleted: number } | { ok: false; matching: number }>;
  /** Returns how many profiles at these addresses a seed wrote and no import has written since. */
  countSeeded(emails: readonly string[], marks: SeedMarks): Promise<number>;
  /**
   * Deletes, in one transaction, the profiles at these addresses that no import has written
   * since the seed (with the seed's denylist and quarantine entries for them), then removes
   * from the schema each of `attributes` that no remaining profile has a value for.
   */
  removeSeeded(emails: readonly string[], marks: SeedMarks, attributes: readonly string[]): Promise<SeedRemoval>;
  /** Returns true when the profile was subscribed and is now unsubscribed. */
  unsubscribe(profileId: number, source: string, now: Date): Promise<boolean>;
  /** Subscribes the profile again by its owner's own confirmed choice (a double opt-in): true when it was unsubscribed. */
  optIn(profileId: number, source: string, now: Date): Promise<boolean>;
  denylist(email: string, reason: string, by: string, now: Date): Promise<void>;
  undeny(email: string): Promise<boolean>;
  /** Quarantines the address (its profile changes, so every replica hears of it); `liftAt`: when it ends by itself. */
  quarantine(
    email: string,
    reason: QuarantineReason,
    smtpReply: string | null,
    deliveryId: string | null,
    now: Date,
    liftAt?: Date | null,
  ): Promise<void>;
  /** Ends the quarantines whose time has come (a full mailbox after a while); resolves how many. */
  liftQuarantines(now: Date): Promise<number>;
  suppression(email: string): Promise<Suppression>;
  recentSends(profileId: number, limit: number): Promise<RecentSend[]>;
  /**
   * Returns, per delivery, the profiles it sent to since `since` and those it is still to
   * send to (scheduled, sending or paused): what pressure and capacity rules count.
   */
  contactHistory(since: Date): Promise<ContactHistoryEntry[]>;
  /** Returns up to `limit` profiles with ids above `afterId`, in id order (keyset paging). */
  pageById(afterId: number, limit: number): Promise<Profile[]>;
  /** Keeps the outcome of an import, with its report of rejected rows. */
  saveImport(summary: StoredImport): Promise<void>;
  importReport(id: string): Promise<{ fileName: string; report: string } | undefined>;
}

export interface ProfileRow {
  id: number;
  email: string;
  first_name: string;
  last_name: string;
  locale: string;
  time_zone: string;
  status: SubscriptionStatus;
  status_changed_at: string | null;
  status_source: string | null;
  attributes: string;
  denylisted: number;
  quarantined: number;
  pending_since?: string | null;
  created_at: string;
  updated_at: string;
  change_seq: number;
}

export const toProfile = (r: ProfileRow): Profile => ({
  id: r.id,
  email: r.email,
  firstName: r.first_name,
  lastName: r.last_name,
  locale: r.locale,
  timeZone: r.time_zone,
  status: r.status,
  statusChangedAt: r.status_changed_at,
  statusSource: r.status_source,
  denylisted: Number(r.denylisted) === 1,
  quarantined: Number(r.quarantined) === 1,
  ...(r.pending_since ? { pending: true } : {}),
  attributes: JSON.parse(r.attributes),
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

// A profile with its suppression flags, as replicas receive it.
export const SELECT_PROFILE = `SELECT p.*,
    EXISTS (SELECT 1 FROM denylist d WHERE d.email = p.email) AS denylisted,
    EXISTS (SELECT 1 FROM quarantine q WHERE q.email = p.email) AS quarantined
  FROM profiles p`;

/** Returns the words of a search, folded (see foldForSearch); empty words are dropped. */
export function searchWords(query: string): string[] {
  return foldForSearch(query).split(/\s+/).filter(Boolean);
}

/**
 * Returns text as searches compare it: lower case, accents removed (Zoë → zoe). The same
 * rule as the replica's search in the app (app/lib/db/replica.ts, searchProfiles), so a
 * search deletes on the server what it finds in the browser.
 */
export function foldForSearch(text: string): string {
  // eslint-disable-next-line no-control-regex
  return /^[\u0000-\u007f]*$/.test(text) ? text.toLowerCase() : text.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * Returns what a search reads of a profile: its address (stored lower-cased) and its names
 * folded (foldForSearch), a line each, so that no word of a search spans two of them.
 */
export function profileSearchText(email: string, firstName: string, lastName: string): string {
  return `${email}\n${foldForSearch(firstName)}\n${foldForSearch(lastName)}`;
}

/**
 * Returns a page of the change log from the profiles changed and the tombstones after the
 * cursor (each read `limit + 1` long): both merged in change order and cut at `limit`, so the
 * next cursor covers exactly what the page holds.
 */
export function changePage(
  changed: readonly ProfileRow[],
  gone: readonly { id: number; seq: number }[],
  cursor: number,
  limit: number,
  total: number,
): ChangePage {
  const merged = [
    ...changed.map((profile) => ({ seq: Number(profile.change_seq), profile })),
    ...gone.map((t) => ({ seq: Number(t.seq), deleted: Number(t.id) })),
  ].sort((a, b) => a.seq - b.seq);
  const page = merged.slice(0, limit);
  return {
    profiles: page.flatMap((c) => ('profile' in c ? [toProfile(c.profile)] : [])),
    deleted: page.flatMap((c) => ('deleted' in c ? [c.deleted] : [])),
    cursor: page.length ? page[page.length - 1].seq : cursor,
    hasMore: merged.length > limit,
    total,
  };
}
