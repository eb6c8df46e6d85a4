/**
 * Building blocks for server tests: the real stores over an in-memory SQLite database, the
 * real app, and a way to hand over a prepared batch exactly as the browser does.
 */

import type { CertificateFetcher, ProviderKeys } from './bounces/providers';
import { Preparation } from '../shared/preparation';
import { batchHeader } from '../shared/handoff';
import type { Delivery, Exclusion, PreparedRecipient } from '../shared/types';
import { randomBytes } from 'node:crypto';
import { joinCluster } from './application/membership';
import { createApp } from './app';
import { createSettingsControl } from './sending/settings';
import type { OutgoingMessage } from './sending/compose';
import type { EngineEvent, EngineOptions } from './sending/engine';
import type { SignInLimitOptions } from './http/sign-in-limits';
import { createServices, type Services } from './services';
import type { ProfileInput } from './store/audience';
import type { Messenger, SmtpOutcome } from './sending/messenger';
import type { Role } from '../shared/roles';
import type { ScryptParameters } from './store/operators';
import { openStores, type Stores } from './store/stores';
import { DEFAULT_TYPOLOGY, DEFAULT_TYPOLOGY_ID, type Typology } from '../shared/typology';

export const PUBLIC_URL = 'https://mail.example.com';
export const PASSWORD = 'correct horse battery staple';

export interface Kit {
  services: Services;
  /** The stores (the engine the run chose: SQLite, or PostgreSQL with MAILROOM_TEST_DB=postgres). */
  stores: Stores;
  /** Looks inside the database, in SQL both engines read (`?` placeholders). */
  sql<T = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<T[]>;
  /** The first column of the first row of `sql`. */
  value<T = number>(text: string, params?: readonly unknown[]): Promise<T>;
  app: ReturnType<typeof createApp>;
  /** A signed-in operator's cookie header. */
  cookie: string;
  /** Calls the app in-process as the signed-in operator. */
  request: RequestAs;
  /**
   * Creates an operator with this role (password PASSWORD), signs in as it through the API,
   * and resolves a function that calls the app as it, as `request` does for the admin.
   */
  signInAs(username: string, role: Role): Promise<RequestAs>;
  /** Returns a function that calls the app with `Authorization: Bearer <secret>` (an API token), and no cookie. */
  bearer(secret: string): RequestAs;
  close(): Promise<void>;
}

/** Calls the app in-process as someone (a JSON body when `json` is given; a POST then, unless told). */
export type RequestAs = (path: string, init?: { method?: string; json?: unknown }) => Promise<Response>;

export interface KitOptions {
  messenger?: Messenger;
  /** The URL the settings use for "the built-in sink". */
  builtInRelay?: string;
  /** A SQLite file; an in-memory database (or a new PostgreSQL one) unless told. */
  file?: string;
  /** A PostgreSQL database to use, instead of the run's (e.g. one a test shares between kits). */
  databaseUrl?: string;
  engine?: Partial<EngineOptions>;
  /** The scrypt parameters of new password hashes: cheap ones unless told (the real ones cost 0.2 s each). */
  scrypt?: ScryptParameters;
  /** The built app to serve (a folder with index.html); none by default. */
  appDir?: string | null;
  /** The largest CSV import, in bytes; IMPORT_MAX_BYTES by default. */
  importMaxBytes?: number;
  /** Where tracking links point; PUBLIC_URL by default. */
  publicUrl?: string;
  /** The bounce domain (each message then has its signed return path); none by default. */
  bounceDomain?: string;
  /** The relay providers' webhook keys; none by default. */
  providerKeys?: ProviderKeys;
  /** How SNS certificates are fetched. */
  fetchCertificate?: CertificateFetcher;
  /** Sign-in limits other than SIGN_IN_LIMITS (e.g. smaller, so a test needs fewer hashes). */
  signInLimits?: Partial<SignInLimitOptions>;
  /** Hears the engine's and the settings' log lines (with the engine's event); nothing by default. */
  log?: (line: string, event?: EngineEvent) => void;
}

/** A messenger that records every message and answers what `reply` says (default 250 OK). */
export function recordingMessenger(
  reply: (message: OutgoingMessage, n: number) => SmtpOutcome | void | Promise<SmtpOutcome | void> = () => {},
) {
  const sent: OutgoingMessage[] = [];
  const messenger: Messenger = {
    async send(message) {
      sent.push(message);
      return (await reply(message, sent.length)) ?? { kind: 'sent', reply: '250 2.0.0 OK' };
    },
    async close() {},
  };
  return { messenger, sent };
}

/** Cheap password hashes for tests that do not test hashing: the real parameters cost about 0.2 s a hash. */
export const TEST_SCRYPT: ScryptParameters = { N: 1024, r: 8, p: 1 };

