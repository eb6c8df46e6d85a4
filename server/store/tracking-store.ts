/** Tracked links and the opens, clicks and unsubscribes recorded against journal rows. */

import type { Db } from './database';

export type TrackingKind = 'open' | 'click' | 'unsubscribe';

export interface TrackingStore {
  /** Returns the id of the link for this delivery, adding it on first use. */
  linkId(deliveryId: string, url: string): number;
  /** Returns the URL of a link of this delivery, or undefined when there is none. */
  linkUrl(deliveryId: string, linkId: number): string | undefined;
  /** Returns the journal row's delivery and profile, or undefined when it does not exist. */
  recipient(journalId: number): { deliveryId: string; profileId: number; email: string } | undefined;
  record(event: { deliveryId: string; journalId: number; kind: TrackingKind; linkId?: number; userAgent?: string }, now: Date): void;
}

export function sqliteTrackingStore(db: Db): TrackingStore {
  const findLink = db.prepare('SELECT id FROM links WHERE delivery_id = ? AND url = ?').pluck();
  const addLink = db.prepare('INSERT INTO links (delivery_id, url) VALUES (?, ?) RETURNING id').pluck();
  const linkUrl = db.prepare('SELECT url FROM links WHERE delivery_id = ? AND id = ?').pluck();
  const recipient = db.prepare('SELECT delivery_id AS deliveryId, profile_id AS profileId, email FROM journal WHERE id = ?');
  const insert = db.prepare(
    'INSERT INTO tracking_events (delivery_id, journal_id, kind, link_id, at, user_agent) VALUES (?, ?, ?, ?, ?, ?)',
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
      );
    },
  };
}
