/**
 * Tracked links and the opens, clicks and unsubscribes recorded against journal rows.
 *
 * Events are written in small batches (at most FLUSH_MS after they happen: under a burst of
 * opens, one commit for many requests). The store's own reads — and the reads of figures and
 * reports, which flush through `flushBefore` — see the events still waiting, so nobody has
 * to remember to write them first. A crash can lose at most those FLUSH_MS of events.
 */

import type { EngagementDelivery, EngagementSnapshot, LastEvents } from '../../shared/engagement';

export type TrackingKind = 'open' | 'click' | 'unsubscribe';

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

/** What a click's classification reads, in the same transaction as the click is written. */
export interface ClickFacts {
  /** Other links of the message this recipient clicked in the second before. */
  otherLinksWithinASecond: number;
}

export interface TrackedRecipient {
  deliveryId: string;
  profileId: number;
  email: string;
  /** When the message was delivered (null when it was not, or not yet). */
  sentAt: string | null;
}

export interface TrackingStore {
  /** Returns the id of the link for this delivery, adding it on first use. */
  linkId(deliveryId: string, url: string): Promise<number>;
  /** Returns the URL of a link of this delivery, or undefined when there is none. */
  linkUrl(deliveryId: string, linkId: number): Promise<string | undefined>;
  /** Returns the journal row's delivery and profile (and when it was delivered), or undefined when it does not exist. */
  recipient(journalId: number): Promise<TrackedRecipient | undefined>;
  /** Records an open or an unsubscribe (written within FLUSH_MS). */
  record(event: TrackingEvent, now: Date): Promise<void>;
  /**
   * Records a click as one consistent step: reads the facts of its recipient (other links
   * clicked within the second before), asks `isMachine` whether a machine clicked, then
   * writes — a machine's burst re-marks its earlier clicks and opens of that second as a
   * machine's too; a person's first click also records an open (the message was read, even
   * with images blocked). Resolves with what `isMachine` said.
   */
  recordClick(click: TrackingEvent & { linkId: number }, now: Date, isMachine: (facts: ClickFacts) => boolean): Promise<boolean>;
  /**
   * Returns the engagement the replica carries: for each delivery that started sending
   * since `since`, who received it and who of them opened and clicked (a person's events);
   * for every profile, its last open and last click.
   */
  engagement(since: Date): Promise<EngagementSnapshot>;
  /** Writes the events waiting; the figures' and reports' reads call it (flushBefore). */
  flush(): Promise<void>;
}

/** The longest an event waits before it is written. */
export const FLUSH_MS = 10;

export type PendingEvent = TrackingEvent & { at: string };

/**
 * The events waiting to be written, and the reads over them that the stores combine with
 * what is already in the database. Shared by both engines' tracking stores.
 */
export class PendingEvents {
  private events: PendingEvent[] = [];
  /** Batches handed to `write` and not yet written: still visible to the reads. */
  private readonly writing = new Set<PendingEvent[]>();
  /** The writes in order, one after the other; settles when the last has. */
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;

  /** @param write writes a batch of events in one transaction */
  constructor(private readonly write: (events: PendingEvent[]) => Promise<void>) {}

  add(event: TrackingEvent, now: Date): void {
    this.events.push({ ...event, at: now.toISOString() });
    this.timer ??= setTimeout(() => void this.flush().catch(() => undefined), FLUSH_MS);
  }

