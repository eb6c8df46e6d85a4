/** The team's templates as the app shows them (db/templates.ts). */

import { db } from '../db/instance';
import { listTemplates } from '../db/templates';
import { LiveQuery } from './live-query.svelte';

export const templates = new LiveQuery(() => listTemplates(db));
