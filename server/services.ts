/** Everything a request handler may use, built once at start and handed to the app. */

import { Subscribers } from './subscribers/subscribers';
import { createSubscriberTokens } from './subscribers/tokens';
import { IMPORT_MAX_BYTES } from './http/body-limits';
import { createSignInLimits, type SignInLimitOptions, type SignInLimits } from './http/sign-in-limits';
import { DeliveryCommands } from './application/delivery-commands';
import { LiveFigures } from './application/live-figures';
import { TrackingEvents } from './application/tracking-events';
import type { LiveBus } from './live/live-bus';
import { silentLogger, type Logger } from './observability/logger';
import { createMetrics, type Metrics } from './observability/metrics';
import { composeMessage } from './sending/compose';
import { SendEngine, type EngineEvent, type EngineOptions } from './sending/engine';
import type { Messenger } from './sending/messenger';
import type { SettingsControl } from './sending/settings';
import type { AudienceStore } from './store/audience';
import type { AuditStore } from './store/audit';
import { asksForApproval, type WorkStore } from './store/work';
import type { Role } from '../shared/roles';
import type { DeliveryStore } from './store/deliveries';
import type { SendJournal } from './store/journal';
import type { MailboxStore } from './store/mailbox';
import { Operators, type ScryptParameters } from './store/operators';
import type { ReportStore } from './store/reports';
import type { SettingsStore } from './store/settings';
import type { Stores } from './store/stores';
import { LateOutcomes } from './application/late-outcomes';
import { Webhooks } from './application/webhooks';
import { bounceAddress } from './bounces/verp';
import type { CertificateFetcher, ProviderKeys } from './bounces/providers';
import type { TrackingStore } from './store/tracking';
import { createTokenSigner, type TokenSigner } from './tracking/tokens';
import { approvalState } from '../shared/work';

/**
 * Returns why a Send of this preparation waits for an approval, or null. A delivery without a
 * document of record (a batch handed over by an integration, or by an app older than team
 * work) has no typology the server knows, and is not held.
 */
async function approvalWaiting(work: WorkStore, id: string, contentHash: string): Promise<string | null> {
  const doc = await work.get(id);
  if (!doc) return null;
  const state = approvalState({
    requiresApproval: await asksForApproval(work, doc),
    approval: doc.approval,
    preparedBy: doc.stamps.preparation?.by ?? null,
    contentHash,
  });
  return state.kind === 'waiting' ? state.message : null;
}

