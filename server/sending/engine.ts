/**
 * The send engine. For every delivery in status `sending`: claim a batch of journal rows by
 * keyset, send each through the messenger within the shared concurrency and rate limits,
 * and write the outcomes back in one transaction per batch. Scheduled deliveries start when
 * their time comes, also after a restart.
 *
 * The checkpoint is the journal itself: a row is final only on an SMTP outcome, so a crash
 * never skips anyone (see send-journal.ts for the invariants).
 */

import { compileMessage, type CompiledMessage } from '../../shared/message';
import type { DeliveryStatus } from '../../shared/types';
import type { JournalEntry, RecordedOutcome, SendJournal } from '../store/send-journal';
import type { OutgoingMessage } from './compose';
import type { Messenger } from './messenger';

export interface EngineDelivery {
  id: string;
  status: DeliveryStatus;
  fromName: string;
  fromAddress: string;
  subject: string;
  html: string;
  startedAt: string | null;
}

/** What the engine needs of the delivery store: read a delivery and move its status. */
export interface DeliveryControl {
  get(id: string): EngineDelivery | undefined;
  /** The delivery's status alone: read before every message, so it must stay cheap. */
  status(id: string): DeliveryStatus | undefined;
  transition(id: string, to: DeliveryStatus, now: Date, fields?: { reason?: string | null }): { ok: boolean };
}

export interface EngineOptions {
  journal: SendJournal;
  deliveries: DeliveryControl;
  messenger: Messenger;
  compose: (delivery: EngineDelivery, message: CompiledMessage, entry: JournalEntry) => OutgoingMessage;
  /** Called after outcomes or a status change were written, for live figures. */
  onChange: (deliveryId: string) => void;
  log: (message: string) => void;
  now?: () => Date;
  /** Rows one delivery has claimed at most at a time (its window); defaults to `concurrency`. */
  batchSize?: number;
  /** Messages sent at the same time, all deliveries together (the pool's connections). */
  concurrency?: number;
  /** Messages per second, all deliveries together; 0 for no limit. */
  ratePerSecond?: number;
  /** Consecutive failures after which a delivery is paused. */
  errorBudget?: number;
  /** How long 4xx replies are retried, from the start of sending. */
  validityMs?: number;
  tickMs?: number;
}

const RETRY_BASE_MS = 30_000;
/** Outcomes are written at least every FLUSH_MS (and whenever a window's worth is waiting). */
const FLUSH_MS = 20;
/** How stale the engine's view of a delivery's status may be (see isSending). */
const STATUS_MS = 10;
const RETRY_MAX_MS = 60 * 60_000;

export class SendEngine {
  private readonly running = new Map<string, Promise<void>>();
  private readonly compiled = new Map<string, CompiledMessage>();
  private readonly statuses = new Map<string, { status: DeliveryStatus | undefined; at: number }>();
  private readonly now: () => Date;
  private slots: Semaphore;
  private rate: RateLimiter;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;

  constructor(private readonly options: EngineOptions) {
    this.now = options.now ?? (() => new Date());
    this.slots = new Semaphore(options.concurrency ?? 10);
    this.rate = new RateLimiter(options.ratePerSecond ?? 0);
  }

  /** The messenger the engine sends through (proofs use it too). */
  get messenger(): Messenger {
    return this.options.messenger;
  }

  /**
   * Sends through another messenger with other limits from now on (the settings page);
   * returns the previous messenger, still finishing what it has in flight.
   */
  reconfigure(change: { messenger: Messenger; concurrency: number; batchSize: number; ratePerSecond: number }): Messenger {
    const previous = this.options.messenger;
    Object.assign(this.options, change);
    this.slots = new Semaphore(change.concurrency);
    this.rate = new RateLimiter(change.ratePerSecond);
    return previous;
  }

  /** Starts the engine: rows left in flight by a previous process become `unknown`, then the scan begins. */
  start(): void {
    const unknown = this.options.journal.markInFlightUnknown(this.now());
    if (unknown > 0) this.options.log(`${unknown} messages were in flight when the server stopped; their outcome is unknown.`);
    this.timer = setInterval(() => this.scan(), this.options.tickMs ?? 500);
    this.scan();
  }

