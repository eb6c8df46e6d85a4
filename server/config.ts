/**
 * Configuration from the environment, with the embedded defaults that make `npm start` work
 * anywhere; the data directory; and what Mailroom's two commands (the server and `npm run
 * import`) read from their command line and how they end.
 */

import type { ProviderKeys } from './bounces/providers';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { maskUrl, openStores, type Stores } from './store/stores';
import { mailboxUrlProblem } from './bounces/imap-mailbox';

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The shortest MAILROOM_METRICS_TOKEN accepted: a bearer token anyone could guess protects nothing. */
export const METRICS_TOKEN_MIN_LENGTH = 16;

export interface Config {
  port: number;
  host: string;
  dataDir: string;
  /** postgres://… (DATABASE_URL) runs on PostgreSQL, shared by any number of nodes; null: SQLite in `dataDir`. */
  databaseUrl: string | null;
  /** Relay URL; null starts the built-in SMTP sink. */
  smtpUrl: string | null;
  sinkPort: number;
  /** The domain whose MX points at the bounce port (MAILROOM_BOUNCE_DOMAIN); null: bounces go to the From address. */
  bounceDomain: string | null;
  /** The port bounces and complaint reports are received on (MAILROOM_BOUNCE_PORT); null: not received. */
  bouncePort: number | null;
  /** A mailbox bounces and complaints are read from over IMAP (MAILROOM_BOUNCE_IMAP_URL), and how often (MAILROOM_BOUNCE_IMAP_EVERY, seconds); null: none. */
  bounceMailbox: { url: string; everyMs: number } | null;
  /** The relay providers' webhook keys (MAILROOM_SENDGRID_PUBLIC_KEY, MAILROOM_MAILGUN_SIGNING_KEY, MAILROOM_POSTMARK_AUTH, MAILROOM_SES_TOPIC_ARNS). */
  providerKeys: ProviderKeys;
  adminPassword: string | null;
  /** The address recipients reach tracking and unsubscribe links at; null: this server's own URL. */
  publicUrl: string | null;
  appDir: string;
  poolSize: number;
  messagesPerConnection: number;
  ratePerSecond: number;
  /** Seed the demo audience into a new database (MAILROOM_DEMO, on unless "off"). */
  demo: boolean;
  /** The least severe log line written (LOG_LEVEL, `info` unless told). */
  logLevel: LogLevel;
  /** The bearer token /metrics asks for (MAILROOM_METRICS_TOKEN); null: /metrics answers loopback clients only. */
  metricsToken: string | null;
}

