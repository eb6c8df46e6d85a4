/**
 * The audience replica: pulled from the server by change cursor, page by page, each page
 * applied with its cursor in one Dexie transaction, so an interrupted pull resumes where it
 * stopped and the cursor never runs ahead of the data. One tab pulls at a time (Web Locks);
 * every tab follows the replica's figures through Dexie.
 */

import { liveQuery } from 'dexie';
import { m } from '$lib/i18n.svelte';
import type { AttributeDefinition } from '$shared/types';
import { client, refusalOf } from '../api';
import {
  getMeta,
  REPLICA_COUNT,
  REPLICA_CURSOR,
  REPLICA_ENGAGED_DELIVERIES,
  REPLICA_HISTORY_STAMP,
  REPLICA_LOADED,
  REPLICA_SCHEMA,
  REPLICA_SYNCED_AT,
  replicaVersion,
  type MailroomDb,
} from '../db/db';
import {
  applyChangePage,
  compactReplica,
  OVERLAY_LIMIT,
  overlaySize,
  storeContactHistory,
  engagementStampOf,
  storeEngagement,
  type EngagedDelivery,
} from '../db/replica';

const PAGE_SIZE = 10_000;
const EVERY_MS = 5 * 60_000;
const LOCK = 'mailroom.replica-sync';

export class Replica {
  #count = $state(0);
  #cursor = $state(0);
  #historyStamp = $state('');
  #syncedAt = $state<string | null>(null);
  #schema = $state.raw<AttributeDefinition[]>([]);
  #engaged = $state.raw<EngagedDelivery[]>([]);
  #engagementStamp = $state('');
  #syncing = $state(false);
  #received = $state(0);
  #expected = $state(0);
  /** Why the last pull failed, read when shown: a sentence of the app's follows a change of language. */
  #error = $state.raw<(() => string) | null>(null);
  #usage = $state<{ used: number; quota: number; persisted: boolean } | null>(null);
  #timer: ReturnType<typeof setInterval> | undefined;
  /** The pull this tab is running, if any. */
  #running: Promise<void> | null = null;

  /** @param compact folds the overlay of recent changes into the blocks (the worker does it, off the page's thread) */
  constructor(
    private readonly db: MailroomDb,
    private readonly compact: () => Promise<void> = () => compactReplica(db),
  ) {}

