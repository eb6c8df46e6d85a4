/**
 * What the preparation worker does: scans the local audience replica, applies the typology
 * rules, renders every subject, and writes the prepared batch to Dexie in one transaction.
 * The page hears progress through a callback and gets only a small summary back. The
 * worker (preparation.worker.ts) exposes this API over comlink; tests call it directly.
 *
 * The log is written in the locale the page asks for (preparation-words.ts), and so are the
 * outcomes' messages; the worker imports no rune module (see preparation-words.ts).
 */

import { m } from '$lib/paraglide/messages';
import { baseLocale, type Locale } from '$lib/paraglide/runtime';

import { compileAudienceColumns, type AudienceFilter } from '$shared/audience-filter';
import { contentHash } from '$shared/content-hash';
import { engagedVersion, EngagementIndex, usesEngagement } from '$shared/engagement';
import { Preparation, type PreparationResult } from '$shared/preparation';
import { AnalysisBuilder, CompiledRules, whatIf, type Analysis, type RuleSettings } from '$shared/recipient-rules';
import { recipientRules, type Typology } from '$shared/typology';
import type { AttributeDefinition, ContactHistoryEntry, Delivery, PreparationKpis, Profile } from '$shared/types';
import { explainProfile, type Trace } from '$shared/why';
import {
  getMeta,
  MailroomDb,
  REPLICA_COUNT,
  REPLICA_ENGAGED_DELIVERIES,
  SERVER_IMAGE_SIZES,
  SERVER_PUBLIC_URL,
  type StoredPreparation,
} from '../db/db';
import { BatchWriter, exclusionOf, savePreparedBatch, variantOf } from '../db/prepared-batch';
import { VARIANT_NAMES } from '$shared/experiment';
import { localDue, localTimeProblem } from '$shared/send-time';
import {
  compactReplica,
  engagementStampOf,
  getProfile,
  replicaEngagement,
  replicaSchema,
  replicaState,
  scanBlocks,
  searchProfiles,
} from '../db/replica';
import { typologyOf } from '../db/typologies';
import { preparationWords } from './preparation-words';

export type PrepareOutcome =
  | { ok: true; status: PreparationResult['status']; kpis: PreparationResult['kpis'] }
  | { ok: false; code: 'cancelled' | 'not-found' | 'busy'; message: string };

export interface PrepareProgress {
  scanned: number;
  total: number;
}

/** A what-if's settings as they cross to the worker: rule ids on, and limits by rule id. */
export interface WhatIfSettings {
  enabled: string[];
  limits: [string, number][];
}

