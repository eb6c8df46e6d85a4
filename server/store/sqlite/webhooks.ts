/** Webhooks in SQLite (see ../webhooks.ts). */

import type { Webhook, WebhookDelivery, WebhookStore } from '../webhooks';
import { asAsync, type Sync } from '../sync';
import type { Db } from './database';

const DELIVERY = `id, webhook_id AS webhookId, event, payload, status, attempts, next_attempt_at AS nextAttemptAt,
  last_result AS lastResult, created_at AS createdAt, delivered_at AS deliveredAt`;

export function sqliteWebhookStore(db: Db): WebhookStore {
  return asAsync<WebhookStore>(syncStore(db));
}

function syncStore(db: Db): Sync<WebhookStore> {
  const list = db.prepare(
    'SELECT id, url, events, secret, created_by AS createdBy, created_at AS createdAt FROM webhooks ORDER BY created_at',
  );
  const add = db.prepare('INSERT INTO webhooks (id, url, events, secret, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?)');
  const remove = db.prepare('DELETE FROM webhooks WHERE id = ?');
  const dropPending = db.prepare(
    `UPDATE webhook_deliveries SET status = 'failed', last_result = 'the endpoint was removed' WHERE webhook_id = ? AND status = 'pending'`,
  );
  const enqueue = db.prepare(
    `INSERT INTO webhook_deliveries (webhook_id, event, payload, status, next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)`,
  );
  const due = db.prepare(
    `SELECT ${DELIVERY} FROM webhook_deliveries WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?`,
  );
  const lease = db.prepare('UPDATE webhook_deliveries SET next_attempt_at = ? WHERE id = ?');
  const delivered = db.prepare(
    `UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_result = ?, delivered_at = ? WHERE id = ?`,
  );
  const retry = db.prepare(`UPDATE webhook_deliveries SET attempts = attempts + 1, last_result = ?, next_attempt_at = ? WHERE id = ?`);
  const failed = db.prepare(`UPDATE webhook_deliveries SET status = 'failed', attempts = attempts + 1, last_result = ? WHERE id = ?`);
  const log = db.prepare(`SELECT ${DELIVERY} FROM webhook_deliveries WHERE webhook_id = ? ORDER BY id DESC LIMIT ?`);
  return {
    list: () => (list.all() as (Omit<Webhook, 'events'> & { events: string })[]).map((w) => ({ ...w, events: JSON.parse(w.events) })),
    add: (w) => void add.run(w.id, w.url, JSON.stringify(w.events), w.secret, w.createdBy, w.createdAt),
    remove: db.transaction((id: string) => {
      dropPending.run(id);
      return remove.run(id).changes === 1;
    }),
    enqueue: db.transaction((items: readonly { webhookId: string; event: string; payload: string }[], now: Date) => {
      for (const item of items) enqueue.run(item.webhookId, item.event, item.payload, now.getTime(), now.toISOString());
    }),
    claimDue: db.transaction((now: number, leaseUntil: number, limit: number) => {
      const rows = due.all(now, limit) as WebhookDelivery[];
      for (const row of rows) lease.run(leaseUntil, row.id);
      return rows;
    }),
    attempted(id, result, outcome) {
      if (outcome.kind === 'delivered') delivered.run(result, outcome.at, id);
      else if (outcome.kind === 'retry') retry.run(result, outcome.at, id);
      else failed.run(result, id);
    },
    log: (webhookId, limit) => log.all(webhookId, limit) as WebhookDelivery[],
  };
}
