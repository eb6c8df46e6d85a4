/**
 * The send engine. For every delivery in status `sending`: claim a batch of journal rows by
 * keyset, send each through the messenger within the shared concurrency and rate limits,
 * and write the outcomes back in small transactions. Scheduled deliveries start when their
 * time comes, also after a restart.
 *
 * The checkpoint is the journal itself: a row is final only on an SMTP outcome, so a crash
 * never skips anyone (see store/journal.ts for the invariants).
 *
 * A relay that cannot be reached (the messenger answers `unsent`) freezes nothing: those
 * rows go back to the queue without an attempt, the delivery claims nothing more and asks
 * the messenger every PROBE_MS whether it can connect again, and carries on when it can; it
 * is paused with the relay's trouble as the reason when the error budget is spent or the
 * relay has been unreachable for `relayPatienceMs`. A shutdown is bounded (SHUTDOWN_GRACE_MS).
 */

import {
  contentVariants,
  decideWinner,
  VARIANT_NAMES,
  variantContent,
  variantCount,
  type Experiment,
  type Translation,
} from '../../shared/experiment';
import { compileMessage, type CompiledMessage } from '../../shared/message';
import type { DeliveryStatus } from '../../shared/types';
import { ClaimFailedAfterRecording, type JournalEntry, type RecordedOutcome, type SeedCopy, type SendJournal } from '../store/journal';
import type { SmtpOutcome, UnsentOutcome } from './messenger';
import type { OutgoingMessage } from './compose';
import type { Messenger } from './messenger';

export interface EngineDelivery {
  id: string;
  status: DeliveryStatus;
  fromName: string;
  fromAddress: string;
  subject: string;
  /** '' (or absent) for none of its own. */
  preheader?: string;
  html: string;
  /** The written text part; '' (or absent) to derive it from the HTML. */
  text?: string;
  /** The relay chosen for it; null or absent routes by the From domain (relays.ts). */
  relayId?: string | null;
  startedAt: string | null;
  /** An A/B test: its variants' content, and once chosen the winner (0 for A) the rest of the audience gets. */
  experiment?: Experiment | null;
  winner?: number | null;
  winnerAt?: string | null;
  /** Seed addresses: each gets a copy of every variant when sending first starts, in no figure. */
  seeds?: string[];
  /** Content by language: a row's variant k + 1 gets translation k. */
  translations?: Translation[] | null;
  /** With a local send time's window: how long after its due time a message may still go. */
  sendWindowMs?: number | null;
}

/**
 * What an engine event is, for a structured log line: its severity, a name that stays the
 * same from one release to the next (`relay-unreachable`), and what it concerns; `err`, when
 * something failed, is the error itself (its stack goes to the log, not into the sentence).
 */
export interface EngineEvent {
  level: 'info' | 'warn' | 'error';
  event: string;
  deliveryId?: string;
  [field: string]: unknown;
}

/** Told of every message's round trip to the relay and of every outcome written (the metrics); optional. */
export interface EngineObserver {
  /** A message came back from the messenger `seconds` after it was handed over (a free connection waited for included). */
  answered(kind: SmtpOutcome['kind'], seconds: number): void;
  /** An outcome is being written for a message: as the journal records it (a retry past the validity period is `failed`). */
  recorded(kind: SmtpOutcome['kind']): void;
}

/** What the engine needs of the delivery store: read a delivery and move its status. */
export interface DeliveryControl {
  get(id: string): Promise<EngineDelivery | undefined>;
  /** The delivery's status alone: read at most every STATUS_MS per delivery, so it must stay cheap. */
  status(id: string): Promise<DeliveryStatus | undefined>;
  transition(id: string, to: DeliveryStatus, now: Date, fields?: { reason?: string | null }): Promise<{ ok: boolean }>;
}

export interface EngineOptions {
  journal: SendJournal;
  deliveries: DeliveryControl;
  messenger: Messenger;
  compose: (delivery: EngineDelivery, message: CompiledMessage, entry: JournalEntry) => Promise<OutgoingMessage>;
  /** Called after outcomes or a status change were written, for live figures. */
  onChange: (deliveryId: string) => void;
  /** Writes an event: a sentence for people, and the event's fields for machines. */
  log: (message: string, event?: EngineEvent) => void;
  observer?: EngineObserver;
  /** Hears each message's final outcome (sent, failed, bounced) as it is written: the webhooks' delivered, failed and bounced. */
  onOutcome?: (deliveryId: string, entry: JournalEntry, outcome: SmtpOutcome) => void;
  now?: () => Date;
  /** Rows one delivery has claimed at most at a time (its window); defaults to `concurrency`. */
  batchSize?: number;
  /** Messages sent at the same time, all deliveries together (the pool's connections). */
  concurrency?: number;
  /** Messages per second, all deliveries together; 0 for no limit. */
  ratePerSecond?: number;
  /** Consecutive failures after which a delivery is paused; a failed connection attempt to an unreachable relay counts as one. */
  errorBudget?: number;
  /** How long a delivery waits for an unreachable relay before it is paused, however much of the error budget is left. */
  relayPatienceMs?: number;
  /** How long one round of seed copies may take before the rest wait for the next (SEED_ROUND_MS). */
  seedRoundMs?: number;
  /** How long 4xx replies are retried, from the start of sending. */
  validityMs?: number;
  tickMs?: number;
  /**
   * With several nodes on one database, every few scans look for rows left in flight by a
   * node that died (markInFlightUnknown); with one, that happens at start only.
   */
  sweepEveryScan?: boolean;
}

