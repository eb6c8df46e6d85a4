/** Writing deliveries: drafts are created and edited here; each edit bumps the version. */

import { EVERYONE } from '$shared/audience-filter';
import { DEFAULT_TYPOLOGY_ID } from '$shared/typology';
import type { DeliveryContent } from '$shared/types';
import { plain, type LocalDelivery, type MailroomDb } from './db';

export const SAMPLE_HTML = `<html>
  <body style="font-family: sans-serif">
    <h1>Hello {{ first_name | default: "there" }},</h1>
    <p>Our autumn collection has arrived{% if city %} in {{ city }}{% endif %}.</p>
    <p><a href="https://shop.example.com/autumn">See the collection</a></p>
    <p style="font-size: 12px; color: #666">
      You receive this email because you subscribed.
      <a href="{{ unsubscribe_url }}">Unsubscribe</a>
    </p>
  </body>
</html>`;

/** Returns the id of a new draft delivery with sensible defaults. */
export async function createDelivery(db: MailroomDb, now = new Date()): Promise<string> {
  const id = crypto.randomUUID();
  const at = now.toISOString();
  const delivery: LocalDelivery = {
    id,
    version: 1,
    name: 'New delivery',
    fromName: 'Mailroom Shop',
    fromAddress: 'news@shop.example.com',
    subject: 'Hello {{ first_name | default: "there" }}, the autumn collection is here',
    html: SAMPLE_HTML,
    audience: EVERYONE,
    scheduledAt: null,
    typologyId: DEFAULT_TYPOLOGY_ID,
    createdAt: at,
    updatedAt: at,
    server: null,
  };
  await db.deliveries.add(delivery);
  return id;
}

/** Saves edited content; the version goes up, which makes any preparation stale. */
export async function saveContent(db: MailroomDb, id: string, content: DeliveryContent, now = new Date()): Promise<void> {
  await db.transaction('rw', db.deliveries, async () => {
    const current = await db.deliveries.get(id);
    if (!current) throw new Error(`delivery ${id} does not exist`);
    if (current.server) throw new Error(`delivery ${id} was handed to the server and can no longer be edited`);
    await db.deliveries.put({ ...current, ...plain(content), version: current.version + 1, updatedAt: now.toISOString() });
  });
}
