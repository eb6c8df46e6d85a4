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
  /**
   * Records an event. Events are written in small batches (every FLUSH_MS): under a burst of
   * opens that is one commit for many requests. The reads below see unwritten events too.
   */
  record(event: TrackingEvent, now: Date): void;
  /** Writes the events recorded so far; call before reading figures from the database. */
  flush(): void;
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

/** The longest an event waits before it is written. */
const FLUSH_MS = 10;

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
  let pending: (TrackingEvent & { at: string })[] = [];
  let timer: NodeJS.Timeout | undefined;
  const writeAll = db.transaction((events: (TrackingEvent & { at: string })[]) => {
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
  const flush = () => {
    clearTimeout(timer);
    timer = undefined;
    if (pending.length === 0) return;
    const events = pending;
    pending = [];
    writeAll(events);
  };
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
      pending.push({ ...event, at: now.toISOString() });
      timer ??= setTimeout(flush, FLUSH_MS);
    },
    flush,
    opened: (journalId) =>
      pending.some((e) => e.journalId === journalId && e.kind === 'open' && !e.machine) || opened.get(journalId) !== undefined,
    otherLinksClicked(journalId, linkId, since) {
      const from = since.toISOString();
      const links = new Set(otherLinks.all(journalId, linkId, from) as number[]);
      for (const e of pending)
        if (e.journalId === journalId && e.kind === 'click' && e.linkId !== linkId && e.at >= from) links.add(e.linkId!);
      return links.size;
    },
    markClicksMachine(journalId, since) {
      const from = since.toISOString();
      markMachine.run(journalId, from);
      for (const e of pending) if (e.journalId === journalId && (e.kind === 'click' || e.kind === 'open') && e.at >= from) e.machine = true;
    },
  };
}
