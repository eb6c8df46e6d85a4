/** Webhooks in PostgreSQL (see ../webhooks.ts): deliveries claimed with SKIP LOCKED, so nodes never share one. */

import type { Webhook, WebhookDelivery, WebhookStore } from '../webhooks';
import type { Pg } from './database';

const DELIVERY = `id, webhook_id AS "webhookId", event, payload, status, attempts, next_attempt_at AS "nextAttemptAt",
  last_result AS "lastResult", created_at AS "createdAt", delivered_at AS "deliveredAt"`;

const fromRow = (r: WebhookDelivery) => ({ ...r, id: Number(r.id), nextAttemptAt: Number(r.nextAttemptAt) });

export function postgresWebhookStore(sql: Pg): WebhookStore {
  return {
    async list() {
      const rows = await sql<(Omit<Webhook, 'events'> & { events: string })[]>`SELECT id, url, events, secret,
        created_by AS "createdBy", created_at AS "createdAt" FROM webhooks ORDER BY created_at`;
      return rows.map((w) => ({ ...w, events: JSON.parse(w.events) }));
    },
    async add(w) {
      await sql`INSERT INTO webhooks (id, url, events, secret, created_by, created_at)
        VALUES (${w.id}, ${w.url}, ${JSON.stringify(w.events)}, ${w.secret}, ${w.createdBy}, ${w.createdAt})`;
    },
    async remove(id) {
      return (await sql.begin(async (tx) => {
        await tx`UPDATE webhook_deliveries SET status = 'failed', last_result = 'the endpoint was removed' WHERE webhook_id = ${id} AND status = 'pending'`;
        return (await tx`DELETE FROM webhooks WHERE id = ${id} RETURNING id`).length === 1;
      })) as boolean;
    },
    async enqueue(items, now) {
      if (items.length === 0) return;
      const rows = items.map((i) => ({
        webhook_id: i.webhookId,
        event: i.event,
        payload: i.payload,
        status: 'pending',
        next_attempt_at: now.getTime(),
        created_at: now.toISOString(),
      }));
      await sql`INSERT INTO webhook_deliveries ${sql(rows)}`;
    },
    async claimDue(now, leaseUntil, limit) {
      const rows = await sql<WebhookDelivery[]>`UPDATE webhook_deliveries SET next_attempt_at = ${leaseUntil}
        WHERE id IN (SELECT id FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ${now}
          ORDER BY next_attempt_at LIMIT ${limit} FOR UPDATE SKIP LOCKED)
        RETURNING ${sql.unsafe(DELIVERY)}`;
      return rows.map(fromRow);
    },
    async attempted(id, result, outcome) {
      if (outcome.kind === 'delivered') {
        await sql`UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_result = ${result}, delivered_at = ${outcome.at} WHERE id = ${id}`;
      } else if (outcome.kind === 'retry') {
        await sql`UPDATE webhook_deliveries SET attempts = attempts + 1, last_result = ${result}, next_attempt_at = ${outcome.at} WHERE id = ${id}`;
      } else {
        await sql`UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, last_result = ${result} WHERE id = ${id}`;
      }
    },
    async log(webhookId, limit) {
      const rows = await sql<
        WebhookDelivery[]
      >`SELECT ${sql.unsafe(DELIVERY)} FROM webhook_deliveries WHERE webhook_id = ${webhookId} ORDER BY id DESC LIMIT ${limit}`;
      return rows.map(fromRow);
    },
  };
}
