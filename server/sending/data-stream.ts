/**
 * The DATA of a message without nodemailer's byte-by-byte pass when there is nothing in it to
 * change. nodemailer's DataStream walks every byte in JavaScript to stuff dots at the start of
 * lines and to turn a bare CR or LF into CRLF (a quarter of the SMTP thread's time when
 * sending at full speed). A message from buildRawBytes has CRLF line ends only, and its
 * base64 lines never start with a dot: it is marked so when built, anything else is told by
 * one native search, and such a message goes to the socket as it is, followed by the
 * terminating dot. Anything else takes DataStream's pass as before, so the bytes on the wire
 * are the same either way.
 */

import { Writable } from 'node:stream';
import type SMTPConnection from 'nodemailer/lib/smtp-connection';

/** Bytes that have CRLF line ends only and no line starting with a dot, by how they were built (mime.ts). */
const builtClean = new WeakSet<Buffer>();

/** Marks `bytes` as clean for DATA: sent as they are, without a look. Only for bytes clean by construction. */
export function markClean(bytes: Buffer): Buffer {
  builtClean.add(bytes);
  return bytes;
}

/** Returns true for bytes marked clean by markClean. */
export function isMarkedClean(bytes: Buffer): boolean {
  return builtClean.has(bytes);
}

/** Returns true when DATA must pass the message through nodemailer's DataStream: not built clean, and something to change in it. */
const takesThePass = (raw: Buffer) => !isMarkedClean(raw) && needsDataPass(raw);

/** A bare CR or LF, one not in a CRLF pair. */
const BARE_LINE_END = /\r(?!\n)|(?<!\r)\n/;

/** Returns true when DATA must change something in the message: a line starting with a dot, or a bare CR or LF. */
export function needsDataPass(raw: Buffer): boolean {
  if (raw.length === 0 || raw[0] === 0x2e || raw.indexOf('\n.') !== -1) return true;
  return BARE_LINE_END.test(raw.toString('latin1'));
}

/** What nodemailer's DataStream offers the connection, and what this module uses of it. */
interface DataStream extends NodeJS.ReadWriteStream {
  inByteCount: number;
  outByteCount: number;
  lastByte: number | false;
  push(chunk: Buffer): boolean;
}

interface ConnectionInternals {
  _createSendStream(callback: unknown): DataStream;
  _responseActions: ((reply: string) => void)[];
  _actionSMTPStream(reply: string, callback: unknown): void;
  _socket: NodeJS.WritableStream & { cork(): void; uncork(): void; destroyed: boolean };
  options: { lmtp?: boolean };
}

/** The terminating dot, after the CRLF that ends a clean message, or with one when it does not. */
const DOT = Buffer.from('.\r\n');
const CRLF_DOT = Buffer.from('\r\n.\r\n');

/**
 * Returns the connection, its DATA taking the clean path. A message handed over as one Buffer
 * (`bytes: true`, the pool without DKIM) is written to the socket as it is with its
 * terminating dot, in one write, when it is clean: no stream is made for it at all. Anything
 * else is collected (it is one string or one signed stream, a few tens of KB), then handed to
 * DataStream's output as it is when clean, or through DataStream's pass when not; the
 * DataStream stays the one nodemailer pipes to the socket and ends, so the connection's own
 * bookkeeping is untouched. Either way the relay's answer goes to the callback nodemailer gave.
 */
export function withCleanData<T extends SMTPConnection>(connection: T, options: { bytes?: boolean } = {}): T {
  const internals = connection as unknown as ConnectionInternals;
  const create = internals._createSendStream.bind(connection);
  internals._createSendStream = (callback) => {
    if (options.bytes && !internals.options.lmtp) return bytesWriter(internals, create, callback);
    const data = create(callback);
    const chunks: Buffer[] = [];
    const collector = new Writable({
      write(chunk: Buffer, _encoding, done) {
        chunks.push(chunk);
        done();
      },
      final(done) {
        // A message handed over as one Buffer arrives as that Buffer (built clean or not).
        const raw = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
        if (takesThePass(raw)) data.end(raw);
        else {
          data.inByteCount += raw.length;
          data.outByteCount += raw.length;
          data.lastByte = raw[raw.length - 1];
          data.push(raw);
          data.end(); // the terminating dot, after CRLF when the message did not end with one
        }
        done();
      },
    });
    // nodemailer reads the size sent from the stream it was handed.
    Object.defineProperty(collector, 'outByteCount', { get: () => data.outByteCount });
    return collector as unknown as DataStream;
  };
  return connection;
}

/**
 * What nodemailer's send() uses of the stream it makes for a message given as a Buffer:
 * write(message), end(), and outByteCount. A clean message goes straight to the socket with
 * its dot, the relay's answer to the callback (as nodemailer's own stream does it); one that
 * needs the pass goes through nodemailer's DataStream after all.
 */
function bytesWriter(internals: ConnectionInternals, create: (callback: unknown) => DataStream, callback: unknown) {
  let message: Buffer | null = null;
  let outByteCount = 0;
  let data: DataStream | null = null;
  return {
    write(chunk: Buffer) {
      message = message ? Buffer.concat([message, chunk]) : chunk;
      return true;
    },
    end() {
      const raw = message ?? Buffer.alloc(0);
      if (takesThePass(raw)) {
        data = create(callback);
        data.end(raw);
        return;
      }
      internals._responseActions.push((reply) => internals._actionSMTPStream(reply, callback));
      const dot = raw[raw.length - 1] === 0x0a ? DOT : CRLF_DOT;
      const socket = internals._socket;
      if (socket.destroyed) return; // nodemailer answers the pending send when it learns the connection is gone
      socket.cork();
      socket.write(raw);
      socket.write(dot);
      socket.uncork();
      outByteCount = raw.length + dot.length;
    },
    get outByteCount() {
      return data ? data.outByteCount : outByteCount;
    },
  } as unknown as DataStream;
}
