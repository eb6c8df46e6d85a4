/**
 * Live figures: who is watching which delivery, and a coalescing notifier. Many changes in a
 * short time (a batch of outcomes, a burst of opens) become one update per interval.
 */

/** Hears of changes; a listener of '*' is told which deliveries changed. */
export type Listener = (changed: readonly string[]) => void;

export class LiveBus {
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  /** @param intervalMs the shortest time between two updates of one delivery */
  constructor(private readonly intervalMs = 250) {}

  /** Registers a listener for a delivery ('*' for any); returns the function that removes it. */
  subscribe(deliveryId: string, listener: Listener): () => void {
    let set = this.listeners.get(deliveryId);
    if (!set) this.listeners.set(deliveryId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.listeners.delete(deliveryId);
    };
  }

  /** Marks a delivery as changed; listeners hear of it within one interval. */
  changed(deliveryId: string): void {
    this.pending.add(deliveryId);
    this.timer ??= setTimeout(() => this.flush(), this.intervalMs);
  }

  private flush(): void {
    this.timer = undefined;
    const ids = [...this.pending];
    this.pending.clear();
    for (const id of ids) for (const listener of this.listeners.get(id) ?? []) listener([id]);
    if (ids.length) for (const listener of this.listeners.get('*') ?? []) listener(ids);
  }

  close(): void {
    clearTimeout(this.timer);
    this.listeners.clear();
  }
}
