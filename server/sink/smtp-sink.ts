/**
 * The built-in SMTP sink: used when no relay is configured, so the whole flow runs on one
 * machine. It accepts every message over real SMTP and keeps it in the mailbox.
 */

import { SMTPServer } from 'smtp-server';
import type { MailboxStore } from '../store/mailbox';

export interface SmtpSink {
  port: number;
  close(): Promise<void>;
}

/** Starts the sink on 127.0.0.1 (port 0 picks a free one); resolves once it listens. */
export async function startSmtpSink(mailbox: MailboxStore, port = 0, onMessage?: () => void): Promise<SmtpSink> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    banner: 'Mailroom built-in sink',
    size: 25 * 1024 * 1024,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (stream.sizeExceeded) return callback(new Error('552 5.3.4 Message too big for the sink'));
        mailbox
          .add({
            receivedAt: new Date().toISOString(),
            envelopeFrom: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
            envelopeTo: session.envelope.rcptTo.map((r) => r.address).join(', '),
            raw: Buffer.concat(chunks),
          })
          .then(
            (id) => {
              onMessage?.();
              callback(null, `Message ${id} accepted`);
            },
            // Not kept, so not accepted: the sender tries again later.
            (error: Error) =>
              callback(
                Object.assign(new Error(`451 4.3.0 The mailbox could not keep the message: ${error.message}`), { responseCode: 451 }),
              ),
          );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      server.removeListener('error', reject);
      // A client that drops its connection (a crash, a reset) is its own business: never the sink's end.
      server.on('error', () => {});
      resolve();
    });
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
