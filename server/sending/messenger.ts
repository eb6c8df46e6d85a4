/** The messenger: what the engine sends through (smtp-pool.ts is the real one), and the reading of SMTP replies into outcomes. */

import type { SmtpOutcome } from '../store/send-journal';
import type { OutgoingMessage } from './compose';

export interface Messenger {
  send(message: OutgoingMessage): Promise<SmtpOutcome>;
  close(): Promise<void>;
}

export interface RelayOptions {
  /** smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS from the start). */
  url: string;
  maxConnections: number;
  maxMessagesPerConnection: number;
  /** Signs every message (DKIM-Signature header) when set. */
  dkim?: { domainName: string; keySelector: string; privateKey: string } | null;
}

/** Returns the nodemailer transport options for a relay URL. */
export function relayTransportOptions(options: RelayOptions) {
  const url = new URL(options.url);
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new Error(`SMTP_URL must start with smtp:// or smtps://, not ${url.protocol}//`);
  }
  const secure = url.protocol === 'smtps:';
  return {
    pool: true as const,
    host: url.hostname,
    port: Number(url.port) || (secure ? 465 : 587),
    secure,
    auth: url.username ? { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) } : undefined,
    maxConnections: options.maxConnections,
    maxMessages: options.maxMessagesPerConnection,
    // Loopback relays (the built-in sink, a local MTA) present no certificate worth checking.
    tls: { rejectUnauthorized: !['127.0.0.1', 'localhost', '::1'].includes(url.hostname) },
    ...(options.dkim ? { dkim: options.dkim } : {}),
  };
}

const RELAY_ERRORS = new Set(['EAUTH', 'ECONNECTION', 'ETIMEDOUT', 'ESOCKET', 'EDNS', 'ETLS', 'EPROTOCOL']);

/**
 * Returns the outcome an SMTP failure means: 4xx and connection trouble are retried, 5xx
 * fails the message, and a 5.1.x reply (bad mailbox or domain) is a hard bounce.
 */
export function classifyFailure(error: unknown): SmtpOutcome {
  const e = error as { responseCode?: number; response?: string; message?: string; code?: string };
  const reply = e.response ?? `${e.code ?? 'ERROR'} ${e.message ?? String(error)}`;
  const code = e.responseCode;
  // Trouble with the relay itself (login, TLS, network) is not the recipient's fault: retry,
  // and let the error budget pause the delivery if it persists.
  if (code === undefined || code < 500 || RELAY_ERRORS.has(e.code ?? '')) return { kind: 'retry', reply };
  if (/\b5\.1\.\d+\b/.test(reply) || code === 550 || code === 551 || code === 553) return { kind: 'bounced', reply };
  return { kind: 'failed', reply };
}
