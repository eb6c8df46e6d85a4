/**
 * What /metrics tells an operator, in Prometheus' text format (prom-client), one registry
 * per server:
 *
 * - `mailroom_messages_total{outcome}`: outcomes written to the journal — `sent`, `failed`,
 *   `bounced`, `retry` (a 4xx or a connection lost: tried again later) and `unsent` (never
 *   handed to the relay: back to the queue, no attempt counted);
 * - `mailroom_smtp_duration_seconds{outcome}`: a histogram of the time from handing a message
 *   to the SMTP pool to the relay's answer, a free connection waited for included;
 * - `mailroom_queue_messages{state}`: the rows of the deliveries being sent that are
 *   `queued`, `retrying` or `sending` (in flight), read from the journal at each scrape,
 *   and `mailroom_deliveries_sending`;
 * - `mailroom_tracking_requests_total{kind,status}`: opens, clicks and unsubscribes answered;
 * - prom-client's default process metrics when asked for (the running server): CPU, memory,
 *   handles, garbage collection, and the event-loop lag (`nodejs_eventloop_lag_seconds` and
 *   its percentiles).
 *
 * No label carries a delivery id, an address or a URL: there are as many of those as
 * marketers create, and a series per delivery would grow without bound. Every label has a
 * fixed handful of values (`status` is an HTTP status the tracking routes answer). Figures
 * per delivery are on its dashboard and in its report.
 */

import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineObserver } from '../sending/engine';
import type { SendJournal } from '../store/journal';

export type TrackingKind = 'open' | 'click' | 'unsubscribe';

export interface Metrics {
  registry: Registry;
  /** The engine's hooks: every round trip to the relay and every outcome written. */
  engine: EngineObserver;
  /** Counts one tracking request answered with `status`. */
  tracking(kind: TrackingKind, status: number): void;
  /** Returns the exposition: its content type and text. */
  render(): Promise<{ contentType: string; body: string }>;
}

export interface MetricsOptions {
  /** Where the queue depth is read at each scrape. */
  journal: Pick<SendJournal, 'sending' | 'pending'>;
  /**
   * Adds prom-client's default process metrics (the server; not tests, where many servers
   * share a process and each would start its own event-loop and GC observers).
   */
  processMetrics?: boolean;
}

/** Seconds: from a loopback relay's milliseconds to a distant one's seconds, up to the 60 s a silent relay is given. */
const SMTP_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Returns the server's metrics over its own registry. */
export function createMetrics(options: MetricsOptions): Metrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics) collectDefaultMetrics({ register: registry });

  const messages = new Counter({
    name: 'mailroom_messages_total',
    help: 'Outcomes written to the send journal, by outcome (sent, failed, bounced, retry, unsent: back to the queue, never handed to the relay).',
    labelNames: ['outcome'],
    registers,
  });
  const smtp = new Histogram({
    name: 'mailroom_smtp_duration_seconds',
    help: "Time from handing a message to the SMTP pool to the relay's answer (waiting for a free connection included), by outcome.",
    labelNames: ['outcome'],
    buckets: SMTP_BUCKETS,
    registers,
  });
  const tracking = new Counter({
    name: 'mailroom_tracking_requests_total',
    help: 'Tracking requests answered: open pixels, click redirects and unsubscribe links, by HTTP status.',
    labelNames: ['kind', 'status'],
    registers,
  });
  new Gauge({
    name: 'mailroom_queue_messages',
    help: "Messages of the deliveries being sent, by journal state: queued, retrying (waiting for their next try), sending (in flight), waiting (not due yet: a local time, a later wave), held (an A/B test's rest, waiting for the winner).",
    labelNames: ['state'],
    registers,
    async collect() {
      const depth = { queued: 0, retrying: 0, sending: 0, waiting: 0, held: 0 };
      for (const id of await options.journal.sending()) {
        const pending = await options.journal.pending(id);
        depth.queued += pending.queued;
        depth.retrying += pending.retrying;
        depth.sending += pending.sending;
        depth.waiting += pending.waiting;
        depth.held += pending.held;
      }
      for (const [state, value] of Object.entries(depth)) this.set({ state }, value);
    },
  });
  new Gauge({
    name: 'mailroom_deliveries_sending',
    help: 'Deliveries in status sending.',
    registers,
    async collect() {
      this.set((await options.journal.sending()).length);
    },
  });
  // Every outcome has a series from the start, so a rate over it is defined before the first failure.
  for (const outcome of ['sent', 'failed', 'bounced', 'retry', 'unsent', 'deferred']) messages.inc({ outcome }, 0);

  return {
    registry,
    engine: {
      answered: (kind, seconds) => smtp.observe({ outcome: kind }, seconds),
      recorded: (kind) => messages.inc({ outcome: kind }),
    },
    tracking: (kind, status) => tracking.inc({ kind, status: String(status) }),
    render: async () => ({ contentType: registry.contentType, body: await registry.metrics() }),
  };
}
