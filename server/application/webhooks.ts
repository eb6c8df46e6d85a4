/**
 * Webhooks out: what happens to messages (delivered, failed, bounced, opened, clicked,
 * unsubscribed, complained) posted as JSON to the endpoints operators registered for it. Each
 * body is signed: `X-Mailroom-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body" with
 * the endpoint's secret>` (a receiver recomputes it, and refuses a t far from its clock).
 * Events are gathered for a quarter of a second and queued in the database in one write; a
 * dispatcher posts what is due, and an endpoint that fails (no 2xx within 10 s) is tried again
 * after 1, 5, 30 minutes, then 2, 6 and 12 hours, and given up a day after the event. Every
 * attempt is in the endpoint's log.
 */

import { createHmac, randomUUID } from 'node:crypto';
import type { Webhook, WebhookDelivery, WebhookEvent, WebhookStore } from '../store/webhooks';

/** When to try again after the n-th failed attempt (ms). */
const RETRY_AFTER_MS = [60_000, 300_000, 1_800_000, 7_200_000, 21_600_000, 43_200_000];
/** How long after the event a delivery is still tried. */
const GIVE_UP_MS = 86_400_000;
const TIMEOUT_MS = 10_000;
const GATHER_MS = 250;
const POLL_MS = 1_000;
/** A claimed delivery not answered by then may be claimed again (its node died). */
const LEASE_MS = 60_000;
const BATCH = 20;

export interface WebhookDeps {
  store: WebhookStore;
  now: () => Date;
  log?: (line: string) => void;
  /** How posts are made (tests give a slower or failing one); fetch unless given. */
  fetch?: typeof fetch;
}

/** Returns the signature header of a body, as receivers check it. */
export function signature(secret: string, body: string, at: Date): string {
  const t = Math.floor(at.getTime() / 1000);
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`;
}

export class Webhooks {
  #endpoints: Webhook[] | null = null;
  #gathered: { event: WebhookEvent | 'test'; data: Record<string, unknown>; only?: string }[] = [];
  #gatherTimer: ReturnType<typeof setTimeout> | null = null;
  #poll: ReturnType<typeof setInterval> | null = null;
  #dispatching: Promise<void> | null = null;

  constructor(private readonly deps: WebhookDeps) {}

  /** The endpoints, read again after every change made here and every so often (another node's). */
  async endpoints(): Promise<Webhook[]> {
    this.#endpoints ??= await this.deps.store.list();
    return this.#endpoints;
  }

  /** Forgets the endpoints read, so that the next event reads them again. */
  changed(): void {
    this.#endpoints = null;
  }

  /** False when no endpoint asks for this event (as far as is known): the sender need not even make its data. */
  wants(event: WebhookEvent): boolean {
    return !this.#endpoints || this.#endpoints.some((e) => e.events.includes(event));
  }

  /** Says that something happened; queued for every endpoint that asked for it (nothing is done when none did). */
  emit(event: WebhookEvent, data: Record<string, unknown>): void {
    if (!this.wants(event)) return;
    this.#gathered.push({ event, data });
    if (!this.#gatherTimer) {
      this.#gatherTimer = setTimeout(() => void this.flush().catch((error: Error) => this.deps.log?.(error.message)), GATHER_MS);
      this.#gatherTimer.unref?.();
    }
  }

  /** Queues a test event for one endpoint and posts it at once. */
  async test(webhookId: string): Promise<void> {
    this.#gathered.push({ event: 'test', data: { message: 'A test event from Mailroom.' }, only: webhookId });
    await this.flush();
    await this.dispatch();
  }

  /** Writes the events gathered as deliveries to the endpoints that want them. */
  async flush(): Promise<void> {
    if (this.#gatherTimer) clearTimeout(this.#gatherTimer);
    this.#gatherTimer = null;
    const events = this.#gathered.splice(0);
    if (events.length === 0) return;
    const endpoints = await this.endpoints();
    const at = this.deps.now();
    const items = events.flatMap(({ event, data, only }) =>
      endpoints
        .filter((e) => (only ? e.id === only : e.events.includes(event as WebhookEvent)))
        .map((e) => ({ webhookId: e.id, event, payload: JSON.stringify({ id: randomUUID(), event, at: at.toISOString(), data }) })),
    );
    await this.deps.store.enqueue(items, at);
    if (items.length) void this.dispatch().catch((error: Error) => this.deps.log?.(`Webhooks could not be posted: ${error.message}`));
  }

  /** Posts the deliveries that are due, a batch at a time, until none is. */
  dispatch(): Promise<void> {
    this.#dispatching ??= (async () => {
      try {
        for (;;) {
          const now = this.deps.now().getTime();
          const due = await this.deps.store.claimDue(now, now + LEASE_MS, BATCH);
          if (due.length === 0) return;
          const endpoints = await this.endpoints();
          await Promise.all(
            due.map((d) =>
              this.post(
                d,
                endpoints.find((e) => e.id === d.webhookId),
              ),
            ),
          );
        }
      } finally {
        this.#dispatching = null;
      }
    })();
    return this.#dispatching;
  }

  private async post(delivery: WebhookDelivery, endpoint: Webhook | undefined): Promise<void> {
    const { store, now } = this.deps;
    if (!endpoint) return store.attempted(delivery.id, 'the endpoint was removed', { kind: 'failed' });
    let result: string;
    let ok = false;
    try {
      const response = await (this.deps.fetch ?? fetch)(endpoint.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'Mailroom-Webhooks/1',
          'x-mailroom-event': delivery.event,
          'x-mailroom-delivery': String(delivery.id),
          'x-mailroom-signature': signature(endpoint.secret, delivery.payload, now()),
        },
        body: delivery.payload,
        redirect: 'manual',
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      ok = response.status >= 200 && response.status < 300;
      result = `${response.status} ${response.statusText}`.trim();
      await response.body?.cancel().catch(() => undefined);
    } catch (error) {
      const reason =
        (error as Error).name === 'TimeoutError'
          ? 'no answer within 10 s'
          : ((error as Error).cause as Error)?.message || (error as Error).message;
      result = `not delivered: ${reason}`;
    }
    if (ok) return store.attempted(delivery.id, result, { kind: 'delivered', at: now().toISOString() });
    const retryAt = now().getTime() + (RETRY_AFTER_MS[delivery.attempts] ?? RETRY_AFTER_MS.at(-1)!);
    const givenUp = retryAt > Date.parse(delivery.createdAt) + GIVE_UP_MS;
    await store.attempted(
      delivery.id,
      givenUp ? `${result}; given up a day after the event` : result,
      givenUp ? { kind: 'failed' } : { kind: 'retry', at: retryAt },
    );
  }

  /** Posts what is due every second, and reads the endpoints again every 30 s. */
  start(): void {
    let ticks = 0;
    this.#poll = setInterval(() => {
      if (++ticks % 30 === 0) this.changed();
      void this.dispatch().catch((error: Error) => this.deps.log?.(`Webhooks could not be posted: ${error.message}`));
    }, POLL_MS);
    this.#poll.unref();
  }

  async stop(): Promise<void> {
    if (this.#poll) clearInterval(this.#poll);
    await this.flush().catch(() => undefined);
    await this.#dispatching;
  }
}
