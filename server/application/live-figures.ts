/**
 * Live figures for every viewer of this node: a delivery's dashboard, and the list of
 * deliveries. Changes come from the live bus (from any node); each change of a delivery is
 * turned into figures once, however many viewers watch it, and handed to each of them.
 */

import type { SendKpis } from '../../shared/types';
import type { LiveBus } from '../live/live-bus';
import type { DeliveryStore } from '../store/deliveries';

export type FiguresListener = (kpis: SendKpis) => void;
export type ListListener = (changed: { id: string; kpis: SendKpis }[]) => void;

export class LiveFigures {
  private readonly byDelivery = new Map<string, Set<FiguresListener>>();
  private readonly lists = new Set<ListListener>();
  private stopListening: (() => void) | null = null;

  constructor(
    private readonly deliveries: DeliveryStore,
    private readonly bus: LiveBus,
    private readonly now: () => Date,
  ) {}

  /** Resolves the figures now; undefined for a delivery the server does not have. */
  figures(id: string): Promise<SendKpis | undefined> {
    return this.deliveries.kpis(id, this.now());
  }

  /** Resolves every delivery's figures, newest first. */
  async all(): Promise<{ id: string; kpis: SendKpis }[]> {
    const list = await this.deliveries.list();
    const figures = await Promise.all(list.map((d) => this.figures(d.id)));
    return list.flatMap((d, i) => (figures[i] ? [{ id: d.id, kpis: figures[i] }] : []));
  }

  /** Calls `listener` with the delivery's figures each time they change; returns the function that stops it. */
  watch(id: string, listener: FiguresListener): () => void {
    let set = this.byDelivery.get(id);
    if (!set) this.byDelivery.set(id, (set = new Set()));
    set.add(listener);
    this.listen();
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byDelivery.delete(id);
    };
  }

  /** Calls `listener` with the figures of the deliveries that changed, each time some do; returns the function that stops it. */
  watchList(listener: ListListener): () => void {
    this.lists.add(listener);
    this.listen();
    return () => void this.lists.delete(listener);
  }

  close(): void {
    this.stopListening?.();
    this.stopListening = null;
    this.byDelivery.clear();
    this.lists.clear();
  }

  private listen(): void {
    this.stopListening ??= this.bus.subscribe('*', (ids) => void this.changed(ids));
  }

  /** Reads each changed delivery's figures once, for all of its viewers and the lists'. */
  private async changed(ids: readonly string[]): Promise<void> {
    const watched = ids.filter((id) => this.lists.size > 0 || this.byDelivery.has(id));
    if (watched.length === 0) return;
    const figures = await Promise.all(watched.map((id) => this.figures(id).catch(() => undefined)));
    const changed: { id: string; kpis: SendKpis }[] = [];
    watched.forEach((id, i) => {
      const kpis = figures[i];
      if (!kpis) return;
      changed.push({ id, kpis });
      for (const listener of this.byDelivery.get(id) ?? []) listener(kpis);
    });
    if (changed.length) for (const listener of this.lists) listener(changed);
  }
}
