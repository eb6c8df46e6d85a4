/** Tracking in SQLite (see ../tracking.ts for what it holds and promises). */

import { asAsync, type Sync } from '../sync';
import {
  ENGAGEMENT_SQL,
  engagementOf,
  PendingEvents,
  type EngagementRows,
  type PendingEvent,
  type TrackedRecipient,
  type TrackingStore,
} from '../tracking';
import type { Db } from './database';

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
    .prepare("SELECT DISTINCT link_id FROM tracking_events WHERE journal_id = ? AND kind = 'click' AND link_id <> ? AND at >= ?")
    .pluck();
  const markMachine = db.prepare(
    "UPDATE tracking_events SET machine = 1 WHERE journal_id = ? AND kind IN ('click', 'open') AND at >= ? AND machine = 0",
  );
  // Links repeat in every message of a delivery: remember their ids instead of asking SQLite each time.
  const cache = new Map<string, number>();
  const writeAll = db.transaction((events: PendingEvent[]) => {
    for (const e of events) {
      insert.run(
        e.deliveryId,
        e.journalId,
        e.kind,
        e.linkId ?? null,
        e.at,
        e.userAgent?.slice(0, 300) ?? null,
        e.ip?.slice(0, 64) ?? null,
        e.machine ? 1 : 0,
      );
    }
  });
  const pending = new PendingEvents(async (events) => writeAll(events));
  // Prepared on first use: the deliveries and sends tables belong to other stores.
  const prepareEngagement = (): ((since: string) => EngagementRows) => {
    const deliveries = db.prepare(ENGAGEMENT_SQL.deliveries);
    const standings = db.prepare(ENGAGEMENT_SQL.standings);
    const last = db.prepare(ENGAGEMENT_SQL.last);
    // One snapshot: an open written between two reads would be in one and not the other.
    return db.transaction((since: string) => ({
      deliveries: deliveries.all(since),
      standings: standings.all(since, since),
      last: last.all(),
    })) as unknown as (since: string) => EngagementRows;
  };
  let readEngagement: ((since: string) => EngagementRows) | undefined;
  const store: Sync<Omit<TrackingStore, 'flush' | 'engagement'>> = {
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
    recipient: (journalId) => recipient.get(journalId) as TrackedRecipient | undefined,
    record: (event, now) => pending.add(event, now),
    // Synchronous from its reads to its writes: SQLite sees nothing else in between.
    recordClick(click, now, isMachine) {
      const from = new Date(now.getTime() - 1000).toISOString();
      const links = new Set([
        ...(otherLinks.all(click.journalId, click.linkId, from) as number[]),
        ...pending.otherLinks(click.journalId, click.linkId, from),
      ]);
      const machine = isMachine({ otherLinksWithinASecond: links.size });
      if (machine) {
        markMachine.run(click.journalId, from);
        pending.markMachine(click.journalId, from);
      }
      const event = { ...click, machine };
      if (!machine && !pending.opened(click.journalId) && opened.get(click.journalId) === undefined) {
        pending.add({ ...event, kind: 'open', linkId: undefined }, now);
      }
      pending.add({ ...event, kind: 'click' }, now);
      return machine;
    },
  };
  return {
    ...asAsync<Omit<TrackingStore, 'flush' | 'engagement'>>(store),
    flush: () => pending.flush(),
    async engagement(since) {
      await pending.flush();
      readEngagement ??= prepareEngagement();
      return engagementOf(readEngagement(since.toISOString()));
    },
  };
}
