/**
 * Limits on signing in: failed attempts counted per client address and per username in a
 * sliding window, and a bound on how many password checks run at once.
 *
 * Invariants: an attempt over a limit is refused before its password is checked, so it
 * costs no hash. An attempt counts as a failure from the moment it is admitted until its
 * check succeeds, so a burst sent at once cannot outrun the count while hashes run. A good
 * sign-in takes back only its own attempt: earlier failures age out by themselves, so
 * knowing one password (one's own account) never buys more guesses at another. Memory is
 * bounded: at most `maxKeys` addresses and as many usernames, each with at most its limit of
 * timestamps; past that the one that failed least recently is forgotten first.
 */

import { availableParallelism } from 'node:os';
import type { Context } from 'hono';
import { getConnInfo } from '@hono/node-server/conninfo';

export interface SignInLimitOptions {
  /** Failed sign-ins from one client address (an IPv6 address by its /64) within the window. */
  perAddress: number;
  /** Failed sign-ins for one username, from all addresses together, within the window. */
  perAccount: number;
  windowMs: number;
  /** Addresses, and usernames, kept in memory at most. */
  maxKeys: number;
  /** Password checks that run at once; the others wait their turn in arrival order. */
  concurrentChecks: number;
}

export const SIGN_IN_LIMITS: SignInLimitOptions = {
  perAddress: 10,
  perAccount: 20,
  windowMs: 15 * 60_000,
  maxKeys: 10_000,
  // A check is ~0.2 s of one core: keep the other half of the machine for tracking and sending.
  concurrentChecks: Math.max(1, Math.floor(availableParallelism() / 2)),
};

export type SignInOutcome = { kind: 'limited'; retryAfterSeconds: number } | { kind: 'checked'; ok: boolean };

export interface SignInLimits {
  /**
   * Returns `limited` with the seconds to wait when the address or the username is over its
   * limit (`check` is not called), else runs `check` in its turn and returns what it said.
   */
  attempt(address: string | undefined, username: string, now: Date, check: () => Promise<boolean>): Promise<SignInOutcome>;
}

/** Returns sign-in limits holding their counts in memory. */
export function createSignInLimits(options: Partial<SignInLimitOptions> = {}): SignInLimits {
  const o = { ...SIGN_IN_LIMITS, ...options };
  const addresses = slidingWindow(o.perAddress, o.windowMs, o.maxKeys);
  const accounts = slidingWindow(o.perAccount, o.windowMs, o.maxKeys);
  const inTurn = taskQueue(o.concurrentChecks);
  return {
    async attempt(address, username, now, check) {
      const at = now.getTime();
      const addressKey = clientKey(address);
      const waitMs = Math.max(addresses.waitMs(addressKey, at), accounts.waitMs(username, at));
      if (waitMs > 0) return { kind: 'limited', retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
      addresses.add(addressKey, at);
      accounts.add(username, at);
      const ok = await inTurn(check);
      if (ok) {
        addresses.remove(addressKey, at);
        accounts.remove(username, at);
      }
      return { kind: 'checked', ok };
    },
  };
}

/** Returns the sentence of a refusal for `retryAfterSeconds`. */
export function tooManyAttempts(retryAfterSeconds: number): string {
  const minutes = Math.ceil(retryAfterSeconds / 60);
  return `Too many attempts; try again in ${minutes} ${minutes === 1 ? 'minute' : 'minutes'}.`;
}

/** Returns the address the request came from, or undefined when the app is called in-process. */
export function clientAddress(c: Context): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined;
  }
}

/**
 * Returns the key an address is counted under: an IPv4 address as it is (also when mapped
 * into IPv6), an IPv6 address by its first 64 bits (one subscriber's network: its owner can
 * use any address in it), and "unknown" without one.
 */
export function clientKey(address: string | undefined): string {
  if (!address) return 'unknown';
  const bare = address.replace(/%.*$/, '').toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(bare);
  if (mapped) return mapped[1];
  if (!bare.includes(':')) return bare;
  const [head, tail] = bare.split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return `${groups
    .slice(0, 4)
    .map((g) => (parseInt(g, 16) || 0).toString(16))
    .join(':')}::/64`;
}

/** Counts events per key over a sliding window, in memory, holding at most `maxKeys` keys (the least recent go first). */
export function slidingWindow(limit: number, windowMs: number, maxKeys: number) {
  // Map order is the order of each key's latest failure: the first key failed least recently.
  const failures = new Map<string, number[]>();
  const recent = (key: string, at: number) => (failures.get(key) ?? []).filter((t) => t > at - windowMs);
  return {
    /** Returns how long until the key is under its limit again (0 when it is). */
    waitMs(key: string, at: number): number {
      const times = recent(key, at);
      return times.length < limit ? 0 : times[times.length - limit] + windowMs - at;
    },
    add(key: string, at: number) {
      const times = recent(key, at);
      times.push(at);
      failures.delete(key);
      if (failures.size >= maxKeys) failures.delete(failures.keys().next().value!);
      failures.set(key, times.slice(-limit));
    },
    remove(key: string, at: number) {
      const times = failures.get(key);
      const index = times?.lastIndexOf(at) ?? -1;
      if (index >= 0) times!.splice(index, 1);
      if (times?.length === 0) failures.delete(key);
    },
  };
}

/** Returns a runner that runs at most `size` tasks at once; the others start in arrival order. */
export function taskQueue(size: number) {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async <T>(task: () => Promise<T>): Promise<T> => {
    if (running < size) running++;
    else await new Promise<void>((resolve) => waiting.push(resolve));
    try {
      return await task();
    } finally {
      // A finished task hands its place to the next one waiting, or gives it up.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}
