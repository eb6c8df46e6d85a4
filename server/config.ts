/** Configuration from the environment, with the embedded defaults that make `npm start` work anywhere. */

import { resolve } from 'node:path';

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** Relay URL; null starts the built-in SMTP sink. */
  smtpUrl: string | null;
  sinkPort: number;
  adminPassword: string | null;
  /** The address recipients reach tracking and unsubscribe links at; null: this server's own URL. */
  publicUrl: string | null;
  appDir: string;
  poolSize: number;
  messagesPerConnection: number;
  ratePerSecond: number;
  /** Seed the demo audience into a new database (MAILROOM_DEMO, on unless "off"). */
  demo: boolean;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}, not "${raw}".`);
  return value;
}

/** Returns the configuration, or throws with a sentence naming the variable that is wrong. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const port = integer(env, 'PORT', 8080);
  const host = env.HOST || '0.0.0.0';
  const smtpUrl = env.SMTP_URL || null;
  if (smtpUrl && !/^smtps?:\/\//.test(smtpUrl)) {
    throw new Error('SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465.');
  }
  const demo = (env.MAILROOM_DEMO ?? 'on').trim().toLowerCase();
  if (!['on', 'off'].includes(demo)) throw new Error(`MAILROOM_DEMO must be "on" or "off", not "${env.MAILROOM_DEMO}".`);
  return {
    port,
    host,
    dataDir: resolve(env.MAILROOM_DATA_DIR || 'data'),
    smtpUrl,
    sinkPort: integer(env, 'MAILROOM_SINK_PORT', 2525),
    adminPassword: env.MAILROOM_ADMIN_PASSWORD || null,
    publicUrl: env.MAILROOM_PUBLIC_URL ? env.MAILROOM_PUBLIC_URL.replace(/\/$/, '') : null,
    appDir: resolve(env.MAILROOM_APP_DIR || 'build'),
    poolSize: integer(env, 'MAILROOM_SMTP_CONNECTIONS', 5, 1),
    messagesPerConnection: integer(env, 'MAILROOM_SMTP_MESSAGES_PER_CONNECTION', 1000, 1),
    ratePerSecond: integer(env, 'MAILROOM_SEND_RATE', 0),
    demo: demo === 'on',
  };
}
