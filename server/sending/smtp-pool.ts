/**
 * A pool of SMTP connections that sends pre-built messages: nodemailer's SMTPConnection for
 * the conversation (STARTTLS, login, dot-stuffing), without its mailer layer, which builds a
 * MIME tree, generates ids and runs plugins for every message even when it is given the
 * raw bytes. DKIM, when configured, signs the bytes on their way out (nodemailer's signer).
 *
 * Invariants, which is what keeps a relay outage from freezing a delivery:
 * - a message waiting for a connection is never forgotten: it gets a connection when one is
 *   released, opens one in place of one that was discarded, or comes back `unsent` when a
 *   connection attempt fails while no connection to the relay is open (the relay is down:
 *   waiting longer would not help) or when the pool closes;
 * - `unsent` is answered only for messages whose SMTP conversation never began, so the
 *   journal may put them back in the queue without counting an attempt.
 */

import SMTPConnection from 'nodemailer/lib/smtp-connection';
import DKIM from 'nodemailer/lib/dkim';
import type { SmtpOutcome, UnsentOutcome } from './messenger';
import type { OutgoingMessage } from './compose';
import { asciiEmail, NEEDS_SMTPUTF8, needsSmtputf8 } from '../../shared/email-address';
import { buildRawBytes } from './mime';
import { withCleanData } from './data-stream';
import { classifyFailure, RELAY_TIMEOUTS, relayTransportOptions, unreachable, type Messenger, type RelayOptions } from './messenger';

interface PooledConnection {
  connection: SMTPConnection;
  sent: number;
  broken: boolean;
}

/** What a message waiting for a connection is given: a connection, an error to fail with, or null to try again (a place is free). */
type Turn = PooledConnection | { error: unknown } | null;

/** After a connection attempt fails while others are open, no new one is tried for this long: messages wait for the open ones. */
const CONNECT_BACKOFF_MS = 1_000;

const CLOSED = Object.assign(new Error('the connection pool is closed (settings changed or the server is stopping)'), { code: 'ECLOSED' });

/**
 * Returns true when the relay said in its EHLO reply that it offers SMTPUTF8. nodemailer keeps
 * the extensions it read there and has no public way to ask for them.
 */
function offersSmtputf8(connection: SMTPConnection): boolean {
  return (connection as unknown as { _supportedExtensions?: string[] })._supportedExtensions?.includes('SMTPUTF8') ?? false;
}

