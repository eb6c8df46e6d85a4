/**
 * Typologies in the browser database. The default one is built in (shared/typology.ts) and
 * read-only; a marketer's own start as a copy of another and are edited here, offline too,
 * then pushed to the team (work.ts): every device gets them, and every draft using one.
 *
 * The preparation worker reads typologies through this module: its words come from
 * Paraglide's messages, not $lib/i18n.svelte (a rune module the worker cannot run); on the
 * page, they follow the language chosen there.
 */

import { m } from '$lib/paraglide/messages';
import { getLocale } from '$lib/paraglide/runtime';
import { DEFAULT_TYPOLOGY, DEFAULT_TYPOLOGY_ID, seedsOf, typologyProblem, type Typology } from '$shared/typology';
import type { AttributeDefinition } from '$shared/types';
import { plain, type MailroomDb, type StoredTypology } from './db';
import { isDeleting, newDocSync, recordEdits, stamp, stampsFor } from './work';
import { preparationWords } from '../worker/preparation-words';

/** Returns the typology with this id (the default one included), or undefined when it was deleted. */
export async function typologyOf(db: MailroomDb, id: string): Promise<Typology | undefined> {
  if (id === DEFAULT_TYPOLOGY_ID) return DEFAULT_TYPOLOGY;
  const typology = await db.typologies.get(id);
  return typology && !isDeleting(typology) ? typology : undefined;
}

/** Returns every typology: the default one first, then the marketer's by name. */
export async function listTypologies(db: MailroomDb): Promise<Typology[]> {
  const own = await db.typologies.orderBy('name').toArray();
  return [DEFAULT_TYPOLOGY, ...own.filter((t) => !isDeleting(t))];
}

/** Creates a copy of `from` under a new name, made by `by`; returns its id. */
export async function copyTypology(
  db: MailroomDb,
  from: Typology,
  name: string,
  by: string | null = null,
  now = new Date(),
): Promise<string> {
  const id = crypto.randomUUID();
  await db.transaction('rw', [db.typologies, db.meta], async () => {
    const { rules, requiresApproval = false } = plain(from);
    const sync = newDocSync('typology', by, from.id === DEFAULT_TYPOLOGY_ID ? null : from.id, await stampsFor(db, 'typology'));
    await db.typologies.add({ id, name, rules, requiresApproval, updatedAt: now.toISOString(), sync });
  });
  return id;
}

/**
 * Saves an edited typology; throws with the problem, in the marketer's words, when it is not
 * valid. `loaded` is the typology as the editor loaded it (the stored one unless given): only
 * the fields changed since are saved, so another operator's change of the others, arrived
 * meanwhile, stays.
 */
export async function saveTypology(
  db: MailroomDb,
  typology: Typology,
  schema: readonly AttributeDefinition[],
  loaded?: Typology,
  now = new Date(),
): Promise<void> {
  if (typology.id === DEFAULT_TYPOLOGY_ID) throw new Error(m.worker_default_typology_unchanged());
  await db.transaction('rw', [db.typologies, db.meta], async () => {
    const current = await db.typologies.get(typology.id);
    if (!current || isDeleting(current)) throw new Error(m.worker_typology_deleted());
    const mine = plain({
      name: typology.name,
      rules: typology.rules,
      requiresApproval: typology.requiresApproval ?? false,
      // As typed, one a line; blank lines are no address.
      seeds: (typology.seeds ?? []).map((s) => s.trim()).filter(Boolean),
    });
    const base = loaded ?? current;
    const before = { name: base.name, rules: base.rules, requiresApproval: base.requiresApproval ?? false, seeds: base.seeds ?? [] };
    const changed = Object.fromEntries(
      Object.entries(mine).filter(([field, value]) => JSON.stringify(value) !== JSON.stringify(before[field as keyof typeof before])),
    ) as Partial<StoredTypology>;
    const problem = typologyProblem({ ...current, ...changed }, schema);
    if (problem) throw new Error(problem);
    const seeds = seedsOf({ seeds: mine.seeds }, {}, preparationWords(getLocale()));
    if ('problem' in seeds) throw new Error(seeds.problem);
    const edited = await recordEdits(db, current, 'typology', changed);
    if (edited !== current) await db.typologies.put({ ...edited, updatedAt: now.toISOString() });
  });
}

/** Deletes a typology no draft uses; throws, naming the drafts, when some still do. */
export async function deleteTypology(db: MailroomDb, id: string): Promise<void> {
  if (id === DEFAULT_TYPOLOGY_ID) throw new Error(m.worker_default_typology_kept());
  await db.transaction('rw', [db.typologies, db.deliveries, db.meta], async () => {
    const users = await db.deliveries.filter((d) => d.typologyId === id && d.server === null && !isDeleting(d)).toArray();
    if (users.length > 0) {
      const names = users.map((d) => `"${d.name}"`).join(', ');
      throw new Error(m.worker_typology_in_use({ names }));
    }
    const current = await db.typologies.get(id);
    if (!current) return;
    // Hidden here, removed once the server has it (also one whose first push is still on its way).
    await db.typologies.put({ ...current, sync: { ...current.sync, deleteAt: await stamp(db), refusal: null } });
  });
}
