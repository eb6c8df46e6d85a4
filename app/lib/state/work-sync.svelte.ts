/**
 * Syncing the team's work: the edits waiting in this device's records are pushed, then every
 * document changed since the cursor is pulled, page by page, each page written with its
 * cursor in one transaction (an interrupted pull resumes where it stopped). It runs at
 * start, soon after each edit, when the network comes back, when the server says something
 * changed (its event stream), and every minute. One tab syncs at a time (Web Locks).
 */

import { liveQuery } from 'dexie';
import { m } from '$lib/i18n.svelte';
import type { DocPush, WorkDoc } from '$shared/work';
import { refusalOf } from '../api';
import { getMeta, type MailroomDb } from '../db/db';
import { pushOf, storeDocs, tableOf, WORK_CURSOR, workTables, type WorkRecord } from '../db/work';

const PAGE_SIZE = 100;
const EVERY_MS = 60_000;
const PUSH_AFTER_EDIT_MS = 400;
/** A push carries at most this much (the server takes 16 MiB). */
const PUSH_BYTES = 4 * 1024 * 1024;
const PUSH_DOCS = 20;
const LOCK = 'mailroom.work-sync';
const EVENTS_LOCK = 'mailroom.work-events';
const EVENTS_CHANNEL = 'mailroom.work-events';

interface Page {
  docs: WorkDoc[];
  cursor: number;
  hasMore: boolean;
}

export class WorkSync {
  #pending = $state(0);
  #syncing = $state(false);
  /** Read when shown: a sentence of the app's follows a change of language. */
  #error = $state.raw<(() => string) | null>(null);
  #syncedAt = $state<string | null>(null);
  #timer: ReturnType<typeof setTimeout> | undefined;
  #again = false;
  #running: Promise<void> | null = null;

  constructor(private readonly db: MailroomDb) {}

  /** Records with edits not yet on the server. */
  get pending() {
    return this.#pending;
  }
  get syncing() {
    return this.#syncing;
  }
  /** Why the last sync did not complete, for the marketer; null when it did. */
  get error(): string | null {
    return this.#error?.() ?? null;
  }
  get syncedAt() {
    return this.#syncedAt;
  }

  /** Syncs now, soon after every edit, on reconnect, on the server's word, and every minute; returns the function that stops. */
  start(): () => void {
    const kick = () => void this.sync();
    window.addEventListener('online', kick);
    const interval = setInterval(kick, EVERY_MS);
    const waiting = liveQuery(async () => {
      const [deliveries, typologies, templates] = await Promise.all([
        this.db.deliveries.toArray(),
        this.db.typologies.toArray(),
        this.db.templates.toArray(),
      ]);
      return [...deliveries, ...typologies, ...templates].filter((r) => r.sync && pushOf(r, 'delivery') !== null).length;
    }).subscribe({
      next: (count) => {
        this.#pending = count;
        if (count > 0) this.soon();
      },
      error: (error) => console.error('work waiting to be pushed', error),
    });
    const stopEvents = this.#listen(kick);
    kick();
    return () => {
      window.removeEventListener('online', kick);
      clearInterval(interval);
      clearTimeout(this.#timer);
      waiting.unsubscribe();
      stopEvents();
    };
  }

  /**
   * Follows the server's word that the team's work changed. One tab holds the event stream
   * (a Web Lock) and tells the others over a BroadcastChannel: a browser opens only six
   * connections to a server, and every tab holding streams of its own would use them up.
   */
  #listen(kick: () => void): () => void {
    const channel = new BroadcastChannel(EVENTS_CHANNEL);
    const heard = (cursor: number) =>
      void getMeta<number>(this.db, WORK_CURSOR).then((mine) => {
        if ((mine ?? 0) < cursor) kick();
      });
    channel.onmessage = (event: MessageEvent<{ cursor: number }>) => heard(event.data.cursor);
    let release = () => {};
    let closed = false;
    const hold = () =>
      new Promise<void>((released) => {
        if (closed) return released();
        const events = new EventSource('/api/work/events');
        events.addEventListener('work', (event) => {
          const { cursor } = JSON.parse((event as MessageEvent<string>).data) as { cursor: number };
          channel.postMessage({ cursor });
          heard(cursor);
        });
        release = () => {
          events.close();
          released();
        };
      });
    if (navigator.locks) void navigator.locks.request(EVENTS_LOCK, hold);
    else void hold();
    return () => {
      closed = true;
      release();
      channel.close();
    };
  }

