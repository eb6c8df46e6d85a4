/**
 * Sending settings: the relay (or the built-in sink), the pool (connections, messages per
 * connection), the rate, and the DKIM key. The environment gives the defaults at the first
 * start; the settings page changes them while the server runs, and they are kept in the
 * database. Applying them rebuilds the pool: messages in flight finish on the old one.
 *
 * With several nodes, the connections and the rate are the cluster's: each node takes its
 * share (the budget divided by the nodes alive, at least one connection each), and a change
 * saved on one node reaches every other through the live bus.
 */

import nodemailer from 'nodemailer';
import { z } from 'zod';
import type { LiveBus } from '../live/live-bus';
import type { SettingsStore } from '../store/settings';
import type { SendEngine } from './engine';
import { relayTransportOptions, type Messenger } from './messenger';
import { createRoutingMessenger, ThrottleLimits, type DomainThrottle, type RelayRoute } from './relays';
import { createThreadedMessenger } from './threaded-messenger';

export interface DkimKey {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

/** A relay beside the main one (relays.ts): its own pool and rate, the From domains it serves first. */
export interface ExtraRelay {
  /** Stable, so that a delivery can name it. */
  id: string;
  name: string;
  url: string;
  connections: number;
  messagesPerConnection: number;
  /** Messages per second through it; 0 for no limit of its own. */
  ratePerSecond: number;
  fromDomains: string[];
}

export interface SendingSettings {
  /** The main relay, smtp:// or smtps://; null sends to the built-in sink (and its mailbox page). */
  relayUrl: string | null;
  connections: number;
  messagesPerConnection: number;
  /** Messages per second, all deliveries together; 0 for no limit. */
  ratePerSecond: number;
  dkim: DkimKey | null;
  /** Further relays, in the order failover tries them after the main one. */
  relays: ExtraRelay[];
  /** At most so many messages a minute to these recipient domains, through every relay together. */
  throttles: DomainThrottle[];
}

/** The id routing gives the main relay. */
export const MAIN_RELAY = 'main';

/** The settings as the page sees them: the relays' passwords and the private key never leave the server. */
export interface PublicSettings extends Omit<SendingSettings, 'relayUrl' | 'dkim'> {
  relayUrl: string | null;
  dkim: { domainName: string; keySelector: string } | null;
}

const relayUrl = z
  .string()
  .trim()
  .max(2000)
  .refine((url) => {
    try {
      return ['smtp:', 'smtps:'].includes(new URL(url).protocol) && new URL(url).hostname !== '';
    } catch {
      return false;
    }
  }, 'the relay must look like smtp://user:password@host:587 or smtps://user:password@host:465');

const domainName = z
  .string()
  .trim()
  .toLowerCase()
  .regex(/^(?=.{1,253}$)([a-z0-9-]+\.)+[a-z0-9-]+$/, 'a domain looks like example.com');

const extraRelay = z.object({
  id: z
    .string()
    .trim()
    .regex(/^[a-z0-9-]{1,40}$/, 'a relay id is lower-case letters, digits and hyphens'),
  name: z.string().trim().min(1).max(80),
  url: relayUrl,
  connections: z.number().int().min(1).max(100),
  messagesPerConnection: z.number().int().min(1).max(1_000_000),
  ratePerSecond: z.number().int().min(0).max(100_000),
  fromDomains: z.array(domainName).max(50).default([]),
});

// A throttle remembers its last perMinute turns: at most 100,000 (800 KB) each, 20 of them.
const throttle = z.object({
  domains: z.array(domainName).min(1).max(50),
  perMinute: z.number().int().min(1).max(100_000),
});

/** What the settings page sends: a private key left empty keeps the one on the server. */
export const settingsBody = z.object({
  relayUrl: relayUrl.nullable(),
  connections: z.number().int().min(1).max(100),
  messagesPerConnection: z.number().int().min(1).max(1_000_000),
  ratePerSecond: z.number().int().min(0).max(100_000),
  dkim: z
    .object({
      domainName: z.string().trim().min(3).max(253),
      keySelector: z.string().trim().min(1).max(63),
      privateKey: z.string().trim().max(20_000),
    })
    .nullable(),
  // Absent from a page older than several relays: none besides the main one, no throttle.
  relays: z
    .array(extraRelay)
    .max(10)
    .default([])
    .refine((list) => new Set([MAIN_RELAY, ...list.map((r) => r.id)]).size === list.length + 1, 'each relay needs an id of its own'),
  throttles: z
    .array(throttle)
    .max(20)
    .default([])
    .refine((list) => {
      const domains = list.flatMap((t) => t.domains);
      return new Set(domains).size === domains.length;
    }, 'a domain can be in one throttle only'),
});
export type SettingsBody = z.infer<typeof settingsBody>;

export const testBody = z.object({ relayUrl: relayUrl.nullable() });

export interface SettingsControl {
  current(): Promise<PublicSettings>;
  /** Checks, stores and applies new settings, and tells the other nodes; throws with the reason when they cannot be used. */
  apply(body: SettingsBody): Promise<PublicSettings>;
  /** Connects to the relay (the built-in sink for null), greets it, logs in when the URL has a user, and says what happened. */
  test(relayUrl: string | null): Promise<{ ok: boolean; message: string }>;
  /** Takes this node's share of the budget when the number of nodes alive changes (1 on SQLite). */
  share(nodes: number): Promise<void>;
  /** Reads the settings of record again and applies them if they changed (another node saved). */
  reload(): Promise<void>;
}

const KEY = 'sending_settings';

export interface SettingsDeps {
  store: SettingsStore;
  /** The settings before any were saved: from the environment. */
  defaults: SendingSettings;
  engine: SendEngine;
  /** Returns the URL of the built-in sink, starting it if needed. */
  builtInRelay: () => Promise<string>;
  log: (line: string) => void;
  /** Carries a saved change to every node (and its own back). */
  bus?: LiveBus;
  /** The throttles' limits, shared with the messenger the engine started with (mailroom.ts). */
  limits?: ThrottleLimits;
}

/** Resolves the stored settings, or the defaults. */
export async function loadSettings(store: SettingsStore, defaults: SendingSettings): Promise<SendingSettings> {
  const stored = await store.get(KEY);
  // Settings saved before several relays have neither list: they take the defaults'.
  return stored ? { ...defaults, ...(JSON.parse(stored) as Partial<SendingSettings>) } : defaults;
}

/** What one node of `nodes` may use of the cluster's budget: its connections and its rate. */
export function nodeShare(settings: SendingSettings, nodes: number): SendingSettings {
  const n = Math.max(1, nodes);
  const connections = (c: number) => Math.max(1, Math.floor(c / n));
  const rate = (r: number) => (r === 0 ? 0 : Math.max(1, Math.floor(r / n)));
  return {
    ...settings,
    connections: connections(settings.connections),
    ratePerSecond: rate(settings.ratePerSecond),
    relays: settings.relays.map((r) => ({ ...r, connections: connections(r.connections), ratePerSecond: rate(r.ratePerSecond) })),
    throttles: settings.throttles.map((t) => ({ ...t, perMinute: Math.max(1, Math.floor(t.perMinute / n)) })),
  };
}

/**
 * Returns the messenger for the settings, the main relay at `url`: its pool alone, or, with
 * further relays or throttles, the routing messenger over one pool per relay (relays.ts).
 */
export function messengerFor(settings: SendingSettings, url: string, log?: (line: string) => void, limits?: ThrottleLimits): Messenger {
  const pool = (relayUrl: string, connections: number, messagesPerConnection: number) =>
    createThreadedMessenger({
      url: relayUrl,
      maxConnections: connections,
      maxMessagesPerConnection: messagesPerConnection,
      dkim: settings.dkim,
    });
  const main = pool(url, settings.connections, settings.messagesPerConnection);
  if (settings.relays.length === 0 && settings.throttles.length === 0) return main;
  const routes: RelayRoute[] = [
    { id: MAIN_RELAY, name: 'the main relay', messenger: main, fromDomains: [], ratePerSecond: 0 },
    ...settings.relays.map((r) => ({
      id: r.id,
      name: r.name,
      messenger: pool(r.url, r.connections, r.messagesPerConnection),
      fromDomains: r.fromDomains,
      ratePerSecond: r.ratePerSecond,
    })),
  ];
  return createRoutingMessenger(routes, settings.throttles, { log, limits });
}

/** Returns the engine options the settings imply: the window is twice the connections of every relay (see engine.ts). */
export function engineLimits(settings: SendingSettings) {
  const connections = settings.connections + settings.relays.reduce((sum, r) => sum + r.connections, 0);
  return { concurrency: connections * 2, batchSize: connections * 2, ratePerSecond: settings.ratePerSecond };
}

/** Returns the settings control, over the settings of record and the engine, which must already run on `initial` (see mailroom.ts). */
export function createSettingsControl(deps: SettingsDeps, initial?: SendingSettings): SettingsControl {
  let settings: SendingSettings | null = initial ?? null;
  /** What the engine sends with now; `settings` may be read from the store before a change reaches the engine. */
  let applied: SendingSettings | null = initial ?? null;
  let nodes = 1;
  // A throttle's minute goes on across new pools (a save, a node joining): one set of limits for this control's life.
  const limits = deps.limits ?? new ThrottleLimits();
  const loaded = async () => (settings ??= await loadSettings(deps.store, deps.defaults));
  const toPublic = (s: SendingSettings): PublicSettings => ({
    ...s,
    relays: s.relays.map((r) => ({ ...r, url: maskPassword(r.url) })),
    relayUrl: s.relayUrl ? maskPassword(s.relayUrl) : null,
    dkim: s.dkim ? { domainName: s.dkim.domainName, keySelector: s.dkim.keySelector } : null,
  });
  // A masked password (as the page shows it) means "keep the stored one".
  const unmask = (url: string | null, s: SendingSettings) => {
    if (!url) return url;
    const stored = [s.relayUrl, ...s.relays.map((r) => r.url)].find((known) => known && url === maskPassword(known));
    return stored ?? url;
  };
  /** Sends through a new pool made for `next` (this node's share of it); the old one finishes what it has. */
  const use = async (next: SendingSettings) => {
    const mine = nodeShare(next, nodes);
    const messenger = messengerFor(mine, next.relayUrl ?? (await deps.builtInRelay()), deps.log, limits);
    const previous = deps.engine.reconfigure({ messenger, ...engineLimits(mine) });
    // Closed at once, so that the connections of old and new pools never add up past the budget for
    // long: conversations under way finish on it; messages still waiting for one of its connections
    // go back to the queue without an attempt and are sent through the new pool.
    void previous.close();
    settings = applied = next;
  };
  deps.bus?.onSignal(
    'settings',
    () => void control.reload().catch((error: Error) => deps.log(`Sending settings could not be reloaded: ${error.message}`)),
  );
  const control: SettingsControl = {
    current: async () => toPublic(await loaded()),
    async apply(body) {
      const current = await loaded();
      const url = unmask(body.relayUrl, current);
      let dkim: DkimKey | null = null;
      if (body.dkim) {
        const privateKey = body.dkim.privateKey || (current.dkim?.privateKey ?? '');
        if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(privateKey))
          throw new Error('The DKIM private key must be in PEM format (-----BEGIN PRIVATE KEY-----).');
        dkim = { domainName: body.dkim.domainName, keySelector: body.dkim.keySelector, privateKey };
      }
      // A relay's password shown masked is the stored one of the relay with that id.
      const relays = body.relays.map((r) => {
        const was = current.relays.find((known) => known.id === r.id);
        return { ...r, url: was && r.url === maskPassword(was.url) ? was.url : r.url };
      });
      const next: SendingSettings = { ...body, relayUrl: url, dkim, relays };
      await use(next);
      await deps.store.set(KEY, JSON.stringify(next));
      deps.bus?.signal('settings');
      deps.log(
        `Sending settings changed: ${next.relayUrl ? `relay ${maskPassword(next.relayUrl)}` : 'built-in sink'}, ${next.connections} connections` +
          `${next.relays.length ? `, then ${next.relays.map((r) => r.name).join(', ')}` : ''}.`,
      );
      return toPublic(next);
    },
    async test(relayUrl) {
      const url = unmask(relayUrl, await loaded());
      const transport = nodemailer.createTransport({
        ...relayTransportOptions({ url: url ?? (await deps.builtInRelay()), maxConnections: 1, maxMessagesPerConnection: 1 }),
        pool: false,
        connectionTimeout: 10_000,
        greetingTimeout: 10_000,
      });
      try {
        await transport.verify();
        return {
          ok: true,
          message: `Connected to ${url ? new URL(url).host : 'the built-in sink'}${url && new URL(url).username ? ' and logged in' : ''}: ready to send.`,
        };
      } catch (error) {
        const e = error as { code?: string; response?: string; message: string };
        return { ok: false, message: `${e.response ?? e.message}${e.code ? ` (${e.code})` : ''}` };
      } finally {
        transport.close();
      }
    },
    async share(count) {
      if (count === nodes) return;
      nodes = count;
      await use(await loaded());
      deps.log(`${count} nodes send: this one uses ${nodeShare(await loaded(), count).connections} connections.`);
    },
    async reload() {
      const stored = await loadSettings(deps.store, deps.defaults);
      if (JSON.stringify(stored) !== JSON.stringify(applied)) await use(stored);
    },
  };
  return control;
}

/** Returns the URL with its password replaced by ****. */
export function maskPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '****';
  return parsed.toString().replace(/\/$/, '');
}