const RETRY_BASE_MS = 30_000;
/**
 * Outcomes are written within FLUSH_MS of arriving (and whenever a window's worth is
 * waiting), whatever else the delivery is waiting for: a timer writes them.
 */
const FLUSH_MS = 20;
/** How stale the engine's view of a delivery's status may be (see isSending). */
const STATUS_MS = 10;
const RETRY_MAX_MS = 60 * 60_000;
/** While there is a queue to claim from, retries (due RETRY_BASE_MS or more after an attempt) are looked for this often. */
const RETRY_CHECK_MS = 1_000;
/** How long after its `attempts`-th try a message (or a seed copy) is tried again: 30 s, doubling, at most an hour. */
const retryDelay = (attempts: number) => Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempts);
/** How long one round of seed copies may take before the rest wait for the next round (a second later). */
const SEED_ROUND_MS = 20_000;
/** How many times a seed copy is tried (30 s, then doubling: the last about 16 minutes after the first). */
const SEED_MAX_ATTEMPTS = 6;
/** With several nodes, the rows of dead nodes are looked for every SWEEP_EVERY scans (a few seconds). */
const SWEEP_EVERY = 10;
/** While the relay cannot be reached, the messenger is asked this often whether it can connect again; no row is claimed meanwhile. */
const PROBE_MS = 1_000;
const RELAY_PATIENCE_MS = 60_000;
/** While an A/B test's rest waits for the winner, the loop looks this often whether the wait is over or the operator chose one. */
const WINNER_CHECK_MS = 1_000;
/** How long a shutdown waits for messages in conversation with the relay before it leaves them for "outcome unknown". */
export const SHUTDOWN_GRACE_MS = 10_000;

export class SendEngine {
  private readonly running = new Map<string, Promise<void>>();
  private readonly compiled = new Map<string, Compiled[]>();
  private readonly statuses = new Map<string, { status: Promise<DeliveryStatus | undefined>; at: number }>();
  private scanning: Promise<void> = Promise.resolve();
  private scans = 0;
  private readonly now: () => Date;
  private slots: Semaphore;
  private rate: RateLimiter;
  private timer: NodeJS.Timeout | undefined;
  private stopping = false;
  private stopped: Promise<void> | null = null;
  /** Set when a shutdown stops waiting: every loop ends at once, leaving what the relay has not answered `sending`. */
  private abandoned = false;
  private abandonedMessages = 0;
  /** Wake every delivery loop from what it awaits (a shutdown). */
  private readonly wakers = new Set<() => void>();

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

  /** Returns `not-started` before start(), `running` while it scans for work, and `stopping` once a shutdown has begun (readiness). */
  get state(): 'not-started' | 'running' | 'stopping' {
    return this.stopping ? 'stopping' : this.timer ? 'running' : 'not-started';
  }

  /**
   * Starts the engine: rows left in flight by a node that no longer runs (this one's previous
   * process, on SQLite) become `unknown`, then the scan begins, every `tickMs`.
   */
  async start(): Promise<void> {
    await this.sweep();
    this.timer = setInterval(() => void this.scan(), this.options.tickMs ?? 500);
    await this.scan();
  }

  /** Marks the rows of dead nodes unknown (at start, and on every scan with several nodes); says how many. */
  private async sweep(): Promise<void> {
    const unknown = await this.options.journal.markInFlightUnknown(this.now());
    if (unknown > 0) {
      this.options.log(`${unknown} messages were in flight when the server stopped; their outcome is unknown.`, {
        level: 'warn',
        event: 'in-flight-unknown',
        messages: unknown,
      });
    }
  }

  /**
   * Looks for work now instead of at the next tick (after a command: Send, Pause, Resume,
   * Stop): due schedules start (on one node only: the transition is conditional), and every
   * delivery sending gets its loop on this node. Resolves once the scan has looked.
   */
  scan(): Promise<void> {
    if (this.stopping) return Promise.resolve();
    // Overlapping scans (a tick and a command) would start two loops for one delivery.
    this.scanning = this.scanning
      .then(() => this.scanOnce())
      .catch((error) =>
        this.options.log(`the scan for work failed: ${(error as Error).message}`, { level: 'error', event: 'scan-failed', err: error }),
      );
    return this.scanning;
  }