export interface Services {
  /** Every store, over whichever engine runs (store/stores.ts); the routes read through the ones below. */
  stores: Stores;
  audience: AudienceStore;
  deliveries: DeliveryStore;
  journal: SendJournal;
  tracking: TrackingStore;
  reports: ReportStore;
  operators: Operators;
  mailbox: MailboxStore;
  /** Who did what (store/audit.ts). */
  audit: AuditStore;
  /** Drafts and typologies of the team (store/work.ts). */
  work: WorkStore;
  /** Small values of record: the sending settings, the tracking secret (store/settings.ts). */
  settingsStore: SettingsStore;
  /** What operators do to deliveries (application/delivery-commands.ts). */
  commands: DeliveryCommands;
  /** Webhooks out (application/webhooks.ts). */
  webhooks: Webhooks;
  /** Sign-up forms, double opt-in, the preference centre, access and erasure (subscribers/subscribers.ts). */
  subscribers: Subscribers;
  /** Bounces and complaints reported later (application/late-outcomes.ts). */
  lateOutcomes: LateOutcomes;
  /** Opens, clicks and unsubscribes (application/tracking-events.ts). */
  events: TrackingEvents;
  /** Figures for the dashboards and the list, once per change (application/live-figures.ts). */
  figures: LiveFigures;
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
  /** The domain bounces come back to (MAILROOM_BOUNCE_DOMAIN), or null. */
  bounceDomain: string | null;
  /** What relay providers' webhooks are checked with (bounces/providers.ts). */
  providerKeys: ProviderKeys;
  /** Fetches an Amazon SNS signing certificate (cached). */
  fetchCertificate: CertificateFetcher;
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

/** `user` is the operator's username, or `token:<name>` for an API token; `role` what it may do. */
export type AppEnv = { Variables: { services: Services; user: string; role: Role } };

export interface ServiceOptions {
  messenger: Messenger;
  /** Signs tracking and unsubscribe links. */
  secret: string;
  /** The domain bounces come back to (MAILROOM_BOUNCE_DOMAIN): each message's envelope sender is then its signed return path. */
  bounceDomain?: string | null;
  /** The relay providers' webhook keys; none set unless given. */
  providerKeys?: ProviderKeys;
  /** How SNS certificates are fetched (tests give theirs). */
  fetchCertificate?: CertificateFetcher;
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
  engine?: Partial<EngineOptions>;
  /** The parameters new password hashes are made with (tests choose cheaper ones than store/operators.ts's SCRYPT). */
  scrypt?: ScryptParameters;
  /** Returns the settings control over the engine (mailroom.ts gives the real one, tests theirs). */
  settings: (engine: SendEngine) => SettingsControl;
  /** Sign-in limits other than SIGN_IN_LIMITS (tests). */
  signInLimits?: Partial<SignInLimitOptions>;
  /** The largest CSV file an import takes; IMPORT_MAX_BYTES (2 GiB) unless told. */
  importMaxBytes?: number;
}

/** Returns the services over the stores: the signer, the application layer, live figures and the send engine (not started). */
export function createServices(stores: Stores, options: ServiceOptions): Services {
  const { deliveries, journal, tracking, bus } = stores;
  const signer = createTokenSigner(options.secret);
  const metrics = createMetrics({ journal, processMetrics: options.processMetrics });
  // The services' clock, read late: a test may set `services.now`, and every part follows it.
  const now = () => services.now();
  const bounceDomain = options.bounceDomain ?? null;
  const returnPath = (journalId: number) => (bounceDomain ? bounceAddress(journalId, bounceDomain, options.secret) : null);
  const webhooks = new Webhooks({ store: stores.webhooks, now, log: (line) => options.log(line) });
  const engine = new SendEngine({
    journal,
    deliveries,
    messenger: options.messenger,
    compose: (delivery, message, entry) =>
      composeMessage(delivery, message, entry, { publicUrl: options.publicUrl(), signer, tracking, now: options.engine?.now, returnPath }),
    onChange: (id) => bus.changed(id),
    log: options.log,
    observer: metrics.engine,
    onOutcome: (deliveryId, entry, outcome) => {
      const event = outcome.kind === 'sent' ? 'delivered' : outcome.kind === 'bounced' ? 'bounced' : 'failed';
      // Once per message: nothing more than this comparison when no endpoint asks for the event.
      if (webhooks.wants(event)) webhooks.emit(event, { deliveryId, journalId: entry.id, email: entry.email, reply: outcome.reply });
    },
    // With several nodes, any of them may find the rows of one that died.
    sweepEveryScan: stores.engine === 'postgres',
    ...options.engine,
  });
  const services: Services = {
    stores,
    audience: stores.audience,
    deliveries,
    journal,
    tracking,
    reports: stores.reports,
    operators: new Operators(stores.operators, options.scrypt),
    mailbox: stores.mailbox,
    audit: stores.audit,
    work: stores.work,
    settingsStore: stores.settings,
    commands: new DeliveryCommands({
      deliveries,
      journal,
      bus,
      engine,
      now,
      approval: (id, hash) => approvalWaiting(stores.work, id, hash),
    }),
    events: new TrackingEvents({
      signer,
      tracking,
      audience: stores.audience,
      bus,
      now,
      emit: (event, data) => webhooks.emit(event, data),
    }),
    webhooks,
    subscribers: new Subscribers({
      store: stores.subscribers,
      audience: stores.audience,
      settings: stores.settings,
      tokens: createSubscriberTokens(options.secret),
      messenger: () => engine.messenger,
      publicUrl: options.publicUrl,
      now,
      log: (line) => options.log(line),
    }),
    lateOutcomes: new LateOutcomes({
      lateOutcomes: stores.lateOutcomes,
      settings: stores.settings,
      audience: stores.audience,
      commands: { pause: (id, reason) => services.commands.pause(id, reason) },
      bus,
      secret: options.secret,
      now,
      log: (line) => options.log(line),
      emit: (event, data) => webhooks.emit(event, data),
    }),
    figures: new LiveFigures(deliveries, bus, now),
    engine,
    settings: options.settings(engine),
    bus,
    signer,
    appDir: options.appDir,
    secureCookies: options.secureCookies,
    publicUrl: options.publicUrl,
    bounceDomain,
    providerKeys: options.providerKeys ?? {},
    fetchCertificate: options.fetchCertificate ?? cachedCertificates(),
    signInLimits: createSignInLimits(options.signInLimits),
    importMaxBytes: options.importMaxBytes ?? IMPORT_MAX_BYTES,
    logger: options.logger ?? silentLogger(),
    metrics,
    metricsToken: options.metricsToken ?? null,
    now: () => new Date(),
  };
  return services;
}

/** Fetches SNS signing certificates over https, each once per process. */
function cachedCertificates(): CertificateFetcher {
  const certificates = new Map<string, Promise<string>>();
  return (url) => {
    let certificate = certificates.get(url);
    if (!certificate) {
      certificate = fetch(url, { signal: AbortSignal.timeout(10_000) }).then((r) => {
        if (!r.ok) throw new Error(`the certificate at ${url} could not be fetched (${r.status})`);
        return r.text();
      });
      certificate.catch(() => certificates.delete(url));
      certificates.set(url, certificate);
    }
    return certificate;
  };
}
