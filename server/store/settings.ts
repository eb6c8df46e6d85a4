/**
 * Settings of record: small named values the server keeps (the sending settings, the
 * tracking secret, whether the demo was seeded). Every node reads the same ones.
 */

export interface SettingsStore {
  /** Returns the value, or undefined when none was set. */
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  /**
   * Returns the value, setting it to `make()` first when none was set: when several nodes
   * start at once, they all get the one that was set first.
   */
  getOrSet(key: string, make: () => string): Promise<string>;
}
