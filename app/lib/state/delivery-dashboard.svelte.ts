/**
 * One delivery's dashboard: its data from Dexie, its derived state, and the actions a
 * marketer takes on it (prepare, stop preparation, send, pause, resume, stop).
 */

import { isFinal } from '$shared/status';
import type { SendKpis } from '$shared/types';
import { client, refusalOf } from '../api';
import type { SendItem } from '../db/db';
import { db } from '../db/instance';
import { deliveryState, type DeliveryState } from '../delivery-state';
import { cancelPreparation, prepareInWorker, type PrepareProgress } from '../worker/preparation-client';
import { outbox } from './app';
import { currentHash } from './typologies.svelte';
import { LiveQuery } from './live-query.svelte';

export class DeliveryDashboard {
  readonly delivery;
  readonly preparation;
  readonly outboxItem;
  #preparing = $state(false);
  #progress = $state.raw<PrepareProgress>({ scanned: 0, total: 0 });
  #message = $state<{ tone: 'info' | 'error'; text: string } | null>(null);

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
  /** The last thing to tell the marketer about an action (a refusal, a cancellation). */
  get message() {
    return this.#message;
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

  readonly editable = $derived(this.state !== null && this.state.kind !== 'server' && this.state.kind !== 'outbox' && !this.#preparing);
  readonly canSend = $derived(this.state?.kind === 'prepared' && !this.#preparing);
  readonly serverStatus = $derived(this.state?.kind === 'server' ? this.state.status : null);
  readonly canPause = $derived(this.serverStatus === 'sending' || this.serverStatus === 'scheduled');
  readonly canResume = $derived(this.serverStatus === 'paused');
  readonly canStop = $derived(this.serverStatus !== null && !isFinal(this.serverStatus));

  /** Runs the preparation in the worker; the results land in Dexie and the page follows. */
  async prepare(): Promise<void> {
    this.#preparing = true;
    this.#message = null;
    this.#progress = { scanned: 0, total: 0 };
    try {
      const outcome = await prepareInWorker(this.id, (progress) => (this.#progress = progress));
      if (!outcome.ok) this.#message = { tone: outcome.code === 'cancelled' ? 'info' : 'error', text: outcome.message };
    } catch (error) {
      this.#message = { tone: 'error', text: `The preparation could not run: ${(error as Error).message}` };
    } finally {
      this.#preparing = false;
    }
  }

  async stopPreparation(): Promise<void> {
    await cancelPreparation(this.id);
  }

  /** Queues the prepared batch in the outbox; it reaches the server now, or when online. */
  async send(): Promise<void> {
    const delivery = this.delivery.current;
    const preparation = this.preparation.current;
    if (!delivery || !preparation || this.state?.kind !== 'prepared') return;
    await outbox.enqueueSend(this.id, preparation.contentHash, delivery.scheduledAt);
    this.#message = navigator.onLine ? null : { tone: 'info', text: 'You are offline: the delivery will send when online.' };
  }

  pause = () => this.command('pause');
  resume = () => this.command('resume');
  stop = () => this.command('stop');

  /** Resends (or cancels) the messages whose outcome is unknown after a server crash. */
  async settleUnknown(resend: boolean): Promise<void> {
    await this.call(() => client.api.deliveries[':id'].unknown.$post({ param: { id: this.id }, json: { resend } }));
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
      this.#message = { tone: 'error', text: (await refusalOf(response)).message };
    } catch {
      this.#message = { tone: 'error', text: 'The server cannot be reached: this needs the network. Try again when online.' };
    }
    return undefined;
  }
}
