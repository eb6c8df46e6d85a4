/**
 * Sending settings: the relay (or the built-in sink), the pool (connections, messages per
 * connection), the rate, and the DKIM key. The environment gives the defaults at the first
 * start; the settings page changes them while the server runs, and they are kept in the
 * database. Applying them rebuilds the pool: messages in flight finish on the old one.
 */

import nodemailer from 'nodemailer';
import { z } from 'zod';
import { getMeta, setMeta, type Db } from '../store/database';
import type { SendEngine } from './engine';
import { relayTransportOptions, type Messenger } from './messenger';
import { createThreadedMessenger } from './threaded-messenger';

export interface DkimKey {
  domainName: string;
  keySelector: string;
  privateKey: string;
}

export interface SendingSettings {
  /** smtp:// or smtps:// relay; null sends to the built-in sink (and its mailbox page). */
  relayUrl: string | null;
  connections: number;
  messagesPerConnection: number;
  /** Messages per second, all deliveries together; 0 for no limit. */
  ratePerSecond: number;
  dkim: DkimKey | null;
}

/** The settings as the page sees them: the relay's password and the private key never leave the server. */
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
});
export type SettingsBody = z.infer<typeof settingsBody>;

export const testBody = z.object({ relayUrl: relayUrl.nullable() });

export interface SettingsControl {
  current(): PublicSettings;
  /** Checks, stores and applies new settings; throws with the reason when they cannot be used. */
  apply(body: SettingsBody): Promise<PublicSettings>;
  /** Connects to the relay (the built-in sink for null), greets it, logs in when the URL has a user, and says what happened. */
  test(relayUrl: string | null): Promise<{ ok: boolean; message: string }>;
}

const KEY = 'sending_settings';

export interface SettingsDeps {
  db: Db;
  /** The settings before any were saved: from the environment. */
  defaults: SendingSettings;
  engine: SendEngine;
  /** Returns the URL of the built-in sink, starting it if needed. */
  builtInRelay: () => Promise<string>;
  log: (line: string) => void;
}

/** Returns the stored settings, or the defaults. */
export function loadSettings(db: Db, defaults: SendingSettings): SendingSettings {
  const stored = getMeta(db, KEY);
  return stored ? { ...defaults, ...(JSON.parse(stored) as SendingSettings) } : defaults;
}

/** Returns the messenger for the settings, sending to `url`. */
export function messengerFor(settings: SendingSettings, url: string): Messenger {
  return createThreadedMessenger({
    url,
    maxConnections: settings.connections,
    maxMessagesPerConnection: settings.messagesPerConnection,
    dkim: settings.dkim,
  });
}

/** Returns the engine options the settings imply: the window is twice the connections (see engine.ts). */
export function engineLimits(settings: SendingSettings) {
  return { concurrency: settings.connections * 2, batchSize: settings.connections * 2, ratePerSecond: settings.ratePerSecond };
}

export function createSettingsControl(deps: SettingsDeps): SettingsControl {
  let settings = loadSettings(deps.db, deps.defaults);
  const toPublic = (s: SendingSettings): PublicSettings => ({
    ...s,
    relayUrl: s.relayUrl ? maskPassword(s.relayUrl) : null,
    dkim: s.dkim ? { domainName: s.dkim.domainName, keySelector: s.dkim.keySelector } : null,
  });
  // A masked password (as the page shows it) means "keep the stored one".
  const unmask = (url: string | null) => (url && settings.relayUrl && url === maskPassword(settings.relayUrl) ? settings.relayUrl : url);
  return {
    current: () => toPublic(settings),
    async apply(body) {
      const url = unmask(body.relayUrl);
      let dkim: DkimKey | null = null;
      if (body.dkim) {
        const privateKey = body.dkim.privateKey || (settings.dkim?.privateKey ?? '');
        if (!/-----BEGIN (RSA )?PRIVATE KEY-----/.test(privateKey))
          throw new Error('The DKIM private key must be in PEM format (-----BEGIN PRIVATE KEY-----).');
        dkim = { domainName: body.dkim.domainName, keySelector: body.dkim.keySelector, privateKey };
      }
      const next: SendingSettings = { ...body, relayUrl: url, dkim };
      const messenger = messengerFor(next, next.relayUrl ?? (await deps.builtInRelay()));
      const previous = deps.engine.reconfigure({ messenger, ...engineLimits(next) });
      // Messages in flight finish on the old pool; it is closed once they have had time to.
      setTimeout(() => void previous.close(), 60_000).unref();
      setMeta(deps.db, KEY, JSON.stringify(next));
      settings = next;
      deps.log(
        `Sending settings changed: ${next.relayUrl ? `relay ${maskPassword(next.relayUrl)}` : 'built-in sink'}, ${next.connections} connections.`,
      );
      return toPublic(settings);
    },
    async test(relayUrl) {
      const url = unmask(relayUrl);
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
  };
}

/** Returns the URL with its password replaced by ****. */
export function maskPassword(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '****';
  return parsed.toString().replace(/\/$/, '');
}
