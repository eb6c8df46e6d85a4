/**
 * The browser's database (IndexedDB through Dexie): the audience replica, the deliveries
 * being drafted, their prepared batches, and the outbox of work for the server.
 */

import Dexie, { type EntityTable } from 'dexie';
import type { PreparationResult } from '$shared/preparation';
import type { Delivery, Exclusion, PreparedRecipient, Profile, SendKpis } from '$shared/types';

/** A delivery as the app keeps it: the draft, plus what the server last said about it. */
export interface LocalDelivery extends Delivery {
  /** The server's live figures, kept for offline display; null until handed over. */
  server: SendKpis | null;
}

export interface StoredPreparation extends PreparationResult {
  deliveryId: string;
  version: number;
  /** contentHash(delivery content, replica cursor) at preparation time: differs once anything changed. */
  contentHash: string;
  preparedAt: string;
}

export interface StoredRecipient extends PreparedRecipient {
  deliveryId: string;
}

export interface StoredExclusion extends Exclusion {
  id?: number;
  deliveryId: string;
}

/** Work for the server that survives reloads and waits for the network. */
export interface OutboxItem {
  id?: number;
  deliveryId: string;
  kind: 'send';
  contentHash: string;
  scheduledAt: string | null;
  /** Chunks the server has acknowledged (on disk). */
  chunksDone: number;
  chunkCount: number;
  state: 'waiting' | 'uploading' | 'refused';
  attempts: number;
  lastError: string | null;
  createdAt: string;
}

export interface MetaRecord {
  key: string;
  value: unknown;
}

export class MailroomDb extends Dexie {
  profiles!: EntityTable<Profile, 'id'>;
  deliveries!: EntityTable<LocalDelivery, 'id'>;
  preparations!: EntityTable<StoredPreparation, 'deliveryId'>;
  recipients!: Dexie.Table<StoredRecipient, [string, number]>;
  exclusions!: EntityTable<StoredExclusion, 'id'>;
  outbox!: EntityTable<OutboxItem, 'id'>;
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
  }
}

/** Meta keys of the replica. */
export const REPLICA_CURSOR = 'replica.cursor';
export const REPLICA_SYNCED_AT = 'replica.syncedAt';
export const REPLICA_TOTAL = 'replica.total';

export async function getMeta<T>(db: MailroomDb, key: string): Promise<T | undefined> {
  return (await db.meta.get(key))?.value as T | undefined;
}
