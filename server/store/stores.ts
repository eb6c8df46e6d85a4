/**
 * Every store of Mailroom over one database: SQLite (a file, the embedded default) or
 * PostgreSQL (`DATABASE_URL`, for any number of nodes). The engine, the application layer
 * and the routes see only these interfaces; which engine runs is this module's business.
 */

import type { LiveBus } from '../live/live-bus';
import type { AssetStore } from './assets';
import type { AudienceStore } from './audience';
import type { AuditStore } from './audit';
import type { DeliveryStore } from './deliveries';
import type { SendJournal } from './journal';
import type { LateOutcomeStore } from './late-outcomes';
import type { WebhookStore } from './webhooks';
import type { SubscriberStore } from './subscribers';
import type { MailboxStore } from './mailbox';
import type { NodeStore } from './nodes';
import type { OperatorStore } from './operators';
import type { ReportStore } from './reports';
import type { SettingsStore } from './settings';
import type { TrackingStore } from './tracking';
import type { WorkStore } from './work';

export interface Stores {
  engine: 'sqlite' | 'postgres';
  /** Where the data is, for people: the SQLite file, or the PostgreSQL server and database (no password). */
  location: string;
  /** This process's node: it names the claims it makes. */
  nodeId: string;
  /** True when this open created the database (a new SQLite file, a PostgreSQL database without Mailroom's schema). */
  created: boolean;
  audience: AudienceStore;
  deliveries: DeliveryStore;
  journal: SendJournal;
  tracking: TrackingStore;
  reports: ReportStore;
  operators: OperatorStore;
  settings: SettingsStore;
  mailbox: MailboxStore;
  nodes: NodeStore;
  audit: AuditStore;
  /** Webhooks out and their deliveries (store/webhooks.ts). */
  webhooks: WebhookStore;
  /** Sign-up forms, consents and erasure (store/subscribers.ts). */
  subscribers: SubscriberStore;
  /** Bounces and complaints reported later (store/late-outcomes.ts). */
  lateOutcomes: LateOutcomeStore;
  /** Images uploaded for messages (store/assets.ts). */
  assets: AssetStore;
  /** Drafts and typologies, the team's documents (store/work.ts). */
  work: WorkStore;
  /** Tells every node's listeners which deliveries changed (in-process on SQLite, LISTEN/NOTIFY on PostgreSQL). */
  bus: LiveBus;
  /** Resolves when the database answers a query; rejects with why not. */
  ping(): Promise<void>;
  /**
   * Runs a statement written for both engines (`?` placeholders) and resolves its rows: for
   * tests and benchmarks that look inside, never for the product's own reads and writes.
   */
  query<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** Writes what waits (tracking events) and closes the database. */
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres://… selects PostgreSQL; otherwise SQLite at `file`. */
  databaseUrl?: string | null;
  /** The SQLite file (':memory:' for one in memory). */
  file?: string;
  nodeId: string;
  /** Coalescing interval of live figures. */
  liveIntervalMs?: number;
}

/** Opens the stores of the engine the options name, with the schema migrated to the latest. */
export async function openStores(options: StoreOptions): Promise<Stores> {
  if (options.databaseUrl) {
    const { openPostgresStores } = await import('./postgres/stores');
    return openPostgresStores(options.databaseUrl, options.nodeId, options.liveIntervalMs);
  }
  const { openSqliteStores } = await import('./sqlite/stores');
  return openSqliteStores(options.file ?? ':memory:', options.nodeId, options.liveIntervalMs);
}

/** Returns a database URL with its password replaced by ****. */
export function maskUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '****';
    return parsed.toString();
  } catch {
    return 'an address that is not a URL';
  }
}