  /** Syncs a moment from now (edits come in bursts while typing). */
  soon(): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => void this.sync(), PUSH_AFTER_EDIT_MS);
  }

  /**
   * Pushes what waits, without pulling (a Send shares its delivery's edits first: pulling a
   * teammate's edit then would change the delivery under its preparation). Errors are kept
   * for the next sync, never thrown.
   */
  async push(): Promise<void> {
    if (!navigator.onLine) return;
    const run = () => this.pushWaiting().catch(() => {});
    await (navigator.locks ? navigator.locks.request(LOCK, run) : run());
  }

  /** Pushes what waits, then pulls. Errors are kept in `error`, never thrown. */
  async sync(): Promise<void> {
    if (!navigator.onLine) return;
    if (this.#running) {
      this.#again = true;
      return this.#running;
    }
    const run = async () => {
      do {
        this.#again = false;
        await this.#once();
      } while (this.#again);
    };
    this.#running = (navigator.locks ? navigator.locks.request(LOCK, run) : run()).finally(() => (this.#running = null));
    return this.#running;
  }

  async #once(): Promise<void> {
    this.#syncing = true;
    try {
      await this.pushWaiting();
      await this.pull();
      this.#error = null;
      this.#syncedAt = new Date().toISOString();
    } catch (error) {
      const message = (error as Error).message;
      this.#error = error instanceof TypeError ? () => m.worker_work_unreachable() : () => message || m.worker_work_failed();
    } finally {
      this.#syncing = false;
    }
  }

  /** Pushes the records' waiting edits, a few documents at a time, and lays the answers over them. */
  private async pushWaiting(): Promise<void> {
    const records: [WorkRecord, DocPush][] = [];
    for (const [table, kind] of [
      [this.db.typologies, 'typology'],
      [this.db.deliveries, 'delivery'],
      [this.db.templates, 'template'],
    ] as const) {
      for (const record of (await table.toArray()) as WorkRecord[]) {
        const push = record.sync ? pushOf(record, kind) : null;
        if (push) records.push([record, push]);
      }
    }
    // Typologies first: a draft may name one the server has not heard of yet.
    while (records.length) {
      const group: DocPush[] = [];
      let bytes = 0;
      while (records.length && group.length < PUSH_DOCS) {
        const size = JSON.stringify(records[0][1]).length;
        if (group.length && bytes + size > PUSH_BYTES) break;
        group.push(records.shift()![1]);
        bytes += size;
      }
      await this.pushGroup(group);
    }
  }

  private async pushGroup(pushes: DocPush[]): Promise<void> {
    const response = await post('/api/work/push', { pushes });
    if (response.status === 401) throw new Error(m.worker_sign_in_to_share());
    if (response.status === 403) {
      const message = await messageOf(response);
      await this.refuse(pushes, message);
      throw new Error(message);
    }
    if (!response.ok) throw new Error(await messageOf(response));
    const answer = (await response.json()) as { docs: WorkDoc[]; refused: { id: string; message: string }[] };
    const pushed = Object.fromEntries(pushes.map((p) => [p.id, Object.fromEntries(Object.entries(p.edits).map(([f, e]) => [f, e.hlc]))]));
    await this.db.transaction('rw', workTables(this.db), async () => {
      await storeDocs(this.db, answer.docs, pushed);
      for (const { id, message } of answer.refused)
        await this.refuseOne(
          pushes.find((p) => p.id === id)!,
          message,
        );
    });
  }

  /** Marks records whose edits the server refused: they wait for the next edit, and a refused deletion is undone. */
  private async refuse(pushes: DocPush[], message: string): Promise<void> {
    await this.db.transaction('rw', [this.db.deliveries, this.db.typologies, this.db.templates], async () => {
      for (const push of pushes) await this.refuseOne(push, message);
    });
  }

  private async refuseOne(push: DocPush, message: string): Promise<void> {
    await tableOf(this.db, push.kind)
      .where('id')
      .equals(push.id)
      .modify((record: WorkRecord) => {
        record.sync.refusal = message;
        record.sync.deleteAt = null;
      });
  }

  /** Pulls every document changed since the cursor; the next page downloads while this one is written. */
  private async pull(): Promise<void> {
    let since = (await getMeta<number>(this.db, WORK_CURSOR)) ?? 0;
    for (;;) {
      const response = await fetch(`/api/work/changes?since=${since}&limit=${PAGE_SIZE}`);
      if (!response.ok) throw new Error(await messageOf(response));
      const page = (await response.json()) as Page;
      await this.db.transaction('rw', workTables(this.db), async () => {
        await storeDocs(this.db, page.docs);
        await this.db.meta.put({ key: WORK_CURSOR, value: page.cursor });
      });
      since = page.cursor;
      if (!page.hasMore) return;
    }
  }
}

const post = (path: string, body: unknown) =>
  fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

const messageOf = async (response: Response) => (await refusalOf(response)).message;
