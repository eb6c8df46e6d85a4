/**
 * Several relays behind one messenger: each message is routed to the relay chosen for its
 * delivery, else to the relays that serve its From address's domain, else to the first; when
 * a relay cannot be reached (it refuses connections, does not answer, refuses the login) the
 * message goes to the next relay at once, and that relay is passed over for DOWN_MS before it
 * is tried again. Each relay keeps its own pool (connections, messages per connection) and its
 * own rate; throttles per recipient domain ("at most 600 a minute to gmail.com") hold across
 * all of them.
 *
 * A limit never holds a sending slot for long: a message whose turn is within MAX_WAIT_MS
 * waits for it; one whose turn is later comes back `deferred` with that time, and the
 * engine puts it back in the queue until then without counting an attempt — the other
 * domains' messages go on meanwhile.
 */

import { asciiDomain, emailDomain } from '../../shared/email-address';
import type { OutgoingMessage } from './compose';
import type { Messenger, SmtpOutcome, UnsentOutcome } from './messenger';

/** How long a relay that could not be reached is passed over before it is tried again. */
export const DOWN_MS = 30_000;
/** The longest a message waits for its turn under a limit while holding a slot. */
export const MAX_WAIT_MS = 1_000;

export interface RelayRoute {
  id: string;
  name: string;
  messenger: Messenger;
  /** From domains this relay serves first (lower case); empty for none in particular. */
  fromDomains: readonly string[];
  /** Messages per second through this relay; 0 for no limit of its own. */
  ratePerSecond: number;
}

export interface DomainThrottle {
  /** Recipient domains counted together (one mailbox provider: gmail.com, googlemail.com). */
  domains: readonly string[];
  perMinute: number;
}

/**
 * At most `count` sends in any `periodMs`: it keeps the times of the last `count` turns
 * given (some a little ahead), so the next turn is `periodMs` after the oldest of them.
 */
export class SlidingLimit {
  readonly #times: number[];
  #next = 0;
  #filled = 0;
  /** The latest time deferred messages were told to come back at, and how many were told it. */
  #promisedAt = 0;
  #promised = 0;

  constructor(
    readonly count: number,
    readonly periodMs: number,
  ) {
    this.#times = new Array<number>(Math.max(1, count)).fill(0);
  }

