/**
 * One delivery's dashboard: its data from Dexie, its derived state, and the actions a
 * marketer takes on it (prepare, stop preparation, send or schedule, cancel a waiting send,
 * unschedule, pause, resume, stop).
 *
 * What it tells the marketer belongs to the state it was said in: a message is shown while
 * the delivery is in that state (same status, same version, same preparation) and goes the
 * moment any of them changes, so no banner outlives what it was about.
 */

import { createSubscriber } from 'svelte/reactivity';
import { i18n, m } from '$lib/i18n.svelte';
import { withoutIncomplete } from '$shared/audience-filter';
import { audienceFields } from '$shared/profile-fields';
import { isFinal } from '$shared/status';
import type { DeliveryContent, SendKpis } from '$shared/types';
import { client, refusalOf } from '../api';
import type { SendItem } from '../db/db';
import { recordPreparation, saveContent } from '../db/deliveries';
import { storeDocs, workTables } from '../db/work';
import { approvalState, isLocked, type ApprovalState, type WorkDoc } from '$shared/work';
import { session } from './session.svelte';
import { db } from '../db/instance';
import { deliveryState, formatWhen, type DeliveryState } from '../delivery-state';
import { cancelPreparation, countAudience, prepareInWorker, type PrepareProgress } from '../worker/preparation-client';
import { outbox, replica, work } from './app';
import { currentHash, typologyById } from './typologies.svelte';
import { LiveQuery } from './live-query.svelte';

type Tone = 'info' | 'error';

export class DeliveryDashboard {
  readonly delivery;
  readonly preparation;
  readonly outboxItem;
  #preparing = $state(false);
  #progress = $state.raw<PrepareProgress>({ scanned: 0, total: 0 });
  /** `text` is read when shown, so a message in words follows a change of language. */
  #message = $state.raw<{ tone: Tone; text: () => string; stamp: string } | null>(null);
  #sending = $state(false);

