/**
 * Writing deliveries: drafts are created and edited here, each edit at once and offline too;
 * each edit bumps the version and waits in the record to be pushed to the team (work.ts).
 */

import { m } from '$lib/i18n.svelte';
import { EVERYONE, type AudienceFilter } from '$shared/audience-filter';
import { DELIVERY_FIELD } from '$shared/engagement';
import type { ContentSource } from '$shared/content-source';
import type { StarterTemplate } from '$shared/starter-templates';
import { DEFAULT_TYPOLOGY_ID } from '$shared/typology';
import type { DeliveryContent } from '$shared/types';
import { plain, type LocalDelivery, type MailroomDb } from './db';
import { isDeleting, newDocSync, recordEdits, stamp, stampsFor } from './work';

export const SAMPLE_HTML = `<html>
  <body style="font-family: sans-serif; background-color: #ffffff">
    <div style="display: none; max-height: 0; overflow: hidden">Coats, knits and boots for the colder days, with free returns.</div>
    <h1>Hello {{ first_name | default: "there" }},</h1>
    <p>Our autumn collection has arrived{% if city %} in {{ city }}{% endif %}.</p>
    <p><a href="https://shop.example.com/autumn">See the collection</a></p>
    <p style="font-size: 12px; color: #666">
      You receive this email because you subscribed.
      <a href="{{ unsubscribe_url }}">Unsubscribe</a>
    </p>
  </body>
</html>`;

/**
 * Returns the id of a new draft delivery with sensible defaults, made by `by` (the signed-in
 * operator); its name, subject, preheader and parts are the template's when one is given
 * (a starter template, or one of the team's).
 */
export async function createDelivery(
  db: MailroomDb,
  by: string | null = null,
  now = new Date(),
  template?: Pick<StarterTemplate, 'name' | 'subject' | 'preheader'> & { html?: string; text?: string; source?: ContentSource | null },
): Promise<string> {
  const content: DeliveryContent = {
    name: template ? m.worker_new_from_template({ name: template.name }) : m.worker_new_delivery(),
    fromName: 'Mailroom Shop',
    fromAddress: 'news@shop.example.com',
    subject: template?.subject ?? 'Hello {{ first_name | default: "there" }}, the autumn collection is here',
    preheader: template?.preheader ?? '',
    // Made from a source, the HTML is compiled when the delivery is opened (and at each preparation).
    html: template ? (template.html ?? '') : SAMPLE_HTML,
    source: template?.source ? plain(template.source) : null,
    text: template?.text ?? '',
    audience: EVERYONE,
    scheduledAt: null,
    typologyId: DEFAULT_TYPOLOGY_ID,
  };
  return addDelivery(db, content, by, null, now);
}

/** Returns the id of a new draft with the content of another delivery (its name marked as a copy). */
export async function duplicateDelivery(db: MailroomDb, from: LocalDelivery, by: string | null, now = new Date()): Promise<string> {
  const {
    name,
    fromName,
    fromAddress,
    subject,
    preheader = '',
    html,
    text = '',
    source = null,
    audience,
    typologyId,
    relayId = null,
    experiment = null,
    seeds = [],
    localTime = null,
    waves = null,
  } = plain(from);
  // A copy is a new delivery: a schedule chosen for the original is not the copy's.
  const copy = m.worker_copy_of({ name }).slice(0, 200);
  const content = {
    name: copy,
    fromName,
    fromAddress,
    subject,
    preheader,
    html,
    text,
    source,
    audience,
    scheduledAt: null,
    typologyId,
    relayId,
    experiment,
    seeds,
    localTime,
    waves,
  };
  return addDelivery(db, content, by, from.id, now);
}

/**
 * Returns the id of a new draft for those who received `from` and did not open it: the same
 * content and typology with the subject given, and the audience "received, did not open"
 * that delivery (read from the replica's engagement, so it can be prepared offline).
 */
