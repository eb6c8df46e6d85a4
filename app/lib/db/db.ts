/**
 * The browser's database (IndexedDB through Dexie): the audience replica, the deliveries
 * being drafted, their prepared batches, and the outbox of work for the server.
 */

import Dexie, { type EntityTable } from 'dexie';
import type { PreparationResult } from '$shared/preparation';
import type { ContentSource } from '$shared/content-source';
import { DEFAULT_TYPOLOGY_ID, type Typology } from '$shared/typology';
import type { ContactHistoryEntry, Delivery, Profile, SendKpis, TemplateValue } from '$shared/types';
import type { ExclusionChunk, RecipientChunk } from './prepared-batch';
import { newSyncMeta, type SyncMeta } from './work';
import { encodeHlc } from '$shared/hlc';
import { DELIVERY_FIELDS, TYPOLOGY_FIELDS, type PreparationSummary } from '$shared/work';
import type { StoredBlock, StoredBlockDetails } from './replica-blocks';

/** A delivery as the app keeps it: the draft, plus what the server last said about it. */
export interface LocalDelivery extends Delivery {
  /** The server's live figures, kept for offline display; null until handed over. */
  server: SendKpis | null;
  /** The last preparation, as the device that prepared it recorded it for the team (work.ts's `preparation` field). */
  prepared: PreparationSummary | null;
  /** The team's document of record: stamps, edits waiting to be pushed, others' values that replaced ours (work.ts). */
  sync: SyncMeta;
}

export interface StoredPreparation extends PreparationResult {
  deliveryId: string;
  version: number;
  /** contentHash(delivery content, typology, replica version) at preparation time: differs once anything changed. */
  contentHash: string;
  preparedAt: string;
}

interface OutboxBase {
  id?: number;
  deliveryId: string;
  state: 'waiting' | 'uploading' | 'refused';
  attempts: number;
  lastError: string | null;
  createdAt: string;
}

/** A Send waiting for the server: the prepared batch goes up in chunks, then the command. */
export interface SendItem extends OutboxBase {
  kind: 'send';
  contentHash: string;
  scheduledAt: string | null;
  /** Chunks the server has acknowledged (on disk). */
  chunksDone: number;
  chunkCount: number;
}

/** A proof asked for offline. */
export interface ProofItem extends OutboxBase {
  kind: 'proof';
  proof: ProofRequest;
}

export interface ProofRequest {
  fromName: string;
  fromAddress: string;
  subject: string;
  /** Absent from a proof queued before the field existed. */
  preheader?: string;
  html: string;
  text?: string;
  to: string[];
  recipients: { email: string; values: Record<string, TemplateValue> }[];
}

/** Work for the server that survives reloads and waits for the network. */
export type OutboxItem = SendItem | ProofItem;

/** One page of changes pulled after the initial load, kept until it is folded into the blocks. */
export interface OverlayRecord {
  key?: number;
  profiles: Profile[];
  deleted: number[];
}

/** A marketer's typology, as edited; the default one is built in and not stored. */
export interface StoredTypology extends Typology {
  updatedAt: string;
  sync: SyncMeta;
}

/** A template of the team (shared/work.ts's TEMPLATE_FIELDS): content a new delivery starts from. */
export interface StoredTemplate {
  id: string;
  name: string;
  /** One line on what it is for, shown in the gallery. */
  description: string;
  subject: string;
  preheader: string;
  html: string;
  /** A written text part; '' to derive it from the HTML. */
  text: string;
  /** The MJML or the builder's blocks the HTML is made from; null when written as HTML. */
  source: ContentSource | null;
  updatedAt: string;
  sync: SyncMeta;
}

/** The messages of one delivery as the server reported them, for pressure and capacity rules. */
export interface StoredContactHistory extends ContactHistoryEntry {
  profileIds: Int32Array;
}

export interface MetaRecord {
  key: string;
  value: unknown;
}

export class MailroomDb extends Dexie {
  /** The audience replica, in columnar blocks of consecutive ids (replica-blocks.ts). */
  blocks!: EntityTable<StoredBlock, 'n'>;
  blockDetails!: EntityTable<StoredBlockDetails, 'n'>;
  /** Recent change pages laid over the blocks (replica.ts). */
  overlay!: EntityTable<OverlayRecord, 'key'>;
  deliveries!: EntityTable<LocalDelivery, 'id'>;
  preparations!: EntityTable<StoredPreparation, 'deliveryId'>;
  /** Prepared recipients and exclusions, packed per chunk (prepared-batch.ts). */
  recipientChunks!: Dexie.Table<RecipientChunk, [string, number]>;
  exclusionChunks!: Dexie.Table<ExclusionChunk, [string, number]>;
  outbox!: Dexie.Table<OutboxItem, number>;
  typologies!: EntityTable<StoredTypology, 'id'>;
  templates!: EntityTable<StoredTemplate, 'id'>;
  contactHistory!: EntityTable<StoredContactHistory, 'deliveryId'>;
  meta!: EntityTable<MetaRecord, 'key'>;