function integer(env: NodeJS.ProcessEnv, name: string, fallback: number, min = 0): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be a whole number of at least ${min}, not "${raw}".`);
  return value;
}

/** Returns the data directory (MAILROOM_DATA_DIR, ./data unless told) as an absolute path. */
export function dataDirectory(env: NodeJS.ProcessEnv = process.env): string {
  return resolve(env.MAILROOM_DATA_DIR || 'data');
}

/** The data directory or its database cannot be opened (the commands exit with EXIT.dataDir). */
export class DataDirectoryError extends Error {}

/**
 * Resolves the stores of record, with the schema migrated: on PostgreSQL when `databaseUrl`
 * is given, else in the SQLite file of the data directory (folder and file created when
 * missing); throws a DataDirectoryError saying what is wrong when they cannot be opened (a
 * folder that is not one or not writable, not a SQLite file, a PostgreSQL server that does
 * not answer or refuses the login).
 */
export async function openData(options: {
  dataDir: string;
  databaseUrl: string | null;
  nodeId: string;
  liveIntervalMs?: number;
}): Promise<Stores> {
  if (options.databaseUrl) {
    try {
      return await openStores({ databaseUrl: options.databaseUrl, nodeId: options.nodeId, liveIntervalMs: options.liveIntervalMs });
    } catch (error) {
      throw new DataDirectoryError(
        `Cannot open the PostgreSQL database at ${maskUrl(options.databaseUrl)} (${(error as Error).message}). Check DATABASE_URL: the server, the user, the password and the database.`,
        { cause: error },
      );
    }
  }
  const file = join(options.dataDir, 'mailroom.db');
  try {
    mkdirSync(options.dataDir, { recursive: true });
    return await openStores({ file, nodeId: options.nodeId, liveIntervalMs: options.liveIntervalMs });
  } catch (error) {
    throw new DataDirectoryError(
      `Cannot open the database ${file} (${(error as Error).message}). Check that MAILROOM_DATA_DIR names a folder this user can write to, holding Mailroom's database or nothing.`,
      { cause: error },
    );
  }
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
  const logLevel = (env.LOG_LEVEL || 'info').trim().toLowerCase() as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) {
    throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.slice(0, -1).join(', ')} or silent, not "${env.LOG_LEVEL}".`);
  }
  const metricsToken = env.MAILROOM_METRICS_TOKEN || null;
  // The token itself is never repeated in a message: it may be most of a real one.
  if (metricsToken !== null && metricsToken.length < METRICS_TOKEN_MIN_LENGTH) {
    throw new Error(
      `MAILROOM_METRICS_TOKEN must be at least ${METRICS_TOKEN_MIN_LENGTH} characters (it has ${metricsToken.length}); make one with: openssl rand -hex 32`,
    );
  }
  const mailboxUrl = env.MAILROOM_BOUNCE_IMAP_URL?.trim() || null;
  const mailboxProblem = mailboxUrl ? mailboxUrlProblem(mailboxUrl) : null;
  if (mailboxProblem) throw new Error(`MAILROOM_BOUNCE_IMAP_URL cannot be used: ${mailboxProblem}.`);
  const databaseUrl = env.DATABASE_URL || null;
  if (databaseUrl && !/^postgres(ql)?:\/\//.test(databaseUrl)) {
    throw new Error('DATABASE_URL must look like postgres://user:password@host:5432/mailroom (or be unset for SQLite).');
  }
  return {
    port,
    host,
    dataDir: dataDirectory(env),
    databaseUrl,
    smtpUrl,
    sinkPort: integer(env, 'MAILROOM_SINK_PORT', 2525),
    bounceDomain: env.MAILROOM_BOUNCE_DOMAIN?.trim().toLowerCase() || null,
    bouncePort: env.MAILROOM_BOUNCE_PORT ? integer(env, 'MAILROOM_BOUNCE_PORT', 0) : null,
    bounceMailbox: mailboxUrl
      ? { url: mailboxUrl, everyMs: Math.min(integer(env, 'MAILROOM_BOUNCE_IMAP_EVERY', 60, 5), 86_400) * 1000 }
      : null,
    providerKeys: {
      sendgridPublicKey: env.MAILROOM_SENDGRID_PUBLIC_KEY?.trim() || null,
      mailgunSigningKey: env.MAILROOM_MAILGUN_SIGNING_KEY?.trim() || null,
      postmarkAuth: env.MAILROOM_POSTMARK_AUTH?.trim() || null,
      sesTopicArns: (env.MAILROOM_SES_TOPIC_ARNS ?? '')
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean),
    },
    adminPassword: env.MAILROOM_ADMIN_PASSWORD || null,
    publicUrl: env.MAILROOM_PUBLIC_URL ? env.MAILROOM_PUBLIC_URL.replace(/\/$/, '') : null,
    appDir: resolve(env.MAILROOM_APP_DIR || 'build'),
    poolSize: integer(env, 'MAILROOM_SMTP_CONNECTIONS', 5, 1),
    messagesPerConnection: integer(env, 'MAILROOM_SMTP_MESSAGES_PER_CONNECTION', 1000, 1),
    ratePerSecond: integer(env, 'MAILROOM_SEND_RATE', 0),
    demo: demo === 'on',
    logLevel,
    metricsToken,
  };
}

/**
 * How Mailroom's commands end, the same for both, as their usage texts say:
 * 0 done (or help shown); 1 failed (the import refused the file; the server could not start
 * or stop in time); 2 a usage error (an unknown option, a missing or extra operand, a
 * variable with a wrong value); 3 the data directory or its database cannot be opened.
 */
export const EXIT = { ok: 0, failed: 1, usage: 2, dataDir: 3 } as const;

export type CommandLine = { kind: 'help' } | { kind: 'run'; operands: string[] } | { kind: 'usage-error'; message: string };

/**
 * Returns what a command line asks for: `help` when it holds --help or -h (wherever), a
 * `run` with its operands when it holds between `min` and `max` of them and no other
 * option, else the usage error as a sentence. A lone `--` ends the options (a file named
 * `-x.csv` then passes).
 */
export function readCommandLine(args: readonly string[], operands: { min: number; max: number; name?: string }): CommandLine {
  const end = args.indexOf('--');
  const options = end === -1 ? args : args.slice(0, end);
  if (options.some((arg) => arg === '--help' || arg === '-h')) return { kind: 'help' };
  const unknown = options.find((arg) => arg.startsWith('-') && arg !== '-');
  if (unknown !== undefined) return { kind: 'usage-error', message: `Unknown option ${unknown}.` };
  const given = end === -1 ? [...args] : [...options, ...args.slice(end + 1)];
  if (given.length < operands.min) return { kind: 'usage-error', message: `Say which ${operands.name ?? 'operand'}.` };
  if (given.length > operands.max) {
    return {
      kind: 'usage-error',
      message:
        operands.max === 0
          ? `Unexpected argument ${given[0]}: this command takes none (it is configured by environment variables).`
          : `Too many arguments: ${given.join(' ')} (one ${operands.name ?? 'operand'} at a time).`,
    };
  }
  return { kind: 'run', operands: given };
}