/**
 * Returns the database engine of this test run: PostgreSQL when MAILROOM_TEST_DB=postgres
 * (the vitest project "unit-pg", whose global setup starts a real server: test/support/postgres-setup.ts),
 * else SQLite.
 */
export const testEngine = (): 'sqlite' | 'postgres' => (process.env.MAILROOM_TEST_DB === 'postgres' ? 'postgres' : 'sqlite');

/** Resolves a new, empty PostgreSQL database of the run's server (its URL), for a kit or a test of its own. */
export async function testDatabaseUrl(): Promise<string> {
  const server = process.env.MAILROOM_TEST_POSTGRES_URL;
  if (!server) throw new Error('MAILROOM_TEST_DB=postgres needs the global setup that starts PostgreSQL (vitest project unit-pg).');
  const { createDatabaseOn } = await import('../test/support/postgres');
  return createDatabaseOn(server);
}

/** Returns the stores a test runs on: the run's engine, a fresh database each time. */
export async function testStores(options: { file?: string; databaseUrl?: string; nodeId?: string } = {}): Promise<Stores> {
  const databaseUrl = options.databaseUrl ?? (testEngine() === 'postgres' && !options.file ? await testDatabaseUrl() : undefined);
  // Each kit is a node of its own (a test may run several on one database).
  const nodeId = options.nodeId ?? `test-node-${randomBytes(4).toString('hex')}`;
  return openStores({ databaseUrl, file: options.file ?? ':memory:', nodeId, liveIntervalMs: 20 });
}

/** Returns the real app over a fresh database (the run's engine), with an operator signed in. */
export async function createKit(options: KitOptions = {}): Promise<Kit> {
  const stores = await testStores({ file: options.file, databaseUrl: options.databaseUrl });
  const services = createServices(stores, {
    messenger: options.messenger ?? recordingMessenger().messenger,
    secret: 'test-secret',
    bounceDomain: options.bounceDomain ?? null,
    providerKeys: options.providerKeys,
    fetchCertificate: options.fetchCertificate,
    publicUrl: () => options.publicUrl ?? PUBLIC_URL,
    appDir: options.appDir ?? null,
    secureCookies: false,
    log: options.log ?? (() => {}),
    engine: { tickMs: 20, ...options.engine },
    importMaxBytes: options.importMaxBytes,
    signInLimits: options.signInLimits,
    scrypt: options.scrypt ?? TEST_SCRYPT,
    settings: (engine) =>
      createSettingsControl({
        store: stores.settings,
        defaults: { relayUrl: null, connections: 5, messagesPerConnection: 100, ratePerSecond: 0, dkim: null, relays: [], throttles: [] },
        engine,
        bus: stores.bus,
        builtInRelay: async () => {
          if (!options.builtInRelay) throw new Error('this kit has no built-in sink');
          return options.builtInRelay;
        },
        log: options.log ?? (() => {}),
      }),
  });
  await services.operators.setPassword('admin', PASSWORD);
  // A node says it is alive, or the others (and its own sweeps, on PostgreSQL) take its rows in flight for a dead node's.
  // The kit keeps its messenger whatever the number of nodes: no share is taken.
  const membership = await joinCluster(
    stores,
    async () => {},
    () => {},
    1_000,
  );
  const { engine } = services;
  const app = createApp(services);
  await engine.start();
  const signIn = async (username: string) => {
    const login = await app.request('/api/session', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username, password: PASSWORD }),
    });
    if (!login.ok) throw new Error(`sign in as ${username}: ${login.status} ${await login.text()}`);
    return login.headers.get('set-cookie')!.split(';')[0];
  };
  const requestWith =
    (headers: Record<string, string>): RequestAs =>
    (path, init = {}) =>
      Promise.resolve(
        app.request(path, {
          method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
          headers: { ...headers, ...(init.json === undefined ? {} : { 'content-type': 'application/json' }) },
          body: init.json === undefined ? undefined : JSON.stringify(init.json),
        }),
      );
  const cookie = await signIn('admin');
  const sql = <T = Record<string, unknown>>(text: string, params: readonly unknown[] = []) => stores.query<T>(text, params);
  return {
    services,
    stores,
    sql,
    value: async <T = number>(text: string, params: readonly unknown[] = []) => {
      const [row] = await sql<Record<string, unknown>>(text, params);
      return (row ? Object.values(row)[0] : undefined) as T;
    },
    app,
    cookie,
    request: requestWith({ cookie }),
    async signInAs(username, role) {
      if (!(await services.operators.create(username, role, PASSWORD, 'admin', services.now()))) {
        throw new Error(`the kit already has an operator "${username}"`);
      }
      return requestWith({ cookie: await signIn(username) });
    },
    bearer: (secret) => requestWith({ authorization: `Bearer ${secret}` }),
    async close() {
      await engine.shutdown();
      services.figures.close();
      await membership.leave();
      await stores.close();
    },
  };
}

