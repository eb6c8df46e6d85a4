/**
 * The bounce port: an SMTP server the bounce domain's MX points at. It takes mail for any
 * address (reports come to the signed return path, feedback loops to the address registered
 * with them), reads each message when it is whole and acts on it (application/late-outcomes.ts)
 * before answering: a report that could not be kept is answered 451, so the reporting MTA
 * tries again later and nothing is lost.
 */

import { SMTPServer } from 'smtp-server';

export interface BounceReceiver {
  port: number;
  close(): Promise<void>;
}

/** The largest report taken: a DSN carries the original message at most. */
const MAX_BYTES = 10 * 1024 * 1024;

export async function startBounceReceiver(options: {
  port: number;
  host?: string;
  handle: (raw: Buffer, recipients: string[]) => Promise<unknown>;
  onError?: (error: Error) => void;
}): Promise<BounceReceiver> {
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    banner: 'Mailroom bounces',
    size: MAX_BYTES,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        if (stream.sizeExceeded) return callback(Object.assign(new Error('5.3.4 Report too big'), { responseCode: 552 }));
        options
          .handle(
            Buffer.concat(chunks),
            session.envelope.rcptTo.map((r) => r.address),
          )
          .then(
            () => callback(null, 'Report received'),
            (error: Error) => {
              options.onError?.(error);
              callback(Object.assign(new Error('4.3.0 The report could not be kept: try again later'), { responseCode: 451 }));
            },
          );
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host ?? '0.0.0.0', () => {
      server.removeListener('error', reject);
      server.on('error', (error: Error) => options.onError?.(error));
      resolve();
    });
  });
  const address = server.server.address();
  return {
    port: typeof address === 'object' && address ? address.port : options.port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
