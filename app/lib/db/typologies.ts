/**
 * Typologies in the browser database. The default one is built in (shared/typology.ts) and
 * read-only; a marketer's own start as a copy of another and are edited here, offline too.
 */

import { DEFAULT_TYPOLOGY, DEFAULT_TYPOLOGY_ID, typologyProblem, type Typology } from '$shared/typology';
import type { AttributeDefinition } from '$shared/types';
import { plain, type MailroomDb, type StoredTypology } from './db';

/** Returns the typology with this id (the default one included), or undefined when it was deleted. */
export async function typologyOf(db: MailroomDb, id: string): Promise<Typology | undefined> {
  if (id === DEFAULT_TYPOLOGY_ID) return DEFAULT_TYPOLOGY;
  return db.typologies.get(id);
}

/** Returns every typology: the default one first, then the marketer's by name. */
export async function listTypologies(db: MailroomDb): Promise<Typology[]> {
  return [DEFAULT_TYPOLOGY, ...(await db.typologies.orderBy('name').toArray())];
}

/** Creates a copy of `from` under a new name; returns its id. */
export async function copyTypology(db: MailroomDb, from: Typology, name: string, now = new Date()): Promise<string> {
  const id = crypto.randomUUID();
  const copy: StoredTypology = { ...plain(from), id, name, updatedAt: now.toISOString() };
  await db.typologies.add(copy);
  return id;
}

/** Saves an edited typology; throws with the problem, in the marketer's words, when it is not valid. */
export async function saveTypology(
  db: MailroomDb,
  typology: Typology,
  schema: readonly AttributeDefinition[],
  now = new Date(),
): Promise<void> {
  if (typology.id === DEFAULT_TYPOLOGY_ID) throw new Error('The default typology cannot be changed: make a copy and edit that.');
  const problem = typologyProblem(typology, schema);
  if (problem) throw new Error(problem);
  await db.typologies.put({ ...plain(typology), updatedAt: now.toISOString() });
}

/** Deletes a typology no draft uses; throws, naming the drafts, when some still do. */
export async function deleteTypology(db: MailroomDb, id: string): Promise<void> {
  if (id === DEFAULT_TYPOLOGY_ID) throw new Error('The default typology cannot be deleted.');
  await db.transaction('rw', [db.typologies, db.deliveries], async () => {
    const users = await db.deliveries.filter((d) => d.typologyId === id && d.server === null).toArray();
    if (users.length > 0) {
      const names = users.map((d) => `"${d.name}"`).join(', ');
      throw new Error(`This typology is used by ${names}: pick another typology there first.`);
    }
    await db.typologies.delete(id);
  });
}
