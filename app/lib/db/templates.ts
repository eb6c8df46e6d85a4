/**
 * The team's templates in the browser database: any delivery's content saved under a name,
 * offered in the gallery beside the starter templates, on every device of the team (synced
 * as drafts and typologies are, work.ts), offline too.
 */

import { m } from '$lib/i18n.svelte';
import type { DeliveryContent } from '$shared/types';
import { plain, type MailroomDb, type StoredTemplate } from './db';
import { isDeleting, newDocSync, stamp, stampsFor } from './work';

/** What a template holds of a delivery: its message, not its audience, sender or schedule. */
export type TemplateContent = Pick<StoredTemplate, 'name' | 'description' | 'subject' | 'preheader' | 'html' | 'text' | 'source'>;

/** Returns the team's templates, by name. */
export async function listTemplates(db: MailroomDb): Promise<StoredTemplate[]> {
  return (await db.templates.orderBy('name').toArray()).filter((t) => !isDeleting(t));
}

/** Saves the message of a delivery as a new template of the team, made by `by`; returns its id. Throws when the name is empty. */
export async function saveAsTemplate(
  db: MailroomDb,
  content: Pick<DeliveryContent, 'subject' | 'preheader' | 'html' | 'text' | 'source'>,
  about: { name: string; description: string },
  by: string | null,
  now = new Date(),
): Promise<string> {
  const name = about.name.trim();
  if (!name) throw new Error(m.worker_template_name_needed());
  const id = crypto.randomUUID();
  const { subject, preheader = '', html, text = '', source = null } = plain(content);
  await db.transaction('rw', [db.templates, db.meta], async () => {
    const sync = newDocSync('template', by, null, await stampsFor(db, 'template'));
    const description = about.description.trim().slice(0, 500);
    await db.templates.add({
      id,
      name: name.slice(0, 200),
      description,
      subject,
      preheader,
      html,
      text,
      source,
      updatedAt: now.toISOString(),
      sync,
    });
  });
  return id;
}

/** Deletes a template on every device (hidden here at once, removed once the server has it). Deliveries made from it keep their content. */
export async function deleteTemplate(db: MailroomDb, id: string): Promise<void> {
  await db.transaction('rw', [db.templates, db.meta], async () => {
    const current = await db.templates.get(id);
    if (!current) return;
    await db.templates.put({ ...current, sync: { ...current.sync, deleteAt: await stamp(db), refusal: null } });
  });
}