  /**
   * Takes the next turn if it comes within `maxWaitMs` and resolves how long to wait for it;
   * else takes nothing and says when to come back: at most `count` messages are told each
   * period, the next ones a period later, so that a domain with a long queue does not have
   * all its deferred messages come due at once and be deferred again.
   */
  take(now: number, maxWaitMs: number): { wait: number } | { until: number } {
    const turn = this.#filled < this.#times.length ? now : Math.max(now, this.#times[this.#next] + this.periodMs);
    if (turn - now > maxWaitMs) {
      if (this.#promisedAt < turn) [this.#promisedAt, this.#promised] = [turn, 0];
      if (this.#promised >= this.count) [this.#promisedAt, this.#promised] = [this.#promisedAt + this.periodMs, 0];
      this.#promised++;
      return { until: this.#promisedAt };
    }
    this.#times[this.#next] = turn;
    this.#next = (this.#next + 1) % this.#times.length;
    this.#filled = Math.min(this.#filled + 1, this.#times.length);
    return { wait: turn - now };
  }
}

/**
 * The throttles' limits, kept from one messenger to the next: saving the settings, or a node
 * joining, builds a new messenger, and a throttle must not start its minute again then.
 */
export class ThrottleLimits {
  readonly #limits = new Map<string, SlidingLimit>();

  of(throttle: DomainThrottle): SlidingLimit {
    const key = `${[...throttle.domains].sort().join(',')}/${throttle.perMinute}`;
    let limit = this.#limits.get(key);
    if (!limit) {
      limit = new SlidingLimit(throttle.perMinute, 60_000);
      this.#limits.set(key, limit);
    }
    return limit;
  }
}

export interface RoutingOptions {
  /** Where the throttles' limits live; the messenger's own unless told (settings.ts keeps one across messengers). */
  limits?: ThrottleLimits;
  /** The clock (ms); Date.now unless told. */
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Hears a failover and a relay coming back. */
  log?: (line: string) => void;
}

/** Returns the messenger over the relays (in their order of preference) and the throttles. */
export function createRoutingMessenger(
  relays: readonly RelayRoute[],
  throttles: readonly DomainThrottle[],
  options: RoutingOptions = {},
): Messenger {
  if (relays.length === 0) throw new Error('at least one relay is needed');
  const now = options.now ?? Date.now;
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const log = options.log ?? (() => {});
  const rates = new Map(relays.map((r) => [r.id, r.ratePerSecond > 0 ? new SlidingLimit(r.ratePerSecond, 1_000) : null]));
  const downUntil = new Map<string, number>();
  /** Relays down whose time is up, being tried again by one message: the others pass them over until it is answered. */
  const retrying = new Set<string>();
  const limits = options.limits ?? new ThrottleLimits();
  const byDomain = new Map<string, { limit: SlidingLimit; throttle: DomainThrottle }>();
  for (const throttle of throttles) {
    const entry = { limit: limits.of(throttle), throttle };
    for (const domain of throttle.domains) byDomain.set(domain.toLowerCase(), entry);
  }
  let closing = false;

  /** What each relay down answered last. */
  const troubles = new Map<string, UnsentOutcome>();

  /** The relays to try for a message, best first; those down are passed over (the engine's probe finds when one answers). */
  const routeOf = (message: OutgoingMessage): RelayRoute[] => {
    const fromDomain = asciiDomain(emailDomain(message.from.address).toLowerCase());
    const chosen = relays.find((r) => r.id === message.relayId);
    const serving = relays.filter((r) => r !== chosen && r.fromDomains.includes(fromDomain));
    const ordered = [...(chosen ? [chosen] : []), ...serving, ...relays.filter((r) => r !== chosen && !serving.includes(r))];
    const t = now();
    return ordered.filter((r) => !downUntil.has(r.id) || (downUntil.get(r.id)! <= t && !retrying.has(r.id)));
  };
  const noRelay = (trouble: UnsentOutcome): UnsentOutcome =>
    relays.length === 1 ? trouble : { ...trouble, relay: `No relay can be reached: ${trouble.relay.replace(/^The/, 'the')}` };

  /** Waits for a turn under `limit`, or returns the deferral when the turn is too far off. */
  const turn = async (limit: SlidingLimit | null | undefined, what: string): Promise<SmtpOutcome | null> => {
    if (!limit) return null;
    const taken = limit.take(now(), MAX_WAIT_MS);
    if ('until' in taken) return { kind: 'deferred', until: taken.until, reply: `deferred: ${what}` };
    if (taken.wait > 0) await sleep(taken.wait);
    return null;
  };

  return {
    async send(message) {
      const domain = asciiDomain(emailDomain(message.to).toLowerCase());
      const throttled = byDomain.get(domain);
      const deferred = await turn(
        throttled?.limit,
        `at most ${throttled?.throttle.perMinute} a minute to ${throttled?.throttle.domains.join(', ')}`,
      );
      if (deferred) return deferred;
      let last: UnsentOutcome | null = null;
      for (const relay of routeOf(message)) {
        if (closing) break;
        const paced = await turn(rates.get(relay.id), `at most ${relay.ratePerSecond} a second through ${relay.name}`);
        if (paced) return paced;
        // A relay down whose time is up is tried again by this message alone (a relay that does not answer costs a timeout).
        const again = downUntil.has(relay.id) && !retrying.has(relay.id);
        if (again) retrying.add(relay.id);
        const outcome = await relay.messenger.send(message).finally(() => again && retrying.delete(relay.id));
        if (outcome.kind !== 'unsent') {
          troubles.delete(relay.id);
          if (downUntil.delete(relay.id)) log(`Relay ${relay.name} answers again.`);
          return outcome;
        }
        if (closing) return outcome;
        if (!downUntil.has(relay.id)) log(`${outcome.relay} (${outcome.reply}): the next relay takes its messages.`);
        downUntil.set(relay.id, now() + DOWN_MS);
        troubles.set(relay.id, outcome);
        last = outcome;
      }
      if (last) return noRelay(last);
      // Every relay is down (or being tried again by another message): say what the first answered, at once.
      const known = relays.map((r) => troubles.get(r.id)).find((t) => t !== undefined);
      if (closing || !known) return { kind: 'unsent', reply: 'the relays are closing', relay: 'The relays are closing' };
      return noRelay(known);
    },
    async probe() {
      let trouble: UnsentOutcome | null = null;
      for (const relay of relays) {
        const found = relay.messenger.probe ? await relay.messenger.probe() : null;
        if (found === null) {
          // It answers: the next message tries it (its time down is over).
          downUntil.set(relay.id, 0);
          return null;
        }
        trouble = found;
      }
      return trouble;
    },
    async close() {
      closing = true;
      await Promise.all(relays.map((r) => r.messenger.close()));
    },
  };
}
