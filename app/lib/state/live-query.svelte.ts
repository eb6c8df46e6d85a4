/** A Dexie live query as reactive state: read `.current` in a component or a $derived. */

import { liveQuery } from 'dexie';
import { createSubscriber } from 'svelte/reactivity';

export class LiveQuery<T> {
  #value = $state.raw<T | undefined>(undefined);
  #loaded = $state(false);
  #subscribe: () => void;

  constructor(query: () => T | Promise<T>) {
    this.#subscribe = createSubscriber(() => {
      const subscription = liveQuery(query).subscribe({
        next: (value) => {
          this.#value = value;
          this.#loaded = true;
        },
        error: (error) => console.error('live query failed', error),
      });
      return () => subscription.unsubscribe();
    });
  }

  /** The latest result, or undefined before the first one. */
  get current(): T | undefined {
    this.#subscribe();
    return this.#value;
  }

  /** True once the first result has arrived. */
  get loaded(): boolean {
    this.#subscribe();
    return this.#loaded;
  }
}
