/** Tracking in PostgreSQL (see ../tracking.ts for what it holds and promises). */

import {
  ENGAGEMENT_SQL,
  engagementOf,
  PendingEvents,
  type EngagementRows,
  type PendingEvent,
  type TrackedRecipient,
  type TrackingStore,
} from '../tracking';
import { numbered, type Pg } from './database';

export function postgresTrackingStore(sql: Pg): TrackingStore {
  // Links repeat in every message of a delivery: remember their ids instead of asking each time.
  const cache = new Map<string, number>();
  const pending = new PendingEvents(async (events: PendingEvent[]) => {
    // One statement for the batch: the events as arrays, unnested.
    await sql`INSERT INTO tracking_events (delivery_id, journal_id, kind, link_id, at, user_agent, ip, machine)
      SELECT * FROM unnest(
        ${events.map((e) => e.deliveryId)}::text[], ${events.map((e) => e.journalId)}::bigint[], ${events.map((e) => e.kind)}::text[],
        ${events.map((e) => e.linkId ?? null) as number[]}::bigint[], ${events.map((e) => e.at)}::text[],
        ${events.map((e) => e.userAgent?.slice(0, 300) ?? null) as string[]}::text[], ${events.map((e) => e.ip?.slice(0, 64) ?? null) as string[]}::text[],
        ${events.map((e) => (e.machine ? 1 : 0))}::int[])`;
  });
  return {
    async linkId(deliveryId, url) {
      const key = `${deliveryId}\n${url}`;
      let id = cache.get(key);
      if (id === undefined) {
        // A no-op update rather than DO NOTHING: it waits for a concurrent insert of the same link
        // (another node, another message) and returns that row's id, where DO NOTHING returns none.
        const [row] = await sql<{ id: number }[]>`INSERT INTO links (delivery_id, url) VALUES (${deliveryId}, ${url})
          ON CONFLICT (delivery_id, url) DO UPDATE SET url = EXCLUDED.url RETURNING id`;
        id = Number(row.id);
        cache.set(key, id);
      }
      return id;
    },
    async linkUrl(deliveryId, linkId) {
      const [row] = await sql<{ url: string }[]>`SELECT url FROM links WHERE delivery_id = ${deliveryId} AND id = ${linkId}`;
      return row?.url;
    },
    async recipient(journalId) {
      const [row] = await sql<TrackedRecipient[]>`SELECT delivery_id AS "deliveryId", profile_id AS "profileId", email,
          CASE WHEN status = 'sent' THEN updated_at END AS "sentAt" FROM journal WHERE id = ${journalId}`;
      return row;
    },
    async record(event, now) {
      pending.add(event, now);
    },
    async recordClick(click, now, isMachine) {
      const from = new Date(now.getTime() - 1000).toISOString();
      let late = false;
      const machine = await sql.begin(async (tx) => {
        // One recipient's clicks, one at a time, whichever node each reaches: their reads see each other.
        await tx`SELECT id FROM journal WHERE id = ${click.journalId} FOR UPDATE`;
        const others = await tx<{ link_id: number }[]>`SELECT DISTINCT link_id FROM tracking_events
          WHERE journal_id = ${click.journalId} AND kind = 'click' AND link_id <> ${click.linkId} AND at >= ${from}`;
        const links = new Set([...others.map((r) => r.link_id), ...pending.otherLinks(click.journalId, click.linkId, from)]);
        const machine = isMachine({ otherLinksWithinASecond: links.size });
        if (machine) {
          await tx`UPDATE tracking_events SET machine = 1
            WHERE journal_id = ${click.journalId} AND kind IN ('click', 'open') AND at >= ${from} AND machine = 0`;
          late = pending.markMachine(click.journalId, from);
        }
        const event = { ...click, machine };
        if (!machine && !pending.opened(click.journalId)) {
          const [opened] =
            await tx`SELECT 1 FROM tracking_events WHERE journal_id = ${click.journalId} AND kind = 'open' AND machine = 0 LIMIT 1`;
          if (!opened) pending.add({ ...event, kind: 'open', linkId: undefined }, now);
        }
        pending.add({ ...event, kind: 'click' }, now);
        return machine;
      });
      if (late) {
        // Some of that second's events were on their way to the database as a person's: mark them once there.
        await pending.settled();
        await sql`UPDATE tracking_events SET machine = 1
          WHERE journal_id = ${click.journalId} AND kind IN ('click', 'open') AND at >= ${from} AND machine = 0`;
      }
      return machine as boolean;
    },
    flush: () => pending.flush(),
    async engagement(since) {
      await pending.flush();
      const from = since.toISOString();
      // One snapshot (REPEATABLE READ): an open written between two reads would be in one and not the other.
      const rows = await sql.begin('isolation level repeatable read', async (tx) => ({
        deliveries: await tx.unsafe(numbered(ENGAGEMENT_SQL.deliveries), [from]),
        standings: await tx.unsafe(numbered(ENGAGEMENT_SQL.standings), [from, from]),
        last: await tx.unsafe(ENGAGEMENT_SQL.last),
      }));
      return engagementOf(rows as unknown as EngagementRows);
    },
  };
}
