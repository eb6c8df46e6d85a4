/**
 * Webhooks out: the endpoints operators registered, and each delivery of an event to one of
 * them, with its attempts, kept for the endpoint's log. A delivery is claimed by one node at a
 * time (its next attempt moved past a lease), so several nodes never post it twice at once.
 */

export const WEBHOOK_EVENTS = ['delivered', 'failed', 'bounced', 'opened', 'clicked', 'unsubscribed', 'complained'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEvent[];
  /** Signs every body (HMAC-SHA256); shown once, when the endpoint is made. */
  secret: string;
  createdBy: string;
  createdAt: string;
}

export interface WebhookDelivery {
  id: number;
  webhookId: string;
  event: WebhookEvent | 'test';
  /** The JSON body as posted. */
  payload: string;
  status: 'pending' | 'delivered' | 'failed';
  attempts: number;
  nextAttemptAt: number;
  /** The last attempt's result: the HTTP status and a few words, or why it could not be made. */
  lastResult: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface WebhookStore {
  list(): Promise<Webhook[]>;
  add(webhook: Webhook): Promise<void>;
  remove(id: string): Promise<boolean>;
  /** Queues one delivery per payload, each due now. */
  enqueue(items: readonly { webhookId: string; event: WebhookDelivery['event']; payload: string }[], now: Date): Promise<void>;
  /** Claims up to `limit` deliveries due by `now`, moving their next attempt to `leaseUntil` (ms). */
  claimDue(now: number, leaseUntil: number, limit: number): Promise<WebhookDelivery[]>;
  /** Records an attempt: delivered, to be tried again at `retryAt`, or failed for good. */
  attempted(
    id: number,
    result: string,
    outcome: { kind: 'delivered'; at: string } | { kind: 'retry'; at: number } | { kind: 'failed' },
  ): Promise<void>;
  /** The endpoint's deliveries, newest first. */
  log(webhookId: string, limit: number): Promise<WebhookDelivery[]>;
}
