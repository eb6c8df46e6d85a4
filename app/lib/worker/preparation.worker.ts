/**
 * The preparation worker: scans the local audience replica, applies the typology rules,
 * renders every message, and writes the prepared batch to Dexie in one transaction. The
 * page hears progress through a callback and gets only a small summary back.
 */

import { expose } from 'comlink';
import { compileAudience, type AudienceFilter } from '$shared/audience-filter';
import { contentHash } from '$shared/content-hash';
import { Preparation, type PreparationResult } from '$shared/preparation';
import type { PreparationKpis, Profile } from '$shared/types';
import { AnalysisBuilder, whatIf, type AudienceAnalysis, type SwitchableRule } from '$shared/what-if';
import { getMeta, MailroomDb, REPLICA_COUNT, REPLICA_CURSOR, type StoredPreparation } from '../db/db';
import { BatchWriter, savePreparedBatch } from '../db/prepared-batch';
import { compactReplica, replicaSchema, scanProfiles, searchProfiles } from '../db/replica';

export type PrepareOutcome =
  | { ok: true; status: PreparationResult['status']; kpis: PreparationResult['kpis'] }
  | { ok: false; code: 'cancelled' | 'not-found' | 'busy'; message: string };

export interface PrepareProgress {
  scanned: number;
  total: number;
}

const db = new MailroomDb();
/** The what-if analysis of each delivery's last preparation, by content hash. */
const analyses = new Map<string, { hash: string; analysis: AudienceAnalysis }>();
let current: { deliveryId: string; cancelled: boolean } | null = null;

const api = {
  /** Returns the outcome of preparing the delivery; results are in Dexie when it resolves with ok. */
  async prepare(deliveryId: string, onProgress: (progress: PrepareProgress) => void): Promise<PrepareOutcome> {
    if (current) return { ok: false, code: 'busy', message: 'Another preparation is running; wait for it or stop it.' };
    const run = (current = { deliveryId, cancelled: false });
    try {
      return await prepare(deliveryId, run, onProgress);
    } finally {
      current = null;
    }
  },

  /** Returns up to `limit` profiles of the replica whose email or name starts with the query (case-insensitive). */
  search(query: string, limit: number): Promise<Profile[]> {
    return searchProfiles(db, query, limit);
  },

  /**
   * Returns the KPIs the delivery's last preparation would have had with only `enabled`
   * filtering rules, without preparing again (the analysis is redone from the replica when
   * this worker did not keep it, e.g. after a reload).
   */
  async whatIf(deliveryId: string, enabled: SwitchableRule[]): Promise<PreparationKpis | null> {
    const prepared = await db.preparations.get(deliveryId);
    const delivery = await db.deliveries.get(deliveryId);
    if (!prepared || !delivery) return null;
    let cached = analyses.get(deliveryId);
    if (cached?.hash !== prepared.contentHash) {
      const inAudience = compileAudience(delivery.audience, await replicaSchema(db));
      const builder = new AnalysisBuilder();
      await scanProfiles(db, (profiles) => {
        for (const profile of profiles) if (inAudience(profile)) builder.add(profile);
      });
      cached = { hash: prepared.contentHash, analysis: builder.finish() };
      analyses.set(deliveryId, cached);
    }
    return whatIf(cached.analysis, new Set(enabled));
  },

  /** Returns how many profiles of the replica are in the audience (the builder's live count). */
  async countAudience(filter: AudienceFilter): Promise<number> {
    const inAudience = compileAudience(filter, await replicaSchema(db));
    let count = 0;
    await scanProfiles(db, (profiles) => {
      for (const profile of profiles) if (inAudience(profile)) count++;
    });
    return count;
  },

  /** Folds the replica's overlay of recent changes into its blocks. */
  compact(): Promise<void> {
    return compactReplica(db);
  },

  /** Cancels the running preparation of the delivery; nothing of it is written. */
  cancel(deliveryId: string): void {
    if (current?.deliveryId === deliveryId) current.cancelled = true;
  },
};

export type PreparationApi = typeof api;

async function prepare(deliveryId: string, run: { cancelled: boolean }, onProgress: (p: PrepareProgress) => void): Promise<PrepareOutcome> {
  const delivery = await db.deliveries.get(deliveryId);
  if (!delivery) return { ok: false, code: 'not-found', message: 'This delivery no longer exists.' };
  const cursor = (await getMeta<number>(db, REPLICA_CURSOR)) ?? 0;
  const hash = contentHash(delivery, cursor);
  const total = (await getMeta<number>(db, REPLICA_COUNT)) ?? 0;
  onProgress({ scanned: 0, total });

  const started = Preparation.start(delivery, await replicaSchema(db));
  const batch = new BatchWriter(deliveryId);
  let result: PreparationResult;
  if (!started.ok) {
    result = started.result;
  } else {
    const preparation = started.preparation;
    let scanned = 0;
    await scanProfiles(db, (profiles) => {
      // Each read of the replica lets a cancel message in: check after every one.
      if (run.cancelled) return false;
      const chunk = preparation.addProfiles(profiles);
      for (const r of chunk.recipients) batch.addRecipient(r);
      for (const e of chunk.exclusions) batch.addExclusion(e);
      scanned += profiles.length;
      onProgress({ scanned, total });
    });
    if (run.cancelled) return { ok: false, code: 'cancelled', message: 'Preparation stopped; the delivery is as it was.' };
    result = started.preparation.finish();
    batch.finish();
    analyses.set(deliveryId, { hash, analysis: started.preparation.whatIfAnalysis() });
  }

  const preparation: StoredPreparation = {
    ...result,
    deliveryId,
    version: delivery.version,
    contentHash: hash,
    preparedAt: new Date().toISOString(),
  };
  await savePreparedBatch(db, preparation, batch);
  return { ok: true, status: result.status, kpis: result.kpis };
}

expose(api);
