/**
 * The audience replica: pulled from the server by change cursor, page by page, each page
 * applied with its cursor in one Dexie transaction, so an interrupted pull resumes where it
 * stopped and the cursor never runs ahead of the data.
 */

import { client, refusalOf } from '../api';
import { getMeta, REPLICA_CURSOR, REPLICA_SYNCED_AT, REPLICA_TOTAL, type MailroomDb } from '../db/db';

const PAGE_SIZE = 5_000;
const EVERY_MS = 5 * 60_000;

export class Replica {
  #count = $state(0);
  #cursor = $state(0);
  #syncedAt = $state<string | null>(null);
  #syncing = $state(false);
  #received = $state(0);
  #expected = $state(0);
  #error = $state<string | null>(null);
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(private readonly db: MailroomDb) {}

  get count() {
    return this.#count;
  }
  get cursor() {
    return this.#cursor;
  }
  get syncedAt() {
    return this.#syncedAt;
  }
  get syncing() {
    return this.#syncing;
  }
  /** Progress of the running pull: profiles received, and how many are expected (0 when unknown). */
  get progress() {
    return { received: this.#received, expected: this.#expected };
  }
  get error() {
    return this.#error;
  }

  /** Reads what the replica holds; call once at start. */
  async load(): Promise<void> {
    this.#cursor = (await getMeta<number>(this.db, REPLICA_CURSOR)) ?? 0;
    this.#syncedAt = (await getMeta<string>(this.db, REPLICA_SYNCED_AT)) ?? null;
    this.#count = await this.db.profiles.count();
  }

  /** Pulls now, then every few minutes and whenever the browser comes back online. */
  keepInSync(): () => void {
    const pull = () => void this.sync();
    window.addEventListener('online', pull);
    this.#timer = setInterval(pull, EVERY_MS);
    pull();
    return () => {
      window.removeEventListener('online', pull);
      clearInterval(this.#timer);
    };
  }

  /** Pulls every change since the cursor. Errors are kept in `error`, never thrown. */
  async sync(): Promise<void> {
    if (this.#syncing || !navigator.onLine) return;
    this.#syncing = true;
    this.#error = null;
    this.#received = 0;
    try {
      const isInitial = this.#cursor === 0;
      for (;;) {
        const response = await client.api.audience.changes.$get({ query: { since: String(this.#cursor), limit: String(PAGE_SIZE) } });
        if (!response.ok) {
          this.#error = (await refusalOf(response)).message;
          return;
        }
        const page = await response.json();
        this.#expected = isInitial ? page.total : this.#received + page.profiles.length + (page.hasMore ? PAGE_SIZE : 0);
        const at = new Date().toISOString();
        await this.db.transaction('rw', [this.db.profiles, this.db.meta], async () => {
          await this.db.profiles.bulkPut(page.profiles);
          await this.db.meta.bulkPut([
            { key: REPLICA_CURSOR, value: page.cursor },
            { key: REPLICA_SYNCED_AT, value: at },
            { key: REPLICA_TOTAL, value: page.total },
          ]);
        });
        this.#received += page.profiles.length;
        this.#cursor = page.cursor;
        this.#syncedAt = at;
        if (!page.hasMore) break;
      }
      this.#count = await this.db.profiles.count();
    } catch (error) {
      this.#error = describeSyncError(error);
    } finally {
      this.#syncing = false;
    }
  }
}

function describeSyncError(error: unknown): string {
  if ((error as Error)?.name === 'QuotaExceededError') {
    return 'The browser has no more room for the audience. Free disk space or allow this site more storage, then sync again.';
  }
  return 'The audience could not be updated: the server cannot be reached. Working from the local copy.';
}