  private async scanOnce(): Promise<void> {
    if (this.stopping) return;
    // A command may have changed a status: read them afresh.
    this.statuses.clear();
    const { journal, deliveries } = this.options;
    if (this.options.sweepEveryScan && ++this.scans % SWEEP_EVERY === 0) await this.sweep();
    for (const id of await journal.dueScheduled(this.now())) {
      if ((await deliveries.transition(id, 'sending', this.now())).ok) {
        this.options.log(`delivery ${id}: its scheduled time has come; sending starts.`, {
          level: 'info',
          event: 'schedule-due',
          deliveryId: id,
        });
        this.options.onChange(id);
      }
    }
    for (const id of await journal.sending()) {
      if (this.running.has(id) || this.stopping) continue;
      const run = this.run(id)
        .catch((error) =>
          this.options.log(`delivery ${id}: the send loop stopped on an unexpected error: ${(error as Error).message ?? error}`, {
            level: 'error',
            event: 'send-loop-failed',
            deliveryId: id,
            err: error,
          }),
        )
        .finally(() => this.running.delete(id));
      this.running.set(id, run);
    }
  }

  /**
   * Stops sending within `graceMs`; resolves when it has (calling it again returns the same
   * promise). Nothing new starts; claimed rows not yet handed to the messenger go back to
   * the queue, and so do those the pool was still waiting to connect for (`unsent`). Messages
   * in conversation with the relay have `graceMs` to be answered; any still unanswered are
   * left `sending`, and the next start lists them as outcome unknown, which they are.
   */
  shutdown(graceMs = SHUTDOWN_GRACE_MS): Promise<void> {
    this.stopped ??= this.stop(graceMs);
    return this.stopped;
  }