/** Returns the preparation API over the browser database `db`. */
export function createPreparationApi(db: MailroomDb) {
  /** The what-if analysis of each delivery's last preparation, by content hash. */
  const analyses = new Map<string, { hash: string; rules: CompiledRules; analysis: Analysis }>();
  let current: { deliveryId: string; cancelled: boolean } | null = null;
  /** The replica's engagement, read once per pull. */
  let engaged: { stamp: string; index: EngagementIndex } | null = null;

  /** Returns the engagement index when any of `parts` reads engagement, else undefined (nothing is read). */
  async function engagementFor(...parts: unknown[]): Promise<EngagementIndex | undefined> {
    if (!parts.some(usesEngagement)) return undefined;
    // The stamp a preparation's version carries (replicaState): the index is the engagement that version names.
    const stamp = engagementStampOf(await getMeta<{ pulledAt: string; etag?: string | null }>(db, REPLICA_ENGAGED_DELIVERIES));
    if (engaged?.stamp !== stamp) engaged = { stamp, index: new EngagementIndex((await replicaEngagement(db)).snapshot) };
    return engaged.index;
  }

  const api = {
    /** Returns the outcome of preparing the delivery, its log and messages in `locale`; results are in Dexie when it resolves with ok. */
    async prepare(
      deliveryId: string,
      onProgress: (progress: PrepareProgress) => void,
      locale: Locale = baseLocale,
    ): Promise<PrepareOutcome> {
      if (current) return { ok: false, code: 'busy', message: m.worker_busy({}, { locale }) };
      const run = (current = { deliveryId, cancelled: false });
      try {
        return await prepare(deliveryId, run, onProgress, locale);
      } finally {
        current = null;
      }
    },

    /** Returns up to `limit` profiles of the replica in which every word of the query is found in the address or the name (ignoring case and accents). */
    search(query: string, limit: number): Promise<Profile[]> {
      return searchProfiles(db, query, limit);
    },

    /** Returns the first `limit` profiles of the replica in id order (what the live preview steps through). */
    async firstProfiles(limit: number): Promise<Profile[]> {
      const found: Profile[] = [];
      await scanBlocks(db, (block) => {
        for (const profile of block.profiles()) {
          if (found.length >= limit) return false;
          found.push(profile);
        }
        return found.length < limit;
      });
      return found;
    },

    /**
     * Returns the KPIs the delivery's last preparation would have had with other rule
     * settings, without preparing again (the analysis is redone from the replica when this
     * worker did not keep it, e.g. after a reload).
     */
    async whatIf(deliveryId: string, settings: WhatIfSettings): Promise<PreparationKpis | null> {
      const prepared = await db.preparations.get(deliveryId);
      if (!prepared || prepared.status !== 'prepared') return null;
      let cached = analyses.get(deliveryId);
      if (cached?.hash !== prepared.contentHash) {
        const inputs = await inputsOf(deliveryId);
        if (!inputs) return null;
        const engagement = await engagementFor(inputs.delivery.audience, inputs.typology);
        const rules = compileRules(
          inputs.delivery,
          inputs.typology,
          inputs.schema,
          inputs.history,
          new Date(prepared.preparedAt),
          engagement,
        );
        const builder = new AnalysisBuilder(rules);
        const inAudience = compileAudienceColumns(inputs.delivery.audience, inputs.schema, new Date(prepared.preparedAt));
        await scanBlocks(db, (replicaBlock) => {
          const block = engagement ? engagement.view(replicaBlock) : replicaBlock;
          const test = inAudience(block);
          const bound = rules.bind(block);
          for (let i = 0; i < block.length; i++) if (test(i)) builder.add(bound, i);
        });
        cached = { hash: prepared.contentHash, rules, analysis: builder.finish() };
        analyses.set(deliveryId, cached);
      }
      const rule: RuleSettings = { enabled: new Set(settings.enabled), limits: new Map(settings.limits) };
      return whatIf(cached.rules, cached.analysis, rule);
    },

    /** Returns the trace of the profile through the delivery (its last preparation says who was a duplicate or overflow). */
    async explain(deliveryId: string, profileId: number): Promise<Trace | null> {
      const inputs = await inputsOf(deliveryId);
      const profile = await getProfile(db, profileId);
      if (!inputs || !profile) return null;
      const prepared = await db.preparations.get(deliveryId);
      const now = prepared ? new Date(prepared.preparedAt) : new Date();
      const engagement = await engagementFor(inputs.delivery.audience, inputs.typology);
      const rules = compileRules(inputs.delivery, inputs.typology, inputs.schema, inputs.history, now, engagement);
      const exclusion = prepared ? await exclusionOf(db, deliveryId, profileId) : undefined;
      const trace = explainProfile(inputs.delivery.audience, inputs.schema, profile, rules, exclusion, now, engagement);
      // With an A/B test, which message the recipient gets: a variant in the test population, or the winner.
      if (inputs.delivery.experiment && prepared && !trace.excludedBy && trace.inAudience) {
        const variant = await variantOf(db, deliveryId, profileId);
        if (variant !== undefined) {
          trace.variant = variant;
          trace.outcome =
            variant === null
              ? 'Receives the message: in the rest of the audience, which gets the winner of the A/B test.'
              : `Receives the message: in the test population, variant ${VARIANT_NAMES[variant]}.`;
        }
      }
      return trace;
    },

    /** Returns how many profiles of the replica are in the audience (the builder's live count). */
    async countAudience(filter: AudienceFilter): Promise<number> {
      const inAudience = compileAudienceColumns(filter, await replicaSchema(db));
      const engagement = await engagementFor(filter);
      let count = 0;
      await scanBlocks(db, (replicaBlock) => {
        const test = inAudience(engagement ? engagement.view(replicaBlock) : replicaBlock);
        for (let i = 0; i < replicaBlock.length; i++) if (test(i)) count++;
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

  /** What a preparation of the delivery reads besides the profiles; null when the delivery is gone. */
  async function inputsOf(deliveryId: string): Promise<{
    delivery: Delivery;
    typology: Typology | undefined;
    schema: AttributeDefinition[];
    history: ContactHistoryEntry[];
    version: string;
  } | null> {
    const delivery = await db.deliveries.get(deliveryId);
    if (!delivery) return null;
    const [typology, schema, { history, version, engagementStamp }] = await Promise.all([
      typologyOf(db, delivery.typologyId),
      replicaSchema(db),
      replicaState(db),
    ]);
    // A preparation that reads engagement goes stale when engagement changes (engagement.ts).
    return { delivery, typology, schema, history, version: engagedVersion(version, engagementStamp, delivery.audience, typology) };
  }

  function compileRules(
    delivery: Delivery,
    typology: Typology | undefined,
    schema: AttributeDefinition[],
    history: ContactHistoryEntry[],
    now: Date,
    engagement: EngagementIndex | undefined,
  ): CompiledRules {
    const sendAt = delivery.scheduledAt ? new Date(delivery.scheduledAt) : now;
    return new CompiledRules(typology ? recipientRules(typology) : [], {
      deliveryId: delivery.id,
      sendAt,
      history,
      schema,
      now,
      engagement,
      // As the preparation does: pressure around each recipient's own local send time.
      sendTimeOf: delivery.localTime && !localTimeProblem(delivery.localTime) ? localDue(delivery.localTime, sendAt) : undefined,
    });
  }

  async function prepare(
    deliveryId: string,
    run: { cancelled: boolean },
    onProgress: (p: PrepareProgress) => void,
    locale: Locale,
  ): Promise<PrepareOutcome> {
    const inputs = await inputsOf(deliveryId);
    if (!inputs) return { ok: false, code: 'not-found', message: m.worker_delivery_gone({}, { locale }) };
    const { delivery, typology, schema, history, version } = inputs;
    if (!typology) return { ok: false, code: 'not-found', message: m.worker_typology_gone({}, { locale }) };
    const hash = contentHash(delivery, typology, version);
    const total = (await getMeta<number>(db, REPLICA_COUNT)) ?? 0;
    onProgress({ scanned: 0, total });

    const startedAt = new Date();
    // Where the server puts tracking links, as it last said (for the control rule "Links reachable"); offline too.
    const publicUrl = await getMeta<string>(db, SERVER_PUBLIC_URL);
    const imageSizes = await getMeta<Record<string, number>>(db, SERVER_IMAGE_SIZES);
    const engagement = await engagementFor(delivery.audience, typology);
    const words = preparationWords(locale);
    const started = Preparation.start(delivery, {
      typology,
      schema,
      history,
      now: () => new Date(),
      publicUrl,
      imageSizes,
      engagement,
      words,
    });
    const batch = new BatchWriter(deliveryId);
    let result: PreparationResult;
    if (!started.ok) {
      result = started.result;
    } else {
      const preparation = started.preparation;
      let scanned = 0;
      let reported = 0;
      await scanBlocks(db, (block) => {
        // Each read of the replica lets a cancel message in: check after every one.
        if (run.cancelled) return false;
        const chunk = preparation.addBlock(block);
        for (const r of chunk.recipients) batch.addRecipient(r);
        for (const e of chunk.exclusions) batch.addExclusion(e);
        scanned += block.length;
        if (scanned - reported >= 50_000 || scanned === total) {
          reported = scanned;
          onProgress({ scanned, total });
        }
      });
      if (run.cancelled) return { ok: false, code: 'cancelled', message: m.worker_stopped({}, { locale }) };
      const finished = preparation.finish();
      for (const r of finished.last.recipients) batch.addRecipient(r);
      for (const e of finished.last.exclusions) batch.addExclusion(e);
      result = finished.result;
      batch.finish();
      analyses.set(deliveryId, { hash, rules: preparation.rules, analysis: preparation.whatIfAnalysis() });
    }

    const preparation: StoredPreparation = {
      ...result,
      deliveryId,
      version: delivery.version,
      contentHash: hash,
      preparedAt: startedAt.toISOString(),
    };
    await savePreparedBatch(db, preparation, batch);
    return { ok: true, status: result.status, kpis: result.kpis };
  }

  return api;
}

export type PreparationApi = ReturnType<typeof createPreparationApi>;
