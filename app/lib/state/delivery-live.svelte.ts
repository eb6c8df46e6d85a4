/**
 * Live figures of a delivery the server is sending, over Server-Sent Events. Every update is
 * also written to Dexie, so the last figures (and their time) are shown when offline.
 */

import type { SendKpis } from '$shared/types';
import type { MailroomDb } from '../db/db';

export class DeliveryLive {
  #connected = $state(false);

  constructor(
    private readonly db: MailroomDb,
    private readonly deliveryId: string,
  ) {}

  /** True while the stream is open; false while it reconnects (offline, server restart). */
  get connected() {
    return this.#connected;
  }

  /** Opens the stream; returns the function that closes it. EventSource reconnects by itself. */
  open(): () => void {
    const source = new EventSource(`/api/deliveries/${encodeURIComponent(this.deliveryId)}/events`);
    source.onopen = () => (this.#connected = true);
    source.onerror = () => (this.#connected = false);
    source.addEventListener('kpis', (event) => {
      this.#connected = true;
      const kpis = JSON.parse((event as MessageEvent<string>).data) as SendKpis;
      void this.db.deliveries.update(this.deliveryId, { server: kpis });
    });
    return () => {
      source.close();
      this.#connected = false;
    };
  }
}
