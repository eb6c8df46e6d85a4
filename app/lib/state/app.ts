/** The app's long-lived services, one per page load. */

import { db } from '../db/instance';
import { Outbox } from './outbox.svelte';
import { compactInWorker } from '../worker/preparation-client';
import { Replica } from './replica.svelte';

export const replica = new Replica(db, compactInWorker);
export const outbox = new Outbox(db);