  get count() {
    return this.#count;
  }
  get cursor() {
    return this.#cursor;
  }
  /** What a preparation read: the change cursor and the contact history (stale detection compares it). */
  get version() {
    return replicaVersion(this.#cursor, this.#historyStamp);
  }
  get syncedAt() {
    return this.#syncedAt;
  }
  /** The custom attributes of the audience, as of the last pull. */
  get schema() {
    return this.#schema;
  }
  /** The deliveries sent in the last year, with who received, opened and clicked them, as of the last pull. */
  get engagedDeliveries() {
    return this.#engaged;
  }
  /** What identifies the engagement pulled last (see replicaState). */
  get engagementStamp() {
    return this.#engagementStamp;
  }
  get syncing() {
    return this.#syncing;
  }
  /** Progress of the running pull: profiles received, and how many are expected (0 when unknown). */
  get progress() {
    return { received: this.#received, expected: this.#expected };
  }
  get error(): string | null {
    return this.#error?.() ?? null;
  }
  /** Storage this site uses and may use, in bytes, and whether the browser keeps it under pressure. */
  get usage() {
    return this.#usage;
  }

  /** Follows the replica's figures in Dexie, whichever tab writes them; resolves with the first reading. */
  load(): Promise<void> {
    return new Promise((loaded) => {
      liveQuery(() =>
        this.db.meta.bulkGet([
          REPLICA_CURSOR,
          REPLICA_SYNCED_AT,
          REPLICA_COUNT,
          REPLICA_SCHEMA,
          REPLICA_HISTORY_STAMP,
          REPLICA_ENGAGED_DELIVERIES,
        ]),
      ).subscribe({
        next: ([cursor, syncedAt, count, schema, stamp, engaged]) => {
          const listed = engaged?.value as { deliveries: EngagedDelivery[]; pulledAt: string; etag?: string | null } | undefined;
          this.#engaged = listed?.deliveries ?? [];
          this.#engagementStamp = engagementStampOf(listed);
          this.#cursor = (cursor?.value as number) ?? 0;
          this.#historyStamp = (stamp?.value as string) ?? '';
          this.#syncedAt = (syncedAt?.value as string) ?? null;
          this.#count = (count?.value as number) ?? 0;
          this.#schema = (schema?.value as AttributeDefinition[]) ?? [];
          loaded();
        },
        error: (error) => console.error('replica figures', error),
      });
    });
  }

  /** Pulls now, then every few minutes and whenever the browser comes back online. */
  keepInSync(): () => void {
    const pull = () => void this.sync();
    window.addEventListener('online', pull);
    this.#timer = setInterval(pull, EVERY_MS);
    pull();
    void this.measureStorage(true);
    return () => {
      window.removeEventListener('online', pull);
      clearInterval(this.#timer);
    };
  }

  /** Pulls every change since the cursor, unless another tab is pulling. Errors are kept in `error`, never thrown. */
  async sync(): Promise<void> {
    if (this.#syncing || !navigator.onLine) return;
    if (!navigator.locks) return this.#track(this.pull());
    await navigator.locks.request(LOCK, { ifAvailable: true }, async (lock) => {
      if (lock) await this.#track(this.pull());
    });
  }

  /**
   * Pulls the change the operator just made on the server (a deletion, a denylisting): waits
   * for a pull under way, in this tab or another, since it may have read its pages before the
   * change, then pulls. Resolves once this replica holds the change (or the pull failed,
   * with `error` saying why).
   */
  async refresh(): Promise<void> {
    if (!navigator.onLine) return;
    while (this.#running) await this.#running;
    if (!navigator.locks) return this.#track(this.pull());
    await navigator.locks.request(LOCK, () => this.#track(this.pull()));
  }

  #track(pull: Promise<void>): Promise<void> {
    this.#running = pull.finally(() => (this.#running = null));
    return this.#running;
  }

  private async pull(): Promise<void> {
    this.#syncing = true;
    this.#error = null;
    this.#received = 0;
    try {
      const schemaResponse = await client.api.audience.schema.$get();
      if (!schemaResponse.ok) {
        const { message } = await refusalOf(schemaResponse);
        this.#error = () => message;
        return;
      }
      let schema: AttributeDefinition[] | null = (await schemaResponse.json()).attributes as AttributeDefinition[];
      // The cursor of record is the one stored with the data, whichever tab or run wrote it.
      const since = (await getMeta<number>(this.db, REPLICA_CURSOR)) ?? 0;
      const isInitial = !(await getMeta<boolean>(this.db, REPLICA_LOADED));
      const fetchPage = (since: number) => {
        const request = (async () => {
          const response = await client.api.audience.changes.$get({ query: { since: String(since), limit: String(PAGE_SIZE) } });
          if (!response.ok) throw new SyncRefused((await refusalOf(response)).message);
          return response.json();
        })();
        request.catch(() => {}); // awaited below; this only keeps an early failure from going unhandled
        return request;
      };
      // The next page downloads while this one is written: network and IndexedDB overlap.
      let next = fetchPage(since);
      for (;;) {
        const page = await next;
        if (page.hasMore) next = fetchPage(page.cursor);
        this.#expected = isInitial ? page.total : this.#received + page.profiles.length + (page.hasMore ? PAGE_SIZE : 0);
        await applyChangePage(this.db, page, schema, new Date().toISOString(), isInitial ? 'blocks' : 'overlay');
        schema = null;
        this.#received += page.profiles.length + page.deleted.length;
        if (!page.hasMore) break;
      }
      // Messages sent and scheduled, for pressure and capacity rules: small, so pulled whole.
      const history = await client.api.audience['contact-history'].$get({ query: { days: '90' } });
      if (!history.ok) throw new SyncRefused((await refusalOf(history)).message);
      await storeContactHistory(this.db, (await history.json()).entries);
      // Who received, opened and clicked the last year's deliveries, for engagement conditions.
      const known = await getMeta<{ etag?: string }>(this.db, REPLICA_ENGAGED_DELIVERIES);
      const engagement = await client.api.audience.engagement.$get(
        { query: { days: '365' } },
        { headers: known?.etag ? { 'If-None-Match': known.etag } : {} },
      );
      // 304 (not in the route's types: the ETag middleware answers it) keeps what the replica has.
      if ((engagement.status as number) !== 304) {
        if (!engagement.ok) throw new SyncRefused((await refusalOf(engagement)).message);
        await storeEngagement(this.db, await engagement.json(), new Date().toISOString(), engagement.headers.get('ETag'));
      }
      if ((await overlaySize(this.db)) > OVERLAY_LIMIT)
        void this.compact().catch((error) => console.error('compacting the replica', error));
    } catch (error) {
      this.#error = () => describeSyncError(error);
    } finally {
      this.#syncing = false;
      void this.measureStorage(false);
    }
  }

  /** Reads how much storage the replica uses; the first time, asks the browser to keep it (persistent storage). */
  private async measureStorage(askToPersist: boolean): Promise<void> {
    if (!navigator.storage?.estimate) return;
    const persisted =
      askToPersist && navigator.storage.persist ? await navigator.storage.persist() : ((await navigator.storage.persisted?.()) ?? false);
    const { usage = 0, quota = 0 } = await navigator.storage.estimate();
    this.#usage = { used: usage, quota, persisted };
  }
}

/** The server answered a pull with a refusal (signed out, bad request). */
class SyncRefused extends Error {}

/** Returns the sentence to show for a failed pull. */
export function describeSyncError(error: unknown): string {
  if (error instanceof SyncRefused) return error.message;
  const name = (error as Error)?.name;
  const inner = (error as { inner?: Error })?.inner?.name;
  if (name === 'QuotaExceededError' || inner === 'QuotaExceededError') {
    return m.worker_storage_full();
  }
  return m.worker_audience_unreachable();
}