  private async stop(graceMs: number): Promise<void> {
    this.stopping = true;
    clearInterval(this.timer);
    this.slots.close();
    for (const wake of this.wakers) wake();
    const closing = this.options.messenger.close();
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), graceMs)));
    const loops = Promise.all(this.running.values());
    if ((await Promise.race([loops, late])) === 'late') {
      this.abandoned = true;
      for (const wake of this.wakers) wake();
      await loops;
      if (this.abandonedMessages > 0) {
        this.options.log(
          `${this.abandonedMessages} messages were still unanswered by the relay after ${graceMs / 1000} s; they are left as they are and will be listed as outcome unknown.`,
          { level: 'warn', event: 'shutdown-unanswered', messages: this.abandonedMessages },
        );
      }
    }
    await Promise.race([closing, late]);
    clearTimeout(timer);
  }

  /** Returns a promise that settles when the delivery's loop has ended (for tests). */
  idle(deliveryId: string): Promise<void> {
    return this.running.get(deliveryId) ?? Promise.resolve();
  }

  /**
   * True while the delivery is `sending`. Read before every message, so the status is read
   * from the database at most every STATUS_MS per delivery: a Pause takes effect within that.
   */
  private async isSending(id: string): Promise<boolean> {
    if (this.stopping) return false;
    const now = Date.now();
    let known = this.statuses.get(id);
    if (!known || now - known.at >= STATUS_MS) {
      // One read for every message that asks within STATUS_MS: they share its answer.
      known = { status: this.options.deliveries.status(id), at: now };
      this.statuses.set(id, known);
    }
    return !this.stopping && (await known.status) === 'sending';
  }

  /**
   * Sends one delivery as a sliding window: at most `window` rows are claimed (`sending`) at
   * a time, a new one is claimed as soon as one finishes, and outcomes are written in small
   * transactions (a window's worth, or within FLUSH_MS of arriving). So at a crash the rows
   * whose outcome is unknown are at most two windows — in flight, or answered in the last
   * moments — and never a whole batch; a row never handed to the relay comes back `unsent`
   * and goes back to the queue, so it is never among them.
   */
  private async run(id: string): Promise<void> {
    const options = this.options;
    const { journal, deliveries } = options;
    let delivery = await deliveries.get(id);
    if (!delivery) return;
    const messages = this.messages(delivery);
    if (!messages) {
      const reason = 'The message template no longer compiles; prepare the delivery again.';
      await deliveries.transition(id, 'paused', this.now(), { reason });
      options.log(`delivery ${id}: paused: ${reason}`, { level: 'warn', event: 'delivery-paused', deliveryId: id, reason });
      options.onChange(id);
      return;
    }
    options.log(`delivery ${id}: sending.`, { level: 'info', event: 'delivery-sending', deliveryId: id });
    // The seeds' copies are queued once (a restart, or another node, finds them queued) and go first.
    const seedCopies = (delivery.seeds ?? []).flatMap((email) => messages.map((_, variant) => ({ email, variant })));
    if (seedCopies.length) await journal.claimSeeds(id, seedCopies, this.now());
    const budget = options.errorBudget ?? 50;
    const patience = options.relayPatienceMs ?? RELAY_PATIENCE_MS;
    const window = () => options.batchSize ?? options.concurrency ?? 10;
    // The validity period runs from the start; for the rest of an A/B test's audience, from the winner's choice.
    const validity = options.validityMs ?? 3 * 86_400_000;
    const startedAt = () => Date.parse(delivery!.startedAt ?? this.now().toISOString());
    const validUntilOf = (entry: JournalEntry) =>
      Math.max(startedAt(), entry.variant === null && delivery!.winnerAt ? Date.parse(delivery!.winnerAt) : 0) + validity;
    /** When the next seed copy is due (null: none is left to send). */
    let seedsDueAt: number | null = seedCopies.length ? await this.sendSeedCopies(delivery, messages, startedAt() + validity) : null;
    /** The winner was chosen (here, by another node or by the operator): read the delivery again, for its winner. */
    const reread = async () => {
      delivery = (await deliveries.get(id)) ?? delivery!;
    };
    let failuresInARow = 0;
    let lastReply = '';
    let lastId = 0;
    // Rows with due times (a local time, waves; set before this loop starts) are claimed earliest due first.
    const byDue = await journal.hasDueTimes(id);
    let retriesCheckedAt = -Infinity;
    let inFlight = 0;
    /** Set while the relay cannot be reached: since when, and what is wrong with it. */
    // (Set by the completions, so its type is asserted: the compiler does not follow callbacks.)
    let down = null as { since: Date; relay: string } | null;
    let outOfPatience = false;
    let outcomes: RecordedOutcome[] = [];
    let released: number[] = [];
    /** Claimed rows not yet handed to the messenger (waiting for a slot or the rate). */
    const notHandedOver = new Set<number>();
    /** Set once the loop has returned: outcomes arriving later are not written by it. */
    let ended = false;
    let flushTimer: NodeJS.Timeout | undefined;
    let wake: () => void = () => {};
    const waker = () => wake();
    this.wakers.add(waker);

    // Writes go one after the other: a flush waits for the one before it, so that what the
    // loop reads next (pending counts) includes everything written.
    let writing: Promise<void> = Promise.resolve();
    const flush = (): Promise<void> => {
      clearTimeout(flushTimer);
      flushTimer = undefined;
      if (outcomes.length === 0 && released.length === 0) return writing;
      const recorded = outcomes;
      const back = released;
      outcomes = [];
      released = [];
      writing = writing.then(async () => {
        if (recorded.length) await journal.record(recorded, this.now());
        if (back.length) await journal.release(back, this.now());
        options.onChange(id);
      });
      return writing;
    };
    /**
     * Claims the next group, writing the outcomes that have arrived with it: one transaction
     * instead of two (on SQLite a commit costs about what a group of twenty rows does).
     */
    const claimNext = async (limit: number) => {
      await writing; // a flush under way goes first: writes stay in order
      const recorded = outcomes;
      outcomes = [];
      try {
        const batch = byDue
          ? { entries: await journal.claimDue(id, limit, this.now(), recorded), lastId }
          : await journal.claim(id, lastId, limit, this.now(), recorded);
        if (recorded.length) options.onChange(id);
        return batch;
      } catch (error) {
        // Nothing was written (unless the journal says the outcomes were): they wait for the next write.
        if (!(error instanceof ClaimFailedAfterRecording)) outcomes = recorded.concat(outcomes);
        throw error;
      }
    };
    // Whatever the loop awaits (a message the relay does not answer, say), what has arrived is written within FLUSH_MS.
    const flushSoon = () => {
      flushTimer ??= setTimeout(() => {
        flushTimer = undefined;
        flush().catch((error) =>
          options.log(`delivery ${id}: outcomes could not be written: ${(error as Error).message ?? error}`, {
            level: 'error',
            event: 'outcomes-not-written',
            deliveryId: id,
            err: error,
          }),
        );
      }, FLUSH_MS);
    };
    const giveBack = (entryId: number) => {
      notHandedOver.delete(entryId);
      if (ended) return;
      released.push(entryId);
      flushSoon();
    };
    /** `replaced`: the messenger that answered is no longer the engine's (the settings or the cluster's share changed). */
    const settle = (entry: JournalEntry, outcome: SmtpOutcome, replaced = false) => {
      if (outcome.kind === 'unsent') {
        // Never handed to the relay: back to the queue, no attempt counted. A shutdown, or new settings,
        // closing the pool is not the relay's fault.
        outcomes.push({ id: entry.id, outcome });
        options.observer?.recorded('unsent');
        if (this.stopping || replaced) return flushSoon();
        if (!down) {
          down = { since: this.now(), relay: outcome.relay };
          options.log(`delivery ${id}: ${outcome.relay} (${outcome.reply}); no message is claimed until it answers again.`, {
            level: 'warn',
            event: 'relay-unreachable',
            deliveryId: id,
            relay: outcome.relay,
            reply: outcome.reply,
          });
        }
      } else if (outcome.kind === 'deferred' && outcome.until < validUntilOf(entry)) {
        // A limit of ours (a domain's throttle, a relay's rate): back in the queue until its turn, no attempt, no failure.
        outcomes.push({ id: entry.id, outcome, retryAt: outcome.until });
        options.observer?.recorded('deferred');
        return flushSoon();
      } else if (outcome.kind === 'deferred') {
        const failed: SmtpOutcome = { kind: 'failed', reply: `validity period expired; ${outcome.reply}` };
        outcomes.push({ id: entry.id, outcome: failed });
        options.observer?.recorded('failed');
        options.onOutcome?.(id, entry, failed);
      } else if (outcome.kind === 'retry' && this.now().getTime() < validUntilOf(entry)) {
        const delay = retryDelay(entry.attempts);
        outcomes.push({ id: entry.id, outcome, retryAt: this.now().getTime() + delay });
        options.observer?.recorded('retry');
      } else if (outcome.kind === 'retry') {
        const failed: SmtpOutcome = { kind: 'failed', reply: `validity period expired; last reply: ${outcome.reply}` };
        outcomes.push({ id: entry.id, outcome: failed });
        options.observer?.recorded('failed');
        options.onOutcome?.(id, entry, failed);
      } else {
        outcomes.push({ id: entry.id, outcome });
        options.observer?.recorded(outcome.kind);
        options.onOutcome?.(id, entry, outcome);
      }
      failuresInARow = outcome.kind === 'sent' ? 0 : failuresInARow + 1;
      lastReply = outcome.reply;
      flushSoon();
    };
    const dispatch = (entry: JournalEntry) => {
      inFlight++;
      notHandedOver.add(entry.id);
      void (async () => {
        const release = await this.slots.acquire();
        try {
          if (!release || !(await this.isSending(id))) return giveBack(entry.id);
          await this.rate.take();
          if (!(await this.isSending(id))) return giveBack(entry.id);
          notHandedOver.delete(entry.id);
          const messenger = options.messenger;
          const outcome = await this.sendOne(delivery!, messages, entry, messenger);
          if (!ended) settle(entry, outcome, messenger !== options.messenger);
        } finally {
          release?.();
          inFlight--;
          wake();
        }
      })();
    };
    /** Resolves at the next completion or shutdown, or after `ms` when given. */
    const settled = (ms?: number) =>
      new Promise<void>((resolve) => {
        if (ms === undefined) return void (wake = resolve);
        const timer = setTimeout(resolve, ms);
        wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    /** Returns null when the relay can be reached again, the trouble when not, or undefined when woken by a shutdown. */
    const probe = (): Promise<UnsentOutcome | null | undefined> => {
      const messenger = options.messenger; // the current one: the settings may have switched relays meanwhile
      if (!messenger.probe) return Promise.resolve(null);
      return Promise.race([messenger.probe(), settled().then(() => undefined)]);
    };

    try {
      while ((await this.isSending(id)) && failuresInARow < budget) {
        if (down) {
          // The relay cannot be reached: claim nothing, let what is in flight come back, then
          // ask every PROBE_MS whether it can be reached again.
          if (inFlight > 0) {
            await settled();
            continue;
          }
          await flush();
          if (this.now().getTime() - down.since.getTime() >= patience) {
            outOfPatience = true;
            break;
          }
          await settled(PROBE_MS);
          if (!(await this.isSending(id))) break;
          const trouble = await probe();
          if (trouble === undefined) continue;
          if (trouble) {
            failuresInARow++;
            lastReply = trouble.reply;
            down.relay = trouble.relay;
            continue;
          }
          options.log(`delivery ${id}: the relay answers again; sending resumes.`, {
            level: 'info',
            event: 'relay-answers',
            deliveryId: id,
          });
          down = null;
          lastId = 0; // the rows that came back unsent lie behind the keyset
          continue;
        }
        let claimed = 0;
        // Claim in groups (when half the window is free): one query per group, not per message.
        if (inFlight <= window() / 2) {
          let entries: JournalEntry[] = [];
          // Not before every group: a query each time would find nothing nearly always.
          if (this.now().getTime() - retriesCheckedAt >= RETRY_CHECK_MS) {
            retriesCheckedAt = this.now().getTime();
            if (seedsDueAt !== null && seedsDueAt <= retriesCheckedAt) {
              seedsDueAt = await this.sendSeedCopies(delivery, messages, startedAt() + validity);
            }
            entries = await journal.claimRetries(id, window() - inFlight, this.now());
          }
          if (entries.length === 0) {
            // A local time's window missed (a pause, the relay down): those rows wait for tomorrow's, never go at another hour.
            if (delivery.sendWindowMs) {
              const moved = await journal.deferMissed(id, delivery.sendWindowMs, this.now());
              if (moved > 0) {
                options.log(`delivery ${id}: ${moved} messages missed their local sending window; they wait for the same time tomorrow.`, {
                  level: 'info',
                  event: 'window-missed',
                  deliveryId: id,
                  messages: moved,
                });
              }
            }
            const batch = await claimNext(window() - inFlight);
            entries = batch.entries;
            if (batch.lastId !== lastId) {
              lastId = batch.lastId;
              if (entries.length === 0) continue; // the whole batch was suppressed: claim the next one
            }
          }
          // Rows of an A/B test's rest are queued only once the winner is chosen: one claimed before this loop heard of it reads it first.
          if (delivery.experiment && (delivery.winner ?? null) === null && entries.some((e) => e.variant === null)) await reread();
          for (const entry of entries) dispatch(entry);
          claimed = entries.length;
        }
        if (claimed === 0 && inFlight === 0) {
          retriesCheckedAt = -Infinity; // nothing else to claim: look for retries at once
          await flush();
          const pending = await journal.pending(id, this.now());
          // An A/B test's rest waits for the winner: chosen once the wait is over, whatever else is pending.
          if (pending.held > 0 && delivery.experiment && (delivery.winner ?? null) === null && (await this.chooseWinnerIfDue(delivery))) {
            await reread();
            lastId = 0;
            continue;
          }
          // Every recipient's message is done but a seed copy is still to go (the relay refused it for now): it is waited for.
          if (seedsDueAt !== null && pending.queued + pending.retrying + pending.sending + pending.held + pending.waiting === 0) {
            await settled(Math.min(1000, Math.max(50, seedsDueAt - this.now().getTime())));
            continue;
          }
          if (pending.queued + pending.retrying + pending.sending + pending.held + pending.waiting === 0) {
            // Nobody is skipped silently: messages whose outcome is unknown wait for the operator.
            // With several nodes, the one that sees it first ends the delivery; the others' transitions are refused.
            if (pending.unknown > 0) {
              const reason = `${pending.unknown} messages were in flight when the server stopped; choose whether to resend them.`;
              if ((await deliveries.transition(id, 'paused', this.now(), { reason })).ok) {
                options.log(`delivery ${id}: paused: ${reason}`, { level: 'warn', event: 'delivery-paused', deliveryId: id, reason });
              }
            } else if ((await deliveries.transition(id, 'completed', this.now())).ok) {
              options.log(`delivery ${id}: completed.`, { level: 'info', event: 'delivery-completed', deliveryId: id });
            }
            options.onChange(id);
            return;
          }
          if (pending.queued > 0) {
            lastId = 0; // rows released by a pause lie behind the keyset: start over
            if (delivery.experiment && (delivery.winner ?? null) === null) await reread(); // the held rows were released
            continue;
          }
          if (pending.held > 0 && pending.retrying + pending.sending + pending.waiting === 0) {
            await settled(WINNER_CHECK_MS);
            continue;
          }
          // Rows due later (a local time, a later wave): wait for the first of them, a second at most at a time.
          if (pending.waiting > 0 && pending.retrying + pending.sending === 0) {
            await settled(Math.min(1000, Math.max(50, (pending.nextDueAt ?? 0) - this.now().getTime())));
            lastId = 0;
            continue;
          }
          // Rows in flight on another node (several nodes send one delivery): wait for them.
          if (pending.sending > 0 && pending.retrying === 0) {
            await settled(200);
            continue;
          }
          await settled(Math.min(1000, Math.max(50, (pending.nextRetryAt ?? 0) - this.now().getTime())));
          continue;
        }
        if (claimed === 0 || inFlight > window() / 2) await settled();
        if (outcomes.length >= window()) await flush();
      }
      // Paused, stopped, shutting down, over the error budget or out of patience with the
      // relay: let what is in flight finish (a shutdown stops waiting after its grace).
      while (inFlight > 0 && !this.abandoned) await settled();
      ended = true;
      if (inFlight > 0) {
        // Abandoned by a shutdown: rows never handed over go back to the queue; the others stay `sending`.
        for (const entryId of notHandedOver) released.push(entryId);
        this.abandonedMessages += inFlight - notHandedOver.size;
      }
      await flush();
      if (failuresInARow >= budget || outOfPatience) {
        const reason = down
          ? `${down.relay} since ${clock(down.since)}; paused after ${failuresInARow} attempts (last error: ${lastReply}). Check the relay, then resume.`
          : `Paused by the error budget: ${failuresInARow} messages in a row were not accepted (last reply: ${lastReply}). Check the relay, then resume.`;
        await deliveries.transition(id, 'paused', this.now(), { reason });
        options.log(`delivery ${id}: paused: ${reason}`, { level: 'warn', event: 'delivery-paused', deliveryId: id, reason });
        options.onChange(id);
      }
    } finally {
      ended = true;
      clearTimeout(flushTimer);
      this.wakers.delete(waker);
    }
  }

  /**
   * With an A/B test whose wait is over: chooses the winner by the test's criterion (the
   * first variant when none is clearly better) and releases the rest of the audience. Returns
   * true once a winner is known (chosen here, or by another node or the operator first).
   */
  private async chooseWinnerIfDue(delivery: EngineDelivery): Promise<boolean> {
    const experiment = delivery.experiment!;
    const due = Date.parse(delivery.startedAt ?? '') + experiment.waitHours * 3_600_000;
    if (!(this.now().getTime() >= due)) return false;
    const { journal, log, onChange } = this.options;
    const { winner, reason } = decideWinner(experiment.criterion, await journal.variantFigures(delivery.id, variantCount(experiment)));
    if (await journal.chooseWinner(delivery.id, winner, reason, this.now())) {
      log(`delivery ${delivery.id}: the A/B test's wait is over; variant ${VARIANT_NAMES[winner]} goes to the rest. ${reason}`, {
        level: 'info',
        event: 'winner-chosen',
        deliveryId: delivery.id,
        winner: VARIANT_NAMES[winner],
        reason,
      });
      onChange(delivery.id);
    }
    return true;
  }

  /**
   * Sends the seed copies due now: each seed address gets a copy of every variant, rendered
   * with no profile's values (each field's default: no recipient's data goes to a seed inbox,
   * often a third party's), marked `X-Mailroom-Seed`, with tracking and unsubscribe links that
   * name no recipient (journal row 0: they work, and count nothing). What became of each is
   * kept apart from the journal. A copy the relay refuses for now is tried again as a message
   * is (30 s, doubling, within the validity period); while the relay cannot be reached the
   * copies wait, no attempt counted. Returns when the next copy is due (null: none is left).
   */
  private async sendSeedCopies(delivery: EngineDelivery, messages: Compiled[], validUntil: number): Promise<number | null> {
    const { journal, log } = this.options;
    const samples = new Map<number, JournalEntry | undefined>();
    let sent = 0;
    let unreachable: string | null = null;
    // A round is bounded (a relay that answers slowly, a hundred seeds): what is left waits for the next, and the loop hears a Pause.
    const roundStarted = performance.now();
    for (const copy of await journal.takeSeedCopies(delivery.id, this.now())) {
      const v = copy.variant;
      const record = (status: SeedCopy['status'], reply: string, counted: boolean, nextAttemptAt: number | null = null) =>
        journal.recordSeed(delivery.id, { ...copy, status, reply, at: this.now().toISOString(), counted, nextAttemptAt });
      // The relay could not be reached for the copy before: the others wait with it, untried.
      if (unreachable !== null) {
        await record('retrying', `not tried: ${unreachable}`, false, this.now().getTime() + RETRY_BASE_MS);
        continue;
      }
      if (performance.now() - roundStarted > (this.options.seedRoundMs ?? SEED_ROUND_MS)) {
        await record('retrying', 'not tried yet: it goes with the next seed copies', false, this.now().getTime());
        continue;
      }
      if (!samples.has(v)) {
        samples.set(
          v,
          (await journal.seedSample(delivery.id, delivery.experiment ? v : null)) ?? (await journal.seedSample(delivery.id, null)),
        );
      }
      const sample = samples.get(v);
      if (!sample || !messages[v]) {
        await record('failed', 'the delivery has no recipient to make the copy from', false);
        continue;
      }
      const subject = messages[v].message.subject.render({}, 'header', this.now());
      const entry: JournalEntry = { ...sample, id: 0, email: copy.email, subject, values: {}, variant: v };
      // The same Message-ID at every attempt: a copy tried again is one message.
      const name = `seed-${v}-${Math.max(0, (delivery.seeds ?? []).indexOf(copy.email))}`;
      const outcome = await this.sendOne(delivery, messages, entry, this.options.messenger, name);
      const now = this.now().getTime();
      // A seed copy is no recipient's message: it is tried SEED_MAX_ATTEMPTS times (about half an hour), the relay reached or
      // not, so that a seed never keeps a delivery sending for days.
      const again = now + retryDelay(copy.attempts);
      const last = copy.attempts + 1 >= SEED_MAX_ATTEMPTS;
      if (outcome.kind === 'unsent') unreachable = outcome.reply;
      if (outcome.kind === 'sent') {
        sent++;
        await record('sent', outcome.reply, true);
      } else if ((outcome.kind === 'unsent' || outcome.kind === 'retry') && last) {
        await record('failed', `gave up after ${SEED_MAX_ATTEMPTS} tries; last reply: ${outcome.reply}`, true);
      } else if (outcome.kind === 'unsent') {
        await record('retrying', outcome.reply, true, again);
      } else if (outcome.kind === 'deferred' && outcome.until < validUntil) {
        await record('retrying', outcome.reply, false, outcome.until);
      } else if (outcome.kind === 'retry' && now < validUntil) {
        await record('retrying', outcome.reply, true, again);
      } else if (outcome.kind === 'retry' || outcome.kind === 'deferred') {
        await record('failed', `validity period expired; last reply: ${outcome.reply}`, true);
      } else {
        await record('failed', outcome.reply, true);
      }
    }
    if (sent > 0) {
      log(`delivery ${delivery.id}: ${sent} seed cop${sent === 1 ? 'y' : 'ies'} sent to ${(delivery.seeds ?? []).join(', ')}.`, {
        level: 'info',
        event: 'seeds-sent',
        deliveryId: delivery.id,
        copies: sent,
      });
    }
    const left = await journal.seedsPending(delivery.id);
    if (left.count === 0) return null;
    // Copies in flight on another node, or waiting: look again when the first is due.
    return left.nextAt ?? this.now().getTime() + RETRY_BASE_MS;
  }

  /** `seed`: a seed copy, marked so, with a Message-ID of its own (its row, 0, is no recipient's). */
  private async sendOne(
    delivery: EngineDelivery,
    messages: Compiled[],
    entry: JournalEntry,
    messenger: Messenger,
    seed?: string,
  ): Promise<SmtpOutcome> {
    try {
      // A row of an A/B test's rest has no variant of its own: it gets the winner, whose subject is rendered now.
      const { message, content } = messages[entry.variant ?? delivery.winner ?? 0] ?? messages[0];
      if (entry.variant === null && delivery.experiment)
        entry = { ...entry, subject: message.subject.render(entry.values, 'header', this.now()) };
      const outgoing = await this.options.compose(content, message, entry);
      if (seed) {
        outgoing.headers['X-Mailroom-Seed'] = 'yes';
        outgoing.messageId = `<${seed}.${delivery.id}${outgoing.messageId.slice(outgoing.messageId.indexOf('@'))}`;
      }
      const handedOver = performance.now();
      const outcome = await messenger.send(outgoing);
      this.options.observer?.answered(outcome.kind, (performance.now() - handedOver) / 1000);
      return outcome;
    } catch (error) {
      // One bad message never stops the loop: it fails on its own, with the reason.
      this.options.log(`delivery ${delivery.id}, recipient ${entry.id}: ${(error as Error).message}`, {
        level: 'error',
        event: 'message-not-sent',
        deliveryId: delivery.id,
        recipient: entry.id,
        err: error,
      });
      return { kind: 'failed' as const, reply: `not sent: ${(error as Error).message}` };
    }
  }

  /**
   * Returns the delivery's content and message, compiled once per variant (A's alone without a
   * test), or undefined when one does not compile.
   */
  private messages(delivery: EngineDelivery): Compiled[] | undefined {
    let messages = this.compiled.get(delivery.id);
    if (!messages) {
      messages = [];
      // Every variant of the content: an A/B test's, or the translations (variant k + 1 is translation k).
      const variants = contentVariants(delivery);
      for (let v = 0; v < variantCount(variants); v++) {
        const content = variantContent(delivery, variants, v);
        const result = compileMessage(content);
        if (!result.ok) return undefined;
        messages.push({ content, message: result.message });
      }
      this.compiled.set(delivery.id, messages);
    }
    return messages;
  }
}

/** A variant's content (the delivery's, with the variant's changes) and its message, compiled. */
interface Compiled {
  content: EngineDelivery;
  message: CompiledMessage;
}

/** A counting semaphore: at most `size` holders at once, served in arrival order. */
class Semaphore {
  private waiting: ((granted: boolean) => void)[] = [];
  private closed = false;
  constructor(private free: number) {}

  /** Returns the release of a slot once one is free, or null once the semaphore is closed. */
  async acquire(): Promise<(() => void) | null> {
    if (this.closed) return null;
    if (this.free > 0) this.free--;
    else if (!(await new Promise<boolean>((resolve) => this.waiting.push(resolve)))) return null;
    return () => {
      const next = this.waiting.shift();
      if (next) next(true);
      else this.free++;
    };
  }

  /** Answers every waiter, and every later call, with null (a shutdown). */
  close(): void {
    this.closed = true;
    for (const waiter of this.waiting.splice(0)) waiter(false);
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

/** Returns the local time of day, 14:02. */
const clock = (at: Date) => at.toTimeString().slice(0, 5);
