/** The messenger: what the engine sends through (smtp-pool.ts is the real one), and the reading of SMTP replies into outcomes. */

import type { OutgoingMessage } from './compose';

/**
 * The message was never handed to the relay: no connection could be opened (the relay
 * refuses, does not answer, refuses the login…) or the messenger was closing. `relay` says
 * what is wrong as the start of a sentence ("The relay at host:port refuses connections").
 */
export type UnsentOutcome = { kind: 'unsent'; reply: string; relay: string };

/**
 * Not handed to a relay yet because a limit of ours says not before `until` (ms since epoch):
 * a per-domain throttle or a relay's rate (relays.ts). Back to the queue until then; no
 * attempt is counted, and it is no failure.
 */
export type DeferredOutcome = { kind: 'deferred'; reply: string; until: number };

export type SmtpOutcome =
  | { kind: 'sent'; reply: string }
  | DeferredOutcome
  | { kind: 'retry'; reply: string }
  | { kind: 'failed'; reply: string }
  | { kind: 'bounced'; reply: string }
  | UnsentOutcome;

export interface Messenger {
  /**
   * Returns the relay's answer to one message as an outcome; never throws for an SMTP or
   * network failure. `unsent` means the message was never handed to the relay (no
   * connection could be opened, or the messenger is closing).
   */
  send(message: OutgoingMessage): Promise<SmtpOutcome>;
  /**
   * Returns null when a connection to the relay is open or could be opened now, or the
   * `unsent` outcome saying why not; sends nothing. The engine asks this while the relay is
   * unreachable instead of claiming rows (a messenger without it is taken to be reachable).
   */
  probe?(): Promise<UnsentOutcome | null>;
  /**
   * Stops taking messages: those waiting for a connection come back `unsent` at once,
   * those in conversation with the relay finish. Resolves once none is left.
   */
  close(): Promise<void>;
}

/** How long the pool waits for the relay (ms): to connect, for its greeting, and for any reply once connected. */
export interface RelayTimeouts {
  /** From the DNS lookup to the greeting (nodemailer cuts the greeting's wait short by what is left of it). */
  connectionMs: number;
  greetingMs: number;
  /**
   * Inactivity on an open connection, also after the message's final dot: a relay silent
   * that long is taken to be gone, and the message is retried (it may have been accepted).
   */
  socketMs: number;
}

export const RELAY_TIMEOUTS: RelayTimeouts = { connectionMs: 10_000, greetingMs: 10_000, socketMs: 60_000 };

export interface RelayOptions {
  /** smtp://user:pass@host:port (STARTTLS when offered) or smtps://… (TLS from the start). */
  url: string;
  maxConnections: number;
  maxMessagesPerConnection: number;
  /** Signs every message (DKIM-Signature header) when set. */
  dkim?: { domainName: string; keySelector: string; privateKey: string } | null;
  /** Defaults to RELAY_TIMEOUTS. */
  timeouts?: Partial<RelayTimeouts>;
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
/** Errors nodemailer raises before a command is sent, about the message itself: sending it again would meet the same refusal. */
const REFUSED_BY_CLIENT = new Set(['EENVELOPE', 'EMESSAGE']);

type SmtpError = { responseCode?: number; response?: string; message?: string; code?: string; originalCode?: string; timeoutType?: string };

const replyOf = (e: SmtpError, error: unknown) => e.response ?? `${e.code ?? 'ERROR'} ${e.message ?? String(error)}`;

/**
 * Returns the outcome an SMTP failure means: 4xx and connection trouble are retried, 5xx
 * fails the message, and a 5.1.x reply (bad mailbox or domain) is a hard bounce. An address
 * or message the client itself refuses to send (EENVELOPE or EMESSAGE with no reply from
 * the relay: a line break or angle bracket in the address, over the relay's size limit)
 * fails at once, with the reason.
 */
export function classifyFailure(error: unknown): SmtpOutcome {
  const e = error as SmtpError;
  const reply = replyOf(e, error);
  const code = e.responseCode;
  if (code === undefined && REFUSED_BY_CLIENT.has(e.code ?? '')) return { kind: 'failed', reply: `not sent: ${reply}` };
  // Trouble with the relay itself (login, TLS, network) is not the recipient's fault: retry,
  // and let the error budget pause the delivery if it persists.
  if (code === undefined || code < 500 || RELAY_ERRORS.has(e.code ?? '')) return { kind: 'retry', reply };
  if (/\b5\.1\.\d+\b/.test(reply) || code === 550 || code === 551 || code === 553) return { kind: 'bounced', reply };
  return { kind: 'failed', reply };
}

/**
 * Returns the `unsent` outcome of a connection that could not be opened to the relay at
 * `where` (host:port): the error as the reply, and what it says about the relay as the start
 * of a sentence ("The relay at smtp.example.com:587 refuses connections"), for the reason
 * of a delivery paused while the relay is unreachable.
 */
export function unreachable(error: unknown, where: string): UnsentOutcome {
  const e = error as SmtpError;
  const system = `${e.originalCode ?? ''} ${e.message ?? ''}`;
  const what =
    e.code === 'EAUTH'
      ? 'refuses the login'
      : /ECONNREFUSED/.test(system)
        ? 'refuses connections'
        : e.code === 'ETIMEDOUT' || /ETIMEDOUT/.test(system)
          ? 'does not answer'
          : e.code === 'EDNS' || /ENOTFOUND|EAI_AGAIN/.test(system)
            ? 'cannot be found'
            : e.code === 'ETLS'
              ? 'fails the TLS handshake'
              : e.responseCode !== undefined
                ? 'turns connections away'
                : /ECONNRESET|closed unexpectedly/i.test(system)
                  ? 'drops connections'
                  : 'cannot be reached';
  return { kind: 'unsent', reply: replyOf(e, error), relay: `The relay at ${where} ${what}` };
}
