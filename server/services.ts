/** Everything a request handler may use, built once at start and handed to the app. */

import { IMPORT_MAX_BYTES } from './http/body-limits';
import { createSignInLimits, type SignInLimitOptions, type SignInLimits } from './http/sign-in-limits';
import { LiveBus } from './live/live-bus';
import { silentLogger, type Logger } from './observability/logger';
import { createMetrics, type Metrics } from './observability/metrics';
import { composeMessage } from './sending/compose';
import { SendEngine, type EngineEvent, type EngineOptions } from './sending/engine';
import type { Messenger } from './sending/messenger';
import type { SettingsControl } from './sending/settings';
import { sqliteAudienceStore, type AudienceStore } from './store/audience-store';
import type { Db } from './store/database';
import { sqliteDeliveryStore, type DeliveryStore } from './store/delivery-store';
import { sqliteMailboxStore, type MailboxStore } from './store/mailbox-store';
import { sqliteOperatorStore, type OperatorStore } from './store/operator-store';
import { sqliteReportStore, type ReportStore } from './store/report-store';
import { sqliteSendJournal, type SendJournal } from './store/send-journal';
import { sqliteTrackingStore, type TrackingStore } from './store/tracking-store';
import { createTokenSigner, type TokenSigner } from './tracking/tokens';

export interface Services {
  db: Db;
  audience: AudienceStore;
  deliveries: DeliveryStore;
  journal: SendJournal;
  tracking: TrackingStore;
  reports: ReportStore;
  operators: OperatorStore;
  mailbox: MailboxStore;
  /** Sends deliveries; its messenger (the pooled SMTP transport) sends proofs too. */
  engine: SendEngine;
  /** The relay, pool, rate and DKIM key, as the settings page changes them. */
  settings: SettingsControl;
  bus: LiveBus;
  signer: TokenSigner;
  /** Where the built app lives (index.html and assets); null to serve the API only. */
  appDir: string | null;
  /** True when the server is reached over https: session cookies are then Secure. */
  secureCookies: boolean;
  /** Where recipients reach tracking links (MAILROOM_PUBLIC_URL, or this server's URL); its origin is one of the app's own. */
  publicUrl: () => string;
  /** Failed sign-ins counted per address and per account, and the bound on password checks at once. */
  signInLimits: SignInLimits;
  /** The largest CSV file an import takes, in bytes. */
  importMaxBytes: number;
  /** Where requests and errors are logged (observability/logger.ts). */
  logger: Logger;
  /** What /metrics reports (observability/metrics.ts). */
  metrics: Metrics;
  /** The bearer token /metrics asks for; null: loopback clients only (observability/http.ts). */
  metricsToken: string | null;
  now: () => Date;
}

export type AppEnv = { Variables: { services: Services; user: string } };

export interface ServiceOptions {
  messenger: Messenger;
  /** Signs tracking and unsubscribe links. */
  secret: string;
  /** Where recipients reach tracking links; read when a message is composed, so it may be set after listening. */
  publicUrl: () => string;
  appDir: string | null;
  secureCookies: boolean;
  /** The engine's events (observability/logger.ts's engineLog writes them to the logger). */
  log: (line: string, event?: EngineEvent) => void;
  /** Requests and errors; a silent logger unless given. */
  logger?: Logger;
  /** Adds prom-client's default process metrics to /metrics (the running server; not tests). */
  processMetrics?: boolean;
  /** The bearer token /metrics asks for; none (loopback only) unless given. */
  metricsToken?: string | null;
  /** Coalescing interval of live figures. */
  liveIntervalMs?: number;
  engine?: Partial<EngineOptions>;
  /** Returns the settings control over the engine (mailroom.ts gives the real one, tests theirs). */
  settings: (engine: SendEngine) => SettingsControl;
  /** Sign-in limits other than SIGN_IN_LIMITS (tests). */
  signInLimits?: Partial<SignInLimitOptions>;
  /** The largest CSV file an import takes; IMPORT_MAX_BYTES (2 GiB) unless told. */
  importMaxBytes?: number;
}

/** Returns the services over a database: the SQLite stores, the signer, live figures and the send engine (not started). */
export function createServices(db: Db, options: ServiceOptions): Services {
  const deliveries = sqliteDeliveryStore(db);
  const journal = sqliteSendJournal(db);
  const tracking = sqliteTrackingStore(db);
  const signer = createTokenSigner(options.secret);
  const bus = new LiveBus(options.liveIntervalMs);
  const metrics = createMetrics({ journal, processMetrics: options.processMetrics });
  const engine = new SendEngine({
    journal,
    deliveries,
    messenger: options.messenger,
    compose: (delivery, message, entry) =>
      composeMessage(delivery, message, entry, { publicUrl: options.publicUrl(), signer, tracking, now: options.engine?.now }),
    onChange: (id) => bus.changed(id),
    log: options.log,
    observer: metrics.engine,
    ...options.engine,
  });
  return {
    db,
    audience: sqliteAudienceStore(db),
    deliveries,
    journal,
    tracking,
    reports: sqliteReportStore(db),
    operators: sqliteOperatorStore(db),
    mailbox: sqliteMailboxStore(db),
    engine,
    settings: options.settings(engine),
    bus,
    signer,
    appDir: options.appDir,
    secureCookies: options.secureCookies,
    publicUrl: options.publicUrl,
    signInLimits: createSignInLimits(options.signInLimits),
    importMaxBytes: options.importMaxBytes ?? IMPORT_MAX_BYTES,
    logger: options.logger ?? silentLogger(),
    metrics,
    metricsToken: options.metricsToken ?? null,
    now: () => new Date(),
  };
}