let profileNumber = 0;
/** Returns a subscribed profile with a unique address unless told otherwise. */
export function newProfile(change: Partial<ProfileInput> = {}): ProfileInput {
  profileNumber++;
  return {
    email: `person${profileNumber}@example.com`,
    firstName: `P${profileNumber}`,
    lastName: 'Test',
    locale: 'nl',
    status: 'subscribed',
    attributes: { city: 'Gent' },
    ...change,
  };
}

export const SAMPLE_DELIVERY: Omit<Delivery, 'id'> = {
  version: 1,
  name: 'Autumn',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hello {{ first_name | default: "there" }}',
  html: '<html><body><p>Hi {{ first_name }}</p><a href="https://shop.example.com/sale?a=1&amp;b=2">Sale</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>',
  preheader: '',
  text: '',
  audience: { kind: 'all' },
  scheduledAt: null,
  typologyId: DEFAULT_TYPOLOGY_ID,
  createdAt: '2026-11-28T00:00:00Z',
  updatedAt: '2026-11-28T00:00:00Z',
};

/** Prepares a delivery over the kit's audience with the shared code, as the worker does. */
export async function prepareOnServerAudience(kit: Kit, delivery: Delivery, typology: Typology = DEFAULT_TYPOLOGY) {
  const started = Preparation.start(delivery, { typology, schema: await kit.services.audience.schema() });
  if (!started.ok) throw new Error(`preparation failed to start: ${JSON.stringify(started)}`);
  const profiles = (await kit.services.audience.changesSince(0, 1_000_000)).profiles;
  const { recipients, exclusions } = started.preparation.addProfiles(profiles);
  const { result, last } = started.preparation.finish();
  return {
    result,
    kpis: result.kpis,
    recipients: [...recipients, ...last.recipients],
    exclusions: [...exclusions, ...last.exclusions],
  };
}

/** Hands a prepared delivery to the server in chunks (header, chunks, commit), as the outbox does. */
export async function handOver(
  kit: Kit,
  id: string,
  delivery: Omit<Delivery, 'id'>,
  options: {
    chunkSize?: number;
    contentHash?: string;
    /** Hand over as an app older than kept exclusions did: recipients only. */ withoutExclusions?: boolean;
    /** The typology prepared with (the default one when absent). */
    typology?: Typology;
  } = {},
) {
  const full = { ...delivery, id };
  const { result, recipients, exclusions } = await prepareOnServerAudience(kit, full, options.typology);
  const chunkSize = options.chunkSize ?? 100;
  const contentHash = options.contentHash ?? 'abcdef0123456789';
  const chunks: PreparedRecipient[][] = [];
  for (let i = 0; i < recipients.length; i += chunkSize) chunks.push(recipients.slice(i, i + chunkSize));
  // The excluded go up too, after the recipients, as the outbox sends them.
  const exclusionChunks: Exclusion[][] = [];
  if (!options.withoutExclusions) {
    for (let i = 0; i < exclusions.length; i += chunkSize) exclusionChunks.push(exclusions.slice(i, i + chunkSize));
  }
  const recipientChunks = Math.max(1, chunks.length);
  const header = batchHeader(
    delivery,
    result.kpis,
    contentHash,
    recipientChunks,
    options.withoutExclusions ? undefined : exclusionChunks.length,
    result.seeds,
  );
  const begin = await kit.request(`/api/deliveries/${id}/batch`, { method: 'PUT', json: header });
  if (!begin.ok) throw new Error(`begin: ${begin.status} ${await begin.text()}`);
  for (const [index, chunk] of chunks.entries()) {
    const put = await kit.request(`/api/deliveries/${id}/batch/chunks/${index + 1}`, {
      method: 'PUT',
      json: { contentHash, recipients: chunk },
    });
    if (!put.ok) throw new Error(`chunk ${index + 1}: ${put.status} ${await put.text()}`);
  }
  for (const [index, part] of exclusionChunks.entries()) {
    const put = await kit.request(`/api/deliveries/${id}/batch/chunks/${recipientChunks + index + 1}`, {
      method: 'PUT',
      json: { contentHash, exclusions: part },
    });
    if (!put.ok) throw new Error(`exclusions ${index + 1}: ${put.status} ${await put.text()}`);
  }
  const commit = await kit.request(`/api/deliveries/${id}/batch/commit`, { json: { contentHash } });
  if (!commit.ok) throw new Error(`commit: ${commit.status} ${await commit.text()}`);
  return { contentHash, header, recipients, exclusions, chunks, kpis: result.kpis, result };
}

/** Resolves when `check` holds, polling; rejects after `ms`. */
export async function eventually<T>(check: () => T | Promise<T>, ms = 5_000): Promise<T> {
  const until = Date.now() + ms;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch (error) {
      if (Date.now() > until) throw error;
    }
    if (Date.now() > until) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export { batchHeader };
