/**
 * The SQLite stores are written synchronously (better-sqlite3 answers at once, and a store
 * method runs to its end without yielding, which is what keeps each of them atomic) and are
 * offered through the same asynchronous interfaces as the PostgreSQL ones.
 */

/** The synchronous form of an asynchronous interface: every method returns its value itself. */
export type Sync<T> = {
  [K in keyof T]: T[K] extends (...args: infer A) => Promise<infer R> ? (...args: A) => R : T[K];
};

/**
 * Returns the interface over a synchronous implementation: each method resolves with what
 * the synchronous one returned, and rejects with what it threw.
 */
export function asAsync<T extends object>(store: Sync<T>): T {
  const wrapped: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(store)) {
    wrapped[name] =
      typeof value === 'function'
        ? (...args: unknown[]) => {
            try {
              return Promise.resolve((value as (...a: unknown[]) => unknown)(...args));
            } catch (error) {
              return Promise.reject(error);
            }
          }
        : value;
  }
  return wrapped as T;
}
