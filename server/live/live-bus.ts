/**
 * Live figures: who is watching which delivery, and a coalescing notifier. Many changes in a
 * short time (a batch of outcomes, a burst of opens) become one update per interval. With
 * several nodes, a change on one reaches the listeners of every node (postgres-bus.ts); with
 * one, it stays in the process (InProcessBus). Settings changes travel the same way.
 */

/** Hears of changes; a listener of '*' is told which deliveries changed. */
export type Listener = (changed: readonly string[]) => void;

/** What a bus carries besides deliveries' changes: the sending settings changed (on any node). */
export type Signal = 'settings' | 'work';

export interface LiveBus {
  /** Registers a listener for a delivery ('*' for any); returns the function that removes it. */
  subscribe(deliveryId: string, listener: Listener): () => void;
  /** Marks a delivery as changed; every node's listeners hear of it within one interval. */
  changed(deliveryId: string): void;
  /** Tells every node (this one too) of a signal. */
  signal(signal: Signal): void;
  /** Registers a listener for a signal; returns the function that removes it. */
  onSignal(signal: Signal, listener: () => void): () => void;
  close(): void;
}

/** The listeners of one node, told of what changed, coalesced per interval. */
export class Listeners {
  private readonly byDelivery = new Map<string, Set<Listener>>();
  private readonly bySignal = new Map<Signal, Set<() => void>>();

  subscribe(deliveryId: string, listener: Listener): () => void {
    let set = this.byDelivery.get(deliveryId);
    if (!set) this.byDelivery.set(deliveryId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0) this.byDelivery.delete(deliveryId);
    };
  }

  onSignal(signal: Signal, listener: () => void): () => void {
    let set = this.bySignal.get(signal);
    if (!set) this.bySignal.set(signal, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Tells the listeners of each delivery, then those of '*' (once, with all of them). */
  tell(ids: readonly string[]): void {
    for (const id of ids) for (const listener of this.byDelivery.get(id) ?? []) listener([id]);
    if (ids.length) for (const listener of this.byDelivery.get('*') ?? []) listener(ids);
  }

  tellSignal(signal: Signal): void {
    for (const listener of this.bySignal.get(signal) ?? []) listener();
  }

  clear(): void {
    this.byDelivery.clear();
    this.bySignal.clear();
  }
}

/** Collects changed deliveries and hands them on once per interval. */
export class Coalescer {
  private readonly pending = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly intervalMs: number,
    private readonly deliver: (ids: string[]) => void,
  ) {}

  add(id: string): void {
    this.pending.add(id);
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      const ids = [...this.pending];
      this.pending.clear();
      this.deliver(ids);
    }, this.intervalMs);
  }

  close(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.pending.clear();
  }
}

/** The bus of a single node: changes go to this process's listeners. */
export class InProcessBus implements LiveBus {
  private readonly listeners = new Listeners();
  private readonly coalescer: Coalescer;

  /** @param intervalMs the shortest time between two updates of one delivery */
  constructor(intervalMs = 250) {
    this.coalescer = new Coalescer(intervalMs, (ids) => this.listeners.tell(ids));
  }

  subscribe(deliveryId: string, listener: Listener): () => void {
    return this.listeners.subscribe(deliveryId, listener);
  }

  changed(deliveryId: string): void {
    this.coalescer.add(deliveryId);
  }

  signal(signal: Signal): void {
    queueMicrotask(() => this.listeners.tellSignal(signal));
  }

  onSignal(signal: Signal, listener: () => void): () => void {
    return this.listeners.onSignal(signal, listener);
  }

  close(): void {
    this.coalescer.close();
    this.listeners.clear();
  }
}