  /** The time, read again every second while something shows it (a countdown, a time that passes). */
  readonly #tick = createSubscriber((update) => {
    const timer = setInterval(update, 1000);
    return () => clearInterval(timer);
  });
  readonly #connectivity = createSubscriber((update) => {
    window.addEventListener('online', update);
    window.addEventListener('offline', update);
    return () => {
      window.removeEventListener('online', update);
      window.removeEventListener('offline', update);
    };
  });

  constructor(readonly id: string) {
    this.delivery = new LiveQuery(() => db.deliveries.get(id));
    this.preparation = new LiveQuery(() => db.preparations.get(id));
    this.outboxItem = new LiveQuery(
      () =>
        db.outbox
          .where('deliveryId')
          .equals(id)
          .filter((item): item is SendItem => item.kind === 'send')
          .first() as Promise<SendItem | undefined>,
    );
  }

  get preparing() {
    return this.#preparing;
  }
  get progress() {
    return this.#progress;
  }
  /** Now, in ms; reading it keeps a one-second clock running. */
  get now(): number {
    this.#tick();
    return Date.now();
  }
  /** Whether the browser has a network; follows online and offline events. */
  get online(): boolean {
    this.#connectivity();
    return navigator.onLine;
  }
  /** The last thing to tell the marketer about an action, while the state it was said in lasts. */
  get message(): { tone: Tone; text: string } | null {
    const message = this.#message;
    return message && message.stamp === this.#stamp() ? { tone: message.tone, text: message.text() } : null;
  }

  readonly state: DeliveryState | null = $derived.by(() => {
    const delivery = this.delivery.current;
    if (!delivery) return null;
    return deliveryState({
      server: delivery.server,
      outbox: this.outboxItem.current,
      preparation: this.preparation.current,
      currentHash: currentHash(delivery),
    });
  });

  /** Handed to the server (on any device): its content is the server's now, on every device. */
  readonly locked = $derived.by(() => isLocked(this.delivery.current?.sync.serverStatus ?? null));
  /** The signed-in role may change deliveries (a viewer reads them). */
  readonly mayWork = $derived(session.can('work'));
  readonly editable = $derived(
    this.state !== null && this.state.kind !== 'server' && this.state.kind !== 'outbox' && !this.#preparing && !this.locked && this.mayWork,
  );
  /** Who prepared the delivery last (on any device), as the team's document says; this operator while not pushed yet. */
  readonly preparedBy: string | null = $derived.by(() => {
    const sync = this.delivery.current?.sync;
    if (!sync || !this.delivery.current?.prepared) return null;
    return sync.pending.preparation ? session.user : (sync.stamps.preparation?.by ?? null);
  });
  /** Whether a Send of the preparation at hand waits for an approval (the typology asks for one). */
  readonly approval: ApprovalState = $derived.by(() => {
    const delivery = this.delivery.current;
    const typology = delivery ? typologyById(delivery.typologyId) : undefined;
    return approvalState({
      requiresApproval: typology?.requiresApproval === true,
      approval: delivery?.sync.approval ?? null,
      preparedBy: this.preparedBy,
      contentHash: this.preparation.current?.contentHash ?? delivery?.prepared?.contentHash ?? '',
    });
  });
  /** This operator may approve: the typology asks, someone else prepared it, and the team has its preparation. */
  readonly canApprove = $derived.by(
    () =>
      this.approval.kind === 'waiting' &&
      this.mayWork &&
      !!this.delivery.current?.prepared &&
      !this.delivery.current.sync.pending.preparation &&
      this.preparedBy !== null &&
      this.preparedBy !== session.user,
  );
  readonly serverStatus = $derived(this.state?.kind === 'server' ? this.state.status : null);
  /** When the delivery is to be sent (its Send at), or null to send on click. */
  readonly scheduledAt: Date | null = $derived.by(() => {
    const at = this.delivery.current?.scheduledAt;
    return at ? new Date(at) : null;
  });
  /** True once the Send at of a delivery not yet handed over has come: it can no longer be scheduled. */
  get schedulePassed(): boolean {
    return this.scheduledAt !== null && this.state?.kind !== 'server' && this.scheduledAt.getTime() <= this.now;
  }
  /** Send (or Schedule, with a Send at) is possible: prepared, and a Send at still ahead. */
  get canSend(): boolean {
    return (
      this.state?.kind === 'prepared' &&
      !this.#preparing &&
      !this.#sending &&
      !this.schedulePassed &&
      this.mayWork &&
      this.approval.kind !== 'waiting'
    );
  }
  readonly canCancelSend = $derived(this.state?.kind === 'outbox' && this.state.item.state !== 'refused' && this.mayWork);
  readonly canUnschedule = $derived(this.serverStatus === 'scheduled' && this.mayWork);
  readonly canPause = $derived((this.serverStatus === 'sending' || this.serverStatus === 'scheduled') && this.mayWork);
  readonly canResume = $derived(this.serverStatus === 'paused' && this.mayWork);
  readonly canStop = $derived(this.serverStatus !== null && !isFinal(this.serverStatus) && this.mayWork);

  /** A failed preparation's reason: its first error line (where and what), and how many more there are. */
  readonly failure = $derived.by(() => {
    const preparation = this.preparation.current;
    if (this.state?.kind !== 'failed' || !preparation) return null;
    // The last line is the summary ("Preparation failed: 1 error, …"): the reason is before it.
    const errors = preparation.log.slice(0, -1).filter((line) => line.level === 'error');
    return errors.length ? { reason: errors[0].message, more: errors.length - 1 } : null;
  });

  /**
   * The profiles the audience targets, counted in the worker, when a failed preparation
   * stopped before counting them (a template error or a failing control rule stops it before
   * the scan); null when the preparation's own Targeted stands.
   */
  readonly failedTarget: Promise<number> | null = $derived.by(() => {
    const delivery = this.delivery.current;
    const preparation = this.preparation.current;
    if (this.state?.kind !== 'failed' || !delivery || !preparation || preparation.kpis.targeted > 0) return null;
    return countAudience(delivery.audience);
  });

  /** Saves edited content. A batch the server only holds (prepared, never sent) does not stop an edit: the next Send replaces it. */
  async save(content: DeliveryContent, bases: Record<string, string | null> = {}): Promise<boolean> {
    if (!this.editable) return false;
    if (this.delivery.current?.server?.status === 'prepared') await db.deliveries.update(this.id, { server: null });
    await saveContent(db, this.id, content, new Date(), bases);
    return true;
  }

  /** Runs the preparation in the worker; the results land in Dexie and the page follows. */
  async prepare(): Promise<void> {
    // Read afresh: the edit saved just before may not have reached the live query yet.
    const delivery = await db.deliveries.get(this.id);
    if (delivery && withoutIncomplete(delivery.audience, audienceFields(replica.schema)).ignored > 0) {
      this.#say('error', () => m.worker_incomplete_condition());
      return;
    }
    this.#preparing = true;
    this.#message = null;
    this.#progress = { scanned: 0, total: 0 };
    try {
      const outcome = await prepareInWorker(this.id, (progress) => (this.#progress = progress), i18n.locale);
      if (!outcome.ok) this.#say(outcome.code === 'cancelled' ? 'info' : 'error', outcome.message);
      const prepared = await db.preparations.get(this.id);
      if (outcome.ok && prepared?.status === 'prepared') {
        // The team sees what was prepared, and by whom: an approval names this content hash.
        const { targeted, toDeliver, excluded } = prepared.kpis;
        await recordPreparation(db, this.id, {
          contentHash: prepared.contentHash,
          preparedAt: prepared.preparedAt,
          targeted,
          toDeliver,
          excluded,
        });
        work.soon();
      }
    } catch (error) {
      this.#say('error', () => m.worker_could_not_run({ message: (error as Error).message }));
    } finally {
      this.#preparing = false;
    }
  }

  async stopPreparation(): Promise<void> {
    await cancelPreparation(this.id);
  }

  /**
   * Queues the prepared batch in the outbox, to send now or at its Send at; it reaches the
   * server now, or when online. A Send at that has passed is refused here, before anything
   * is queued: a scheduled delivery is never sent at another time than the one chosen.
   */
  async send(): Promise<void> {
    const delivery = this.delivery.current;
    const preparation = this.preparation.current;
    if (!delivery || !preparation || this.state?.kind !== 'prepared' || this.#sending) return;
    if (delivery.scheduledAt && Date.parse(delivery.scheduledAt) <= Date.now()) {
      const when = new Date(delivery.scheduledAt);
      this.#say('error', () => m.worker_schedule_passed({ when: formatWhen(when) }));
      return;
    }
    this.#sending = true;
    try {
      await outbox.enqueueSend(this.id, preparation.contentHash, delivery.scheduledAt);
    } finally {
      this.#sending = false;
    }
  }

  /** Approves the team's latest preparation of the delivery (another operator prepared it). */
  async approve(): Promise<void> {
    const contentHash = this.delivery.current?.prepared?.contentHash;
    if (!contentHash) return;
    const answer = await this.call<{ doc: WorkDoc }>(() =>
      fetch(`/api/work/${encodeURIComponent(this.id)}/approve`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ contentHash }),
      }),
    );
    if (!answer) return;
    await db.transaction('rw', workTables(db), () => storeDocs(db, [answer.doc]));
    this.#say('info', () => m.worker_approved());
  }

  /** Takes a Send waiting in the outbox back, unless it is reaching the server right now. */
  async cancelSend(): Promise<void> {
    const outcome = await outbox.cancelSend(this.id);
    if (outcome.ok) this.#say('info', outcome.message, 'prepared');
    else this.#say('error', outcome.message);
  }

  /** Takes a scheduled delivery back to prepared (a server command); it can then be sent, or scheduled again. */
  async unschedule(): Promise<void> {
    const kpis = await this.call<SendKpis>(() => client.api.deliveries[':id'].unschedule.$post({ param: { id: this.id } }));
    if (!kpis) return;
    await db.deliveries.update(this.id, { server: null });
    this.#say('info', () => m.worker_unscheduled(), 'prepared');
  }

  pause = () => this.command('pause');
  resume = () => this.command('resume');
  stop = () => this.command('stop');

  /** Resends (or cancels) the messages whose outcome is unknown after a server crash. */
  async settleUnknown(resend: boolean): Promise<void> {
    await this.call(() => client.api.deliveries[':id'].unknown.$post({ param: { id: this.id }, json: { resend } }));
  }

  /** What identifies the state a message is said in; `kind` names the state an action leads to. */
  #stamp(kind: DeliveryState['kind'] | undefined = this.state?.kind): string {
    const state = this.state;
    const status = kind === 'server' && state?.kind === 'server' ? state.status : '';
    return [kind, status, this.delivery.current?.version, this.preparation.current?.preparedAt].join('|');
  }

  /** Says `text` (a sentence as it came, or the words to say it in whichever language is chosen when shown). */
  #say(tone: Tone, text: string | (() => string), kind?: DeliveryState['kind']): void {
    this.#message = { tone, text: typeof text === 'string' ? () => text : text, stamp: this.#stamp(kind) };
  }

  private async command(name: 'pause' | 'resume' | 'stop'): Promise<void> {
    const route = client.api.deliveries[':id'][name];
    const kpis = await this.call<SendKpis>(() => route.$post({ param: { id: this.id } }));
    if (kpis) await db.deliveries.update(this.id, { server: kpis });
  }

  private async call<T>(request: () => Promise<Response>): Promise<T | undefined> {
    this.#message = null;
    try {
      const response = await request();
      if (response.ok) return (await response.json()) as T;
      this.#say('error', (await refusalOf(response)).message);
    } catch {
      this.#say('error', () => m.worker_needs_network());
    }
    return undefined;
  }
}
