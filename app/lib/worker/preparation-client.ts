/** The page's handle on the preparation worker (one worker for the app's lifetime). */

import { proxy, wrap, type Remote } from 'comlink';
import type { Locale } from '$lib/i18n.svelte';
import type { AudienceFilter } from '$shared/audience-filter';
import type { PreparationKpis, Profile } from '$shared/types';
import type { Trace } from '$shared/why';
import type { PrepareOutcome, PrepareProgress, PreparationApi, WhatIfSettings } from './preparation-api';

let remote: Remote<PreparationApi> | null = null;

function worker(): Remote<PreparationApi> {
  remote ??= wrap<PreparationApi>(new Worker(new URL('./preparation.worker.ts', import.meta.url), { type: 'module' }));
  return remote;
}

/** Returns the outcome of preparing the delivery in the worker, its log and messages in `locale` (the page's). */
export function prepareInWorker(
  deliveryId: string,
  onProgress: (progress: PrepareProgress) => void,
  locale: Locale,
): Promise<PrepareOutcome> {
  return worker().prepare(deliveryId, proxy(onProgress), locale);
}

/** Returns profiles of the local audience whose email or name starts with the query. */
export function searchAudience(query: string, limit = 25): Promise<Profile[]> {
  return worker().search(query, limit);
}

/** Returns the first profiles of the local audience, in id order. */
export function firstProfiles(limit: number): Promise<Profile[]> {
  return worker().firstProfiles(limit);
}

/** Returns the KPIs of the delivery's last preparation with other rule settings (null when it has none). */
export function whatIfInWorker(deliveryId: string, settings: WhatIfSettings): Promise<PreparationKpis | null> {
  return worker().whatIf(deliveryId, settings);
}

/** Returns the trace of a profile through the delivery's rules. */
export function explainInWorker(deliveryId: string, profileId: number): Promise<Trace | null> {
  return worker().explain(deliveryId, profileId);
}

/** Returns how many profiles of the local audience the filter selects. */
export function countAudience(filter: AudienceFilter): Promise<number> {
  return worker().countAudience(filter);
}

/** Folds the replica's recent changes into its blocks, in the worker. */
export function compactInWorker(): Promise<void> {
  return worker().compact();
}

export function cancelPreparation(deliveryId: string): Promise<void> {
  return worker().cancel(deliveryId);
}

export type { PrepareOutcome, PrepareProgress, WhatIfSettings };
