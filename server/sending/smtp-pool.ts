/**
 * A pool of SMTP connections that sends pre-built messages: nodemailer's SMTPConnection for
 * the conversation (STARTTLS, login, dot-stuffing), without its mailer layer, which builds a
 * MIME tree, generates ids and runs plugins for every message even when it is given the
 * raw bytes. DKIM, when configured, signs the bytes on their way out (nodemailer's signer).
 */

import SMTPConnection from 'nodemailer/lib/smtp-connection';
import DKIM from 'nodemailer/lib/dkim';
import type { SmtpOutcome } from '../store/send-journal';
import type { OutgoingMessage } from './compose';
import { buildRawMessage } from './mime';
import { classifyFailure, relayTransportOptions, type Messenger, type RelayOptions } from './messenger';

interface PooledConnection {
  connection: SMTPConnection;
  sent: number;
  broken: boolean;
}

/** Returns a messenger over at most `maxConnections` connections, each renewed after `maxMessagesPerConnection` messages. */
export function createPooledMessenger(options: RelayOptions): Messenger {
  const transport = relayTransportOptions(options);
  const signer = options.dkim ? new DKIM(options.dkim) : null;
  const idle: PooledConnection[] = [];
  const waiting: ((pooled: PooledConnection | null) => void)[] = [];
  let open = 0;
  let closed = false;

  const connect = async (): Promise<PooledConnection> => {
    const connection = new SMTPConnection({
      host: transport.host,
      port: transport.port,
      secure: transport.secure,
      tls: transport.tls,
      connectionTimeout: 30_000,
      greetingTimeout: 30_000,
      socketTimeout: 120_000,
    });
    const pooled: PooledConnection = { connection, sent: 0, broken: false };
    // A dropped connection is noticed here and replaced on the next message.
    connection.on('error', () => (pooled.broken = true));
    connection.on('end', () => (pooled.broken = true));
    await new Promise<void>((resolve, reject) => {
      connection.once('error', reject);
      connection.connect(() => {
        connection.removeListener('error', reject);
        resolve();
      });
    });
    if (transport.auth) {
      await new Promise<void>((resolve, reject) => connection.login(transport.auth!, (error) => (error ? reject(error) : resolve())));
    }
    return pooled;
  };

  const acquire = async (): Promise<PooledConnection> => {
    for (;;) {
      if (closed) throw new Error('the connection pool is closed (settings changed or the server is stopping)');
      const ready = idle.pop();
      if (ready && !ready.broken) return ready;
      if (ready) discard(ready);
      else if (open < options.maxConnections) {
        open++;
        try {
          return await connect();
        } catch (error) {
          open--;
          throw error;
        }
      } else {
        const next = await new Promise<PooledConnection | null>((resolve) => waiting.push(resolve));
        if (next) return next;
      }
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

  return {
    async send(message: OutgoingMessage): Promise<SmtpOutcome> {
      let pooled: PooledConnection;
      try {
        pooled = await acquire();
      } catch (error) {
        return classifyFailure(error);
      }
      try {
        const raw = buildRawMessage(message, new Date());
        const info = await new Promise<{ response: string }>((resolve, reject) =>
          pooled.connection.send({ from: message.from.address, to: [message.to] }, signer ? signer.sign(raw) : raw, (error, result) =>
            error ? reject(error) : resolve(result),
          ),
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
    },
    async close() {
      closed = true;
      for (const pooled of idle.splice(0)) discard(pooled);
      for (const waiter of waiting.splice(0)) waiter(null);
    },
  };
}