/** Returns a messenger over at most `maxConnections` connections, each renewed after `maxMessagesPerConnection` messages. */
export function createPooledMessenger(options: RelayOptions): Messenger {
  const transport = relayTransportOptions(options);
  const timeouts = { ...RELAY_TIMEOUTS, ...options.timeouts };
  const where = `${transport.host}:${transport.port}`;
  const signer = options.dkim ? new DKIM(options.dkim) : null;
  const idle: PooledConnection[] = [];
  const waiting: ((turn: Turn) => void)[] = [];
  const connecting = new Set<SMTPConnection>();
  let open = 0; // connecting or connected, idle or busy
  let active = 0; // calls of send() and probe() not yet returned
  let connectAgainAt = 0;
  let closed = false;
  let closing: Promise<void> | null = null;
  let drained = () => {};

  const connect = () =>
    new Promise<PooledConnection>((resolve, reject) => {
      const connection = withCleanData(
        new SMTPConnection({
          host: transport.host,
          port: transport.port,
          secure: transport.secure,
          tls: transport.tls,
          connectionTimeout: timeouts.connectionMs,
          greetingTimeout: timeouts.greetingMs,
          socketTimeout: timeouts.socketMs,
        }),
        // Without DKIM every message is handed over as one Buffer (with it, as the signer's stream).
        { bytes: signer === null },
      );
      const pooled: PooledConnection = { connection, sent: 0, broken: false };
      let settled = false;
      const settle = (error?: unknown) => {
        if (settled) return;
        settled = true;
        connecting.delete(connection);
        if (error === undefined) return resolve(pooled);
        pooled.broken = true;
        connection.close();
        reject(error);
      };
      connecting.add(connection);
      // A dropped connection is noticed here and replaced on the next message. Until it is
      // ready, an error or an end (also close() while connecting) fails the attempt.
      connection.on('error', (error) => {
        pooled.broken = true;
        settle(error);
      });
      connection.on('end', () => {
        pooled.broken = true;
        settle(closed ? CLOSED : Object.assign(new Error('Connection closed unexpectedly'), { code: 'ECONNECTION' }));
      });
      // nodemailer hands a close before the greeting to this callback rather than to 'error'.
      connection.connect((error) => {
        if (error) return settle(error);
        if (!transport.auth) return settle();
        connection.login(transport.auth, (loginError) => settle(loginError ?? undefined));
      });
    });

  /**
   * Returns a connection: an idle one, a new one while there is room, or the next one
   * released. Throws when none can be had; with `wait` false, returns null instead of
   * waiting for a busy connection (one is open, so the relay is reachable).
   */
  const acquire = async (wait: boolean): Promise<PooledConnection | null> => {
    for (;;) {
      if (closed) throw CLOSED;
      const ready = idle.pop();
      if (ready && !ready.broken) return ready;
      if (ready) {
        discard(ready);
        continue;
      }
      const connected = open - connecting.size;
      if (open < options.maxConnections && (connected === 0 || Date.now() >= connectAgainAt)) {
        open++;
        try {
          return await connect();
        } catch (error) {
          open--;
          if (closed) throw CLOSED;
          connectAgainAt = Date.now() + CONNECT_BACKOFF_MS;
          // Other connections are open (a relay limiting connections per client): wait for one of them.
          if (open - connecting.size > 0) continue;
          // None is: the relay cannot be reached, and no message waiting here would fare better.
          for (const waiter of waiting.splice(0)) waiter({ error });
          throw error;
        }
      }
      if (!wait && connected > 0) return null;
      const turn = await new Promise<Turn>((resolve) => waiting.push(resolve));
      if (turn && 'error' in turn) throw turn.error;
      if (turn) return turn;
    }
  };

  const release = (pooled: PooledConnection) => {
    if (closed || pooled.broken || pooled.sent >= options.maxMessagesPerConnection) {
      discard(pooled);
      waiting.shift()?.(null); // a waiter may open a new connection in its place
      return;
    }
    const waiter = waiting.shift();
    if (waiter) waiter(pooled);
    else idle.push(pooled);
  };

  const discard = (pooled: PooledConnection) => {
    open--;
    pooled.broken = true;
    try {
      pooled.connection.quit();
    } catch {
      // Already gone: nothing to say goodbye to.
    }
  };

  const notHandedOver = (error: unknown): UnsentOutcome =>
    error === CLOSED
      ? { kind: 'unsent', reply: `ECLOSED ${CLOSED.message}`, relay: `The connection pool for the relay at ${where} was closed` }
      : unreachable(error, where);

  /** Runs one call counted as active, so that close() knows when the last conversation has ended. */
  const counted = async <T>(work: () => Promise<T>): Promise<T> => {
    active++;
    try {
      return await work();
    } finally {
      active--;
      if (closed && active === 0) drained();
    }
  };

  /** Sends built bytes on a pooled connection; never throws. */
  const transact = (raw: Buffer, envelope: { from: string; to: string[] }) =>
    counted(async (): Promise<SmtpOutcome> => {
      let pooled: PooledConnection;
      try {
        pooled = (await acquire(true))!;
      } catch (error) {
        return notHandedOver(error);
      }
      const international = [envelope.from, ...envelope.to].find(needsSmtputf8);
      if (international !== undefined && !offersSmtputf8(pooled.connection)) {
        // Without SMTPUTF8 a relay may not be given such an address at all (RFC 6531); this relay will not change its mind.
        release(pooled);
        return {
          kind: 'failed',
          reply: `not sent: ${international} ${NEEDS_SMTPUTF8} (it has non-ASCII characters before the @), and the relay at ${where} does not`,
        };
      }
      try {
        // nodemailer adds SMTPUTF8 to MAIL FROM itself when the envelope needs it and the relay offers it.
        const info = await new Promise<{ response: string }>((resolve, reject) =>
          pooled.connection.send(envelope, signer ? signer.sign(raw) : raw, (error, result) => (error ? reject(error) : resolve(result))),
        );
        pooled.sent++;
        return { kind: 'sent', reply: info.response };
      } catch (error) {
        // After a refusal the conversation is in an unknown state: start the next message on a fresh connection.
        pooled.broken = true;
        return classifyFailure(error);
      } finally {
        release(pooled);
      }
    });

  return {
    send(message: OutgoingMessage) {
      let raw: Buffer;
      let envelope: { from: string; to: string[] };
      try {
        raw = buildRawBytes(message, new Date());
        // The envelope, like the headers, carries an international domain name in punycode.
        // Bounces go to the message's own return path when there is one (VERP), else to the From address.
        envelope = { from: asciiEmail(message.returnPath ?? message.from.address), to: [asciiEmail(message.to)] };
      } catch (error) {
        // A message that cannot be built would fail the same way on every try.
        return Promise.resolve<SmtpOutcome>({ kind: 'failed', reply: `not sent: ${(error as Error).message}` });
      }
      // The conversation holds the bytes alone, not the message: its parts as strings would
      // otherwise outlive a scavenge or two while the message waits for the relay, and be
      // copied each time (bench:send: a quarter of the SMTP thread's time went to the GC).
      return transact(raw, envelope);
    },
    probe: () =>
      counted(async () => {
        try {
          const pooled = await acquire(false);
          if (pooled) release(pooled);
          return null;
        } catch (error) {
          return notHandedOver(error);
        }
      }),
    close() {
      closing ??= new Promise<void>((resolve) => {
        closed = true;
        drained = resolve;
        for (const waiter of waiting.splice(0)) waiter({ error: CLOSED });
        for (const connection of connecting) connection.close();
        for (const pooled of idle.splice(0)) discard(pooled);
        if (active === 0) resolve();
      });
      return closing;
    },
  };
}