export async function resendToNonOpeners(
  db: MailroomDb,
  from: LocalDelivery,
  subject: string,
  by: string | null,
  now = new Date(),
): Promise<string> {
  const { name, fromName, fromAddress, preheader = '', html, text = '', source = null, typologyId, relayId = null } = plain(from);
  const notOpened: AudienceFilter = {
    kind: 'and',
    conditions: [{ kind: 'condition', field: DELIVERY_FIELD, operator: 'notOpened', value: from.id }],
  };
  const content: DeliveryContent = {
    name: m.worker_to_non_openers({ name }).slice(0, 200),
    fromName,
    fromAddress,
    subject,
    preheader,
    html,
    text,
    source,
    audience: notOpened,
    scheduledAt: null,
    typologyId,
    relayId,
  };
  return addDelivery(db, content, by, from.id, now);
}

async function addDelivery(db: MailroomDb, content: DeliveryContent, by: string | null, duplicateOf: string | null, now: Date) {
  const id = crypto.randomUUID();
  const at = now.toISOString();
  await db.transaction('rw', [db.deliveries, db.meta], async () => {
    const sync = newDocSync('delivery', by, duplicateOf, await stampsFor(db, 'delivery'));
    await db.deliveries.add({ id, version: 1, ...content, createdAt: at, updatedAt: at, server: null, prepared: null, sync });
  });
  return id;
}

/** Saves edited content; the version goes up, which makes any preparation stale, and the edits wait to be pushed. */
export async function saveContent(
  db: MailroomDb,
  id: string,
  content: DeliveryContent,
  now = new Date(),
  /** The stamps of the values the form showed when its operator began editing them (see recordEdits). */
  bases: Record<string, string | null> = {},
): Promise<void> {
  await db.transaction('rw', [db.deliveries, db.meta], async () => {
    const current = await db.deliveries.get(id);
    if (!current) throw new Error(`delivery ${id} does not exist`);
    if (current.server) throw new Error(`delivery ${id} was handed to the server and can no longer be edited`);
    const edited = await recordEdits(db, current, 'delivery', plain(content), bases);
    if (edited === current) return;
    await db.deliveries.put({ ...edited, version: current.version + 1, updatedAt: now.toISOString() });
  });
}

/** Records what a preparation made, for the team (its preparer is who pushes it). */
export async function recordPreparation(db: MailroomDb, id: string, summary: LocalDelivery['prepared']): Promise<void> {
  await db.transaction('rw', [db.deliveries, db.meta], async () => {
    const current = await db.deliveries.get(id);
    if (!current) return;
    const edited = await recordEdits(db, current, 'delivery', { prepared: summary });
    if (edited !== current) await db.deliveries.put(edited);
  });
}

/** Takes a value of ours that another writer replaced back (a new edit, made having seen theirs), and lets the entry go. */
export async function takeBack(db: MailroomDb, id: string, entryId: string): Promise<void> {
  await db.transaction('rw', [db.deliveries, db.meta], async () => {
    const current = await db.deliveries.get(id);
    const entry = current?.sync.overwritten.find((o) => o.id === entryId);
    if (!current || !entry) return;
    const field = entry.field === 'preparation' ? 'prepared' : entry.field;
    const edited = await recordEdits(db, current, 'delivery', { [field]: entry.value } as Partial<LocalDelivery>);
    await db.deliveries.put({
      ...edited,
      version: edited === current ? current.version : current.version + 1,
      sync: {
        ...edited.sync,
        overwritten: edited.sync.overwritten.filter((o) => o.id !== entryId),
        dismiss: [...edited.sync.dismiss, entryId],
      },
    });
  });
}

/** Lets an overwritten value of ours go without taking it back. */
export async function dismissOverwritten(db: MailroomDb, id: string, entryId: string): Promise<void> {
  await db.deliveries
    .where('id')
    .equals(id)
    .modify((d) => {
      d.sync.overwritten = d.sync.overwritten.filter((o) => o.id !== entryId);
      d.sync.dismiss = [...d.sync.dismiss, entryId];
    });
}

/**
 * Deletes a draft on every device: hidden here at once, removed once the server has it.
 * A delivery handed to the server stays (it has a log).
 */
export async function deleteDraft(db: MailroomDb, id: string): Promise<void> {
  await db.transaction('rw', [db.deliveries, db.meta], async () => {
    const current = await db.deliveries.get(id);
    if (!current || isDeleting(current)) return;
    if (current.server || current.sync.serverStatus) throw new Error(m.worker_delivery_handed_over());
    await db.deliveries.put({ ...current, sync: { ...current.sync, deleteAt: await stamp(db), refusal: null } });
  });
}