  constructor(name = 'mailroom') {
    super(name);
    this.version(1).stores({
      profiles: 'id, email',
      deliveries: 'id, updatedAt',
      preparations: 'deliveryId',
      recipients: '[deliveryId+seq], [deliveryId+email]',
      exclusions: '++id, deliveryId, [deliveryId+email]',
      outbox: '++id, deliveryId',
      meta: 'key',
    });
    // One record per profile was too slow past a few hundred thousand: the replica moves into
    // blocks and is pulled again from the start.
    this.version(2)
      .stores({ profiles: null, blocks: 'n' })
      .upgrade((tx) => tx.table('meta').bulkDelete([REPLICA_CURSOR, REPLICA_SYNCED_AT, REPLICA_TOTAL]));
    // Columns packed into one value each: the replica is pulled again in the new format.
    this.version(3)
      .stores({ blocks: 'n' })
      .upgrade(async (tx) => {
        await tx.table('blocks').clear();
        await tx.table('meta').bulkDelete([REPLICA_CURSOR, REPLICA_SYNCED_AT, REPLICA_TOTAL, REPLICA_COUNT]);
      });
    // Dates and status sources move out of the blocks that scans read, and recent changes
    // get an overlay: the replica is pulled again.
    this.version(4)
      .stores({ blocks: 'n', blockDetails: 'n', overlay: '++key' })
      .upgrade(async (tx) => {
        await tx.table('blocks').clear();
        await tx.table('meta').bulkDelete([REPLICA_CURSOR, REPLICA_SYNCED_AT, REPLICA_TOTAL, REPLICA_COUNT, REPLICA_LOADED]);
      });
    // Prepared batches are packed per chunk: earlier preparations are dropped (prepare again).
    this.version(5)
      .stores({ recipients: null, exclusions: null, recipientChunks: '[deliveryId+chunk]', exclusionChunks: '[deliveryId+chunk]' })
      .upgrade(async (tx) => {
        await tx.table('preparations').clear();
        await tx.table('outbox').clear();
      });
    // Typologies, and the contact history pressure and capacity rules count; deliveries pick
    // a typology (the default one until the marketer chooses). Block flags now also say
    // whether an address is valid and its own mailbox: the replica is pulled again.
    this.version(6)
      .stores({ typologies: 'id, name', contactHistory: 'deliveryId' })
      .upgrade(async (tx) => {
        await tx.table('blocks').clear();
        await tx.table('blockDetails').clear();
        await tx.table('overlay').clear();
        await tx.table('meta').bulkDelete([REPLICA_CURSOR, REPLICA_SYNCED_AT, REPLICA_TOTAL, REPLICA_COUNT, REPLICA_LOADED]);
        await tx
          .table('deliveries')
          .toCollection()
          .modify((delivery: { typologyId?: string }) => {
            delivery.typologyId ??= DEFAULT_TYPOLOGY_ID;
          });
      });
    // Drafts and typologies become the team's documents: what was made on this device before
    // is pushed as new (every field an edit of its own, at the time it was last changed).
    this.version(7)
      .stores({})
      .upgrade(async (tx) => {
        const node = `upgrade${Math.random().toString(36).slice(2, 8)}`;
        const upgrade = (fields: readonly string[], record: { updatedAt: string; sync?: SyncMeta }) => {
          const hlc = encodeHlc({ wall: Date.parse(record.updatedAt) || Date.now(), counter: 0 }, node);
          record.sync = newSyncMeta(null);
          for (const field of fields) record.sync.pending[field] = { hlc, base: null };
        };
        await tx
          .table('deliveries')
          .toCollection()
          .modify((delivery: LocalDelivery) => {
            delivery.prepared ??= null;
            upgrade(DELIVERY_FIELDS, delivery);
          });
        await tx
          .table('typologies')
          .toCollection()
          .modify((typology: StoredTypology) => upgrade(TYPOLOGY_FIELDS, typology));
      });
    // The team's templates, synced as drafts and typologies are.
    this.version(8).stores({ templates: 'id, name' });
  }
}

/** Meta keys of the replica. */
export const REPLICA_CURSOR = 'replica.cursor';
export const REPLICA_SYNCED_AT = 'replica.syncedAt';
export const REPLICA_TOTAL = 'replica.total';
/** Profiles in the replica (kept with the data, in the same transactions). */
export const REPLICA_COUNT = 'replica.count';
/** True once a first pull has completed: later pages go to the overlay. */
export const REPLICA_LOADED = 'replica.loaded';
/** The audience schema (custom attributes) as of the last pull. */
export const REPLICA_SCHEMA = 'replica.schema';
/** A digest of the contact history as of the last pull: part of the replica's version. */
export const REPLICA_HISTORY_STAMP = 'replica.historyStamp';
/** Who received, opened and clicked recent deliveries, and each profile's last open and click (EngagementSnapshot, ids as typed arrays). */
export const REPLICA_ENGAGEMENT = 'replica.engagement';
/** The deliveries of REPLICA_ENGAGEMENT without their ids (what the audience builder lists), and when it was pulled. */
export const REPLICA_ENGAGED_DELIVERIES = 'replica.engagedDeliveries';

/** Where the server puts tracking and unsubscribe links, as it last said (the control rule "Links reachable" reads it offline). */
export const SERVER_PUBLIC_URL = 'server.publicUrl';
/** The sizes of the images uploaded to the server, by URL, as it last listed them (control rule "Total size with images"). */
export const SERVER_IMAGE_SIZES = 'server.imageSizes';

/** The version of the replica a preparation reads: its change cursor and its contact history. */
export const replicaVersion = (cursor: number, historyStamp: string) => `${cursor}/${historyStamp}`;

/** Returns a plain copy of a value: edits may arrive as Svelte state proxies, and IndexedDB stores plain data only. */
export function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

export async function getMeta<T>(db: MailroomDb, key: string): Promise<T | undefined> {
  return (await db.meta.get(key))?.value as T | undefined;
}
