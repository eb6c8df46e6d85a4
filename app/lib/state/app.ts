/** The app's long-lived services, one per page load. */

import { db } from '../db/instance';
import { Outbox } from './outbox.svelte';
import { compactInWorker } from '../worker/preparation-client';
import { Replica } from './replica.svelte';
import { WorkSync } from './work-sync.svelte';

export const replica = new Replica(db, compactInWorker);
/** The team's drafts and typologies, pushed and pulled (work-sync.svelte.ts). */
export const work = new WorkSync(db);
// A delivery's edits reach the team before its batch is handed over (and locks it).
export const outbox = new Outbox(db, () => work.push());
