/**
 * Building blocks for server tests: the real stores over an in-memory SQLite database, the
 * real app, and a way to hand over a prepared batch exactly as the browser does.
 */

import { Preparation } from '../shared/preparation';
import { batchHeader } from '../shared/handoff';
import type { Delivery, Exclusion, PreparedRecipient } from '../shared/types';
import { createApp } from './app';
import { createSettingsControl } from './sending/settings';
import type { OutgoingMessage } from './sending/compose';
import type { EngineOptions } from './sending/engine';
import type { SignInLimitOptions } from './http/sign-in-limits';
import { createServices, type Services } from './services';
import type { ProfileInput } from './store/audience-store';
import type { SmtpOutcome } from './store/send-journal';
import type { Messenger } from './sending/messenger';
import { openDatabase } from './store/database';
import { DEFAULT_TYPOLOGY, DEFAULT_TYPOLOGY_ID } from '../shared/typology';

export const PUBLIC_URL = 'https://mail.example.com';
export const PASSWORD = 'correct horse battery staple';

export interface Kit {
  services: Services;
  app: ReturnType<typeof createApp>;
  /** A signed-in operator's cookie header. */
  cookie: string;
  /** Calls the app in-process as the signed-in operator. */
  request(path: string, init?: { method?: string; json?: unknown }): Promise<Response>;
  close(): Promise<void>;
}

export interface KitOptions {
  messenger?: Messenger;
  /** The URL the settings use for "the built-in sink". */
  builtInRelay?: string;
  file?: string;
  engine?: Partial<EngineOptions>;
  /** The built app to serve (a folder with index.html); none by default. */
  appDir?: string | null;
  /** The largest CSV import, in bytes; IMPORT_MAX_BYTES by default. */
  importMaxBytes?: number;
  /** Where tracking links point; PUBLIC_URL by default. */
  publicUrl?: string;
  /** Sign-in limits other than SIGN_IN_LIMITS (e.g. smaller, so a test needs fewer hashes). */
  signInLimits?: Partial<SignInLimitOptions>;
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

/** Returns the real app over an in-memory database, with an operator signed in. */
export async function createKit(options: KitOptions = {}): Promise<Kit> {
  const db = openDatabase(options.file ?? ':memory:');
  const services = createServices(db, {
    messenger: options.messenger ?? recordingMessenger().messenger,
    secret: 'test-secret',
    publicUrl: () => options.publicUrl ?? PUBLIC_URL,
    appDir: options.appDir ?? null,
    secureCookies: false,
    log: () => {},
    liveIntervalMs: 20,
    engine: { tickMs: 20, ...options.engine },
    importMaxBytes: options.importMaxBytes,
    signInLimits: options.signInLimits,
    settings: (engine) =>
      createSettingsControl({
        db,
        defaults: { relayUrl: null, connections: 5, messagesPerConnection: 100, ratePerSecond: 0, dkim: null },
        engine,
        builtInRelay: async () => {
          if (!options.builtInRelay) throw new Error('this kit has no built-in sink');
          return options.builtInRelay;
        },
        log: () => {},
      }),
  });
  services.operators.setPassword('admin', PASSWORD);
  const { engine, bus } = services;
  const app = createApp(services);
  engine.start();
  const login = await app.request('/api/session', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: PASSWORD }),
  });
  const cookie = login.headers.get('set-cookie')!.split(';')[0];
  return {
    services,
    app,
    cookie,
    request: (path, init = {}) =>
      Promise.resolve(
        app.request(path, {
          method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
          headers: { cookie, ...(init.json === undefined ? {} : { 'content-type': 'application/json' }) },
          body: init.json === undefined ? undefined : JSON.stringify(init.json),
        }),
      ),
    async close() {
      await engine.shutdown();
      services.tracking.flush();
      bus.close();
      db.close();
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
  audience: { kind: 'all' },
  scheduledAt: null,
  typologyId: DEFAULT_TYPOLOGY_ID,
  createdAt: '2026-11-28T00:00:00Z',
  updatedAt: '2026-11-28T00:00:00Z',
};

/** Prepares a delivery over the kit's audience with the shared code, as the worker does. */
export function prepareOnServerAudience(kit: Kit, delivery: Delivery) {
  const started = Preparation.start(delivery, { typology: DEFAULT_TYPOLOGY, schema: kit.services.audience.schema() });
  if (!started.ok) throw new Error('preparation failed to start');
  const profiles = kit.services.audience.changesSince(0, 1_000_000).profiles;
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
  } = {},
) {
  const full = { ...delivery, id };
  const { result, recipients, exclusions } = prepareOnServerAudience(kit, full);
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
  return { contentHash, header, recipients, chunks, kpis: result.kpis };
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
