/** Tracked links and the opens, clicks and unsubscribes recorded against journal rows. */

import type { Db } from './database';

export type TrackingKind = 'open' | 'click' | 'unsubscribe';

export interface TrackingStore {
  /** Returns the id of the link for this delivery, adding it on first use. */
  linkId(deliveryId: string, url: string): number;
  /** Returns the URL of a link of this delivery, or undefined when there is none. */
  linkUrl(deliveryId: string, linkId: number): string | undefined;
  /** Returns the journal row's delivery and profile (and when it was delivered), or undefined when it does not exist. */
  recipient(journalId: number): { deliveryId: string; profileId: number; email: string; sentAt: string | null } | undefined;
  record(event: TrackingEvent, now: Date): void;
  /** Returns true when the recipient's open is already recorded (by people or machines). */
  opened(journalId: number): boolean;
  /** Returns how many other links of the message the recipient clicked since `since`. */
  otherLinksClicked(journalId: number, linkId: number, since: Date): number;
  /** Marks the recipient's clicks since `since` as a machine's (a scanner found out late). */
  markClicksMachine(journalId: number, since: Date): void;
}

export interface TrackingEvent {
  deliveryId: string;
  journalId: number;
  kind: TrackingKind;
  linkId?: number;
  userAgent?: string;
  ip?: string;
  /** True for a privacy proxy's open or a link scanner's click. */
  machine?: boolean;
}

export function sqliteTrackingStore(db: Db): TrackingStore {
  const findLink = db.prepare('SELECT id FROM links WHERE delivery_id = ? AND url = ?').pluck();
  const addLink = db.prepare('INSERT INTO links (delivery_id, url) VALUES (?, ?) RETURNING id').pluck();
  const linkUrl = db.prepare('SELECT url FROM links WHERE delivery_id = ? AND id = ?').pluck();
  const recipient = db.prepare(
    `SELECT delivery_id AS deliveryId, profile_id AS profileId, email, CASE WHEN status = 'sent' THEN updated_at END AS sentAt
     FROM journal WHERE id = ?`,
  );
  const insert = db.prepare(
    'INSERT INTO tracking_events (delivery_id, journal_id, kind, link_id, at, user_agent, ip, machine) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
  );
  const opened = db.prepare("SELECT 1 FROM tracking_events WHERE journal_id = ? AND kind = 'open' AND machine = 0 LIMIT 1").pluck();
  const otherLinks = db
    .prepare("SELECT COUNT(DISTINCT link_id) FROM tracking_events WHERE journal_id = ? AND kind = 'click' AND link_id <> ? AND at >= ?")
    .pluck();
  const markMachine = db.prepare(
    "UPDATE tracking_events SET machine = 1 WHERE journal_id = ? AND kind IN ('click', 'open') AND at >= ? AND machine = 0",
  );
  // Links repeat in every message of a delivery: remember their ids instead of asking SQLite each time.
  const cache = new Map<string, number>();
  return {
    linkId(deliveryId, url) {
      const key = `${deliveryId}\n${url}`;
      let id = cache.get(key);
      if (id === undefined) {
        id = (findLink.get(deliveryId, url) as number | undefined) ?? (addLink.get(deliveryId, url) as number);
        cache.set(key, id);
      }
      return id;
    },
    linkUrl: (deliveryId, linkId) => linkUrl.get(deliveryId, linkId) as string | undefined,
    recipient: (journalId) => recipient.get(journalId) as ReturnType<TrackingStore['recipient']>,
    record(event, now) {
      insert.run(
        event.deliveryId,
        event.journalId,
        event.kind,
        event.linkId ?? null,
        now.toISOString(),
        event.userAgent?.slice(0, 300) ?? null,
        event.ip?.slice(0, 64) ?? null,
        event.machine ? 1 : 0,
      );
    },
    opened: (journalId) => opened.get(journalId) !== undefined,
    otherLinksClicked: (journalId, linkId, since) => otherLinks.get(journalId, linkId, since.toISOString()) as number,
    markClicksMachine: (journalId, since) => void markMachine.run(journalId, since.toISOString()),
  };
}