  /**
   * Writes what waits, after the writes already under way; resolves when all of it is in the
   * database (also when nothing waited but a write was under way). Events added meanwhile
   * wait for the next flush.
   */
  async flush(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.events.length === 0) return this.chain;
    const events = this.events;
    this.events = [];
    this.writing.add(events);
    const written = this.chain.then(() => this.write(events));
    this.chain = written.then(
      () => undefined,
      () => undefined,
    );
    try {
      await written;
    } catch (error) {
      // Not lost on a failed write: they wait for the next flush, in front of newer events.
      this.events = [...events, ...this.events];
      this.timer ??= setTimeout(() => void this.flush().catch(() => undefined), FLUSH_MS * 10);
      throw error;
    } finally {
      this.writing.delete(events);
    }
  }

  /** Resolves when the writes under way have ended. */
  settled(): Promise<void> {
    return this.chain;
  }

  private *visible(): Iterable<PendingEvent> {
    for (const batch of this.writing) yield* batch;
    yield* this.events;
  }

  /** True when a person's open of this recipient waits to be written. */
  opened(journalId: number): boolean {
    for (const e of this.visible()) if (e.journalId === journalId && e.kind === 'open' && !e.machine) return true;
    return false;
  }

  /** Links other than `linkId` this recipient clicked since `from` (ISO) among the waiting events. */
  otherLinks(journalId: number, linkId: number, from: string): number[] {
    const links: number[] = [];
    for (const e of this.visible())
      if (e.journalId === journalId && e.kind === 'click' && e.linkId !== linkId && e.at >= from) links.push(e.linkId!);
    return links;
  }

  /**
   * Marks the waiting clicks and opens of this recipient since `from` (ISO) as a machine's.
   * Returns true when some of them were already being written: the caller marks those in the
   * database once settled() has resolved.
   */
  markMachine(journalId: number, from: string): boolean {
    let late = false;
    for (const batch of this.writing)
      for (const e of batch)
        if (e.journalId === journalId && (e.kind === 'click' || e.kind === 'open') && e.at >= from && !e.machine) {
          e.machine = true;
          late = true;
        }
    for (const e of this.events)
      if (e.journalId === journalId && (e.kind === 'click' || e.kind === 'open') && e.at >= from) e.machine = true;
    return late;
  }
}

/** The engagement's reads, in SQL both engines run (`?` placeholders; PostgreSQL numbers them). */
export const ENGAGEMENT_SQL = {
  deliveries: `SELECT id AS "deliveryId", name, started_at AS "sentAt" FROM deliveries
    WHERE started_at IS NOT NULL AND started_at >= ? ORDER BY started_at, id`,
  /** Takes the window's start twice. */
  standings: `SELECT s.delivery_id AS "deliveryId", s.profile_id AS "profileId", 0 AS kind
      FROM sends s JOIN deliveries d ON d.id = s.delivery_id WHERE d.started_at >= ?
    UNION ALL
    SELECT DISTINCT t.delivery_id, j.profile_id, CASE t.kind WHEN 'open' THEN 1 ELSE 2 END FROM tracking_events t
      JOIN journal j ON j.id = t.journal_id JOIN deliveries d ON d.id = t.delivery_id
      WHERE d.started_at >= ? AND t.kind IN ('open', 'click') AND t.machine = 0`,
  last: `SELECT j.profile_id AS "profileId", t.kind, MAX(t.at) AS at FROM tracking_events t JOIN journal j ON j.id = t.journal_id
    WHERE t.kind IN ('open', 'click') AND t.machine = 0 GROUP BY j.profile_id, t.kind`,
};

/** The rows engagement reads, whichever engine: one per profile and delivery, and per profile its last events. */
export interface EngagementRows {
  deliveries: { deliveryId: string; name: string; sentAt: string }[];
  /** kind 0 received, 1 opened, 2 clicked. */
  standings: { deliveryId: string; profileId: number; kind: number }[];
  last: { profileId: number; kind: 'open' | 'click'; at: string }[];
}

/** Returns the snapshot the rows make. */
export function engagementOf(rows: EngagementRows): EngagementSnapshot {
  const lists = new Map(rows.deliveries.map((d) => [d.deliveryId, [[], [], []] as number[][]]));
  for (const row of rows.standings) lists.get(row.deliveryId)?.[row.kind].push(Number(row.profileId));
  // In id order: the same rows make the same snapshot (and ETag) whatever order the database gave them.
  const byId = (a: number, b: number) => a - b;
  const deliveries = rows.deliveries.map((d): EngagementDelivery => {
    const [received, opened, clicked] = lists.get(d.deliveryId)!;
    return { ...d, received: received.sort(byId), opened: opened.sort(byId), clicked: clicked.sort(byId) };
  });
  const last = (kind: 'open' | 'click'): LastEvents => {
    const of = rows.last.filter((r) => r.kind === kind).sort((a, b) => Number(a.profileId) - Number(b.profileId));
    return { ids: of.map((r) => Number(r.profileId)), at: of.map((r) => Date.parse(r.at)) };
  };
  return { deliveries, lastOpen: last('open'), lastClick: last('click') };
}
