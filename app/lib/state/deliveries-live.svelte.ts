/**
 * Live figures of every delivery the server holds, for the list of deliveries, over one
 * Server-Sent Events stream. Figures are written to Dexie (shown offline with their time).
 */

import type { SendKpis } from '$shared/types';
import type { MailroomDb } from '../db/db';

export class DeliveriesLive {
  #connected = $state(false);

  constructor(private readonly db: MailroomDb) {}

  get connected() {
    return this.#connected;
  }

  /** Opens the stream; returns the function that closes it. EventSource reconnects by itself. */
  open(): () => void {
    const source = new EventSource('/api/deliveries/events');
    source.onopen = () => (this.#connected = true);
    source.onerror = () => (this.#connected = false);
    source.addEventListener('deliveries', (event) => {
      this.#connected = true;
      const changed = JSON.parse((event as MessageEvent<string>).data) as { id: string; kpis: SendKpis }[];
      void this.db.transaction('rw', this.db.deliveries, async () => {
        // Only deliveries this device knows: the list shows the drafts made here.
        for (const { id, kpis } of changed) await this.db.deliveries.update(id, { server: kpis });
      });
    });
    return () => {
      source.close();
      this.#connected = false;
    };
  }
}