  /** Looks for work now instead of at the next tick (after a command: Send, Pause, Resume, Stop). */
  scan(): void {
    if (this.stopping) return;
    // A command may have changed a status: read them afresh.
    this.statuses.clear();
    const { journal, deliveries } = this.options;
    for (const id of journal.dueScheduled(this.now())) {
      if (deliveries.transition(id, 'sending', this.now()).ok) this.options.onChange(id);
    }
    for (const id of journal.sending()) {
      if (this.running.has(id)) continue;
      const run = this.run(id)
        .catch((error) =>
          this.options.log(`delivery ${id}: the send loop stopped on an unexpected error: ${(error as Error).stack ?? error}`),
        )
        .finally(() => this.running.delete(id));
      this.running.set(id, run);
    }
  }

  /** Stops scanning and waits for messages in flight; claimed rows not yet sent go back to the queue. */
  async shutdown(): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    await Promise.all(this.running.values());
    await this.options.messenger.close();
  }

  /** Returns a promise that settles when the delivery's loop has ended (for tests). */
  idle(deliveryId: string): Promise<void> {
    return this.running.get(deliveryId) ?? Promise.resolve();
  }

  /**
   * True while the delivery is `sending`. Read before every message, so the status is read
   * from the database at most every STATUS_MS per delivery: a Pause takes effect within that.
   */
  private isSending(id: string): boolean {
    if (this.stopping) return false;
    const now = Date.now();
    let known = this.statuses.get(id);
    if (!known || now - known.at >= STATUS_MS) {
      known = { status: this.options.deliveries.status(id), at: now };
      this.statuses.set(id, known);
    }
    return known.status === 'sending';
  }

  /**
   * Sends one delivery as a sliding window: at most `window` rows are claimed (`sending`) at
   * a time, a new one is claimed as soon as one finishes, and outcomes are written in small
   * transactions (a window's worth, or every FLUSH_MS). So at a crash the rows whose outcome
   * is unknown are at most two windows — in flight, or answered in the last moments — and
   * never a whole batch.
   */
  private async run(id: string): Promise<void> {
    const options = this.options;
    const { journal, deliveries } = options;
    const delivery = deliveries.get(id);
    if (!delivery) return;
    const message = this.message(delivery);
    if (!message) {
      deliveries.transition(id, 'paused', this.now(), { reason: 'The message template no longer compiles; prepare the delivery again.' });
      options.onChange(id);
      return;
    }
    const budget = options.errorBudget ?? 50;
    const window = () => options.batchSize ?? options.concurrency ?? 10;
    const validUntil = Date.parse(delivery.startedAt ?? this.now().toISOString()) + (options.validityMs ?? 3 * 86_400_000);
    let failuresInARow = 0;
    let lastReply = '';
    let lastId = 0;
    let inFlight = 0;
    let outcomes: RecordedOutcome[] = [];
    let unsent: number[] = [];
    let flushedAt = Date.now();
    let wake: () => void = () => {};
    const flush = () => {
      if (outcomes.length) journal.record(outcomes, this.now());
      if (unsent.length) journal.release(unsent, this.now());
      if (outcomes.length || unsent.length) options.onChange(id);
      outcomes = [];
      unsent = [];
      flushedAt = Date.now();
    };
    const dispatch = (entry: JournalEntry) => {
      inFlight++;
      void (async () => {
        const slots = this.slots;
        const release = await slots.acquire();
        try {
          if (!this.isSending(id)) return void unsent.push(entry.id);
          await this.rate.take();
          if (!this.isSending(id)) return void unsent.push(entry.id);
          const outcome = await this.sendOne(delivery, message, entry);
          if (outcome.kind === 'retry' && this.now().getTime() < validUntil) {
            const delay = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** entry.attempts);
            outcomes.push({ id: entry.id, outcome, retryAt: this.now().getTime() + delay });
          } else if (outcome.kind === 'retry') {
            outcomes.push({ id: entry.id, outcome: { kind: 'failed', reply: `validity period expired; last reply: ${outcome.reply}` } });
          } else {
            outcomes.push({ id: entry.id, outcome });
          }
          failuresInARow = outcome.kind === 'sent' ? 0 : failuresInARow + 1;
          lastReply = outcome.reply;
        } finally {
          release();
          inFlight--;
          wake();
        }
      })();
    };
    const settled = () => new Promise<void>((resolve) => (wake = resolve));

    while (this.isSending(id) && failuresInARow < budget) {
      let claimed = 0;
      // Claim in groups (when half the window is free): one query per group, not per message.
      if (inFlight <= window() / 2) {
        let entries = journal.claimRetries(id, window() - inFlight, this.now());
        if (entries.length === 0) {
          const batch = journal.claim(id, lastId, window() - inFlight, this.now());
          entries = batch.entries;
          if (batch.lastId !== lastId) {
            lastId = batch.lastId;
            if (entries.length === 0) continue; // the whole batch was suppressed: claim the next one
          }
        }
        for (const entry of entries) dispatch(entry);
        claimed = entries.length;
      }
      if (claimed === 0 && inFlight === 0) {
        flush();
        const pending = journal.pending(id);
        if (pending.queued + pending.retrying + pending.sending === 0) {
          // Nobody is skipped silently: messages whose outcome is unknown wait for the operator.
          if (pending.unknown > 0) {
            deliveries.transition(id, 'paused', this.now(), {
              reason: `${pending.unknown} messages were in flight when the server stopped; choose whether to resend them.`,
            });
          } else deliveries.transition(id, 'completed', this.now());
          options.onChange(id);
          return;
        }
        if (pending.queued > 0) {
          lastId = 0; // rows released by a pause lie behind the keyset: start over
          continue;
        }
        await sleep(Math.min(1000, Math.max(50, (pending.nextRetryAt ?? 0) - this.now().getTime())));
        continue;
      }
      if (claimed === 0 || inFlight > window() / 2) await settled();
      if (outcomes.length >= window() || Date.now() - flushedAt >= FLUSH_MS) flush();
    }
    // Paused, stopped, shutting down or over the error budget: let what is in flight finish.
    while (inFlight > 0) await settled();
    flush();
    if (failuresInARow >= budget) {
      deliveries.transition(id, 'paused', this.now(), {
        reason: `Paused by the error budget: ${failuresInARow} messages in a row were not accepted (last reply: ${lastReply}). Check the relay, then resume.`,
      });
      options.onChange(id);
    }
  }

  private async sendOne(delivery: EngineDelivery, message: CompiledMessage, entry: JournalEntry) {
    try {
      return await this.options.messenger.send(this.options.compose(delivery, message, entry));
    } catch (error) {
      // One bad message never stops the loop: it fails on its own, with the reason.
      this.options.log(`delivery ${delivery.id}, recipient ${entry.id}: ${(error as Error).message}`);
      return { kind: 'failed' as const, reply: `not sent: ${(error as Error).message}` };
    }
  }

  private message(delivery: EngineDelivery): CompiledMessage | undefined {
    let message = this.compiled.get(delivery.id);
    if (!message) {
      const result = compileMessage(delivery);
      if (!result.ok) return undefined;
      message = result.message;
      this.compiled.set(delivery.id, message);
    }
    return message;
  }
}

/** A counting semaphore: at most `size` holders at once, served in arrival order. */
class Semaphore {
  private waiting: (() => void)[] = [];
  constructor(private free: number) {}

  async acquire(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    return () => {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}

/** Spaces `take()` calls so that at most `perSecond` return in any second (0: no limit). */
class RateLimiter {
  private nextAt = 0;
  constructor(private readonly perSecond: number) {}

  async take(): Promise<void> {
    if (this.perSecond <= 0) return;
    const now = Date.now();
    const at = Math.max(now, this.nextAt);
    this.nextAt = at + 1000 / this.perSecond;
    if (at > now) await sleep(at - now);
  }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
