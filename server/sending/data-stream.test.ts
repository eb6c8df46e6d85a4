/**
 * The clean DATA path puts on the wire exactly the bytes nodemailer's own pass does, for
 * messages that need nothing changed and for those that do: a relay over real TCP records
 * what it receives between DATA and the terminating dot, as sent (dot-stuffed).
 */

import { createServer, type Server } from 'node:net';
import { Readable } from 'node:stream';
import SMTPConnection from 'nodemailer/lib/smtp-connection';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { markClean, needsDataPass, withCleanData } from './data-stream';

let server: Server;
let port = 0;
/** What each message's DATA carried, terminator included, in arrival order. */
const received: Buffer[] = [];

beforeAll(async () => {
  server = createServer((socket) => {
    let data: Buffer[] | null = null;
    let line = '';
    socket.write('220 test ESMTP\r\n');
    socket.on('data', (chunk: Buffer) => {
      if (data) {
        data.push(chunk);
        const all = Buffer.concat(data);
        if (all.subarray(-5).toString('latin1') === '\r\n.\r\n' || all.toString('latin1') === '.\r\n') {
          received.push(all);
          data = null;
          socket.write('250 2.0.0 queued\r\n');
        }
        return;
      }
      line += chunk.toString('latin1');
      let end: number;
      while ((end = line.indexOf('\r\n')) !== -1) {
        const command = line.slice(0, end).toUpperCase();
        line = line.slice(end + 2);
        if (command.startsWith('EHLO')) socket.write('250-test\r\n250 8BITMIME\r\n');
        else if (command === 'DATA') {
          data = line ? [Buffer.from(line, 'latin1')] : [];
          line = '';
          socket.write('354 go ahead\r\n');
          break;
        } else if (command === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 OK\r\n');
      }
    });
  });
  await new Promise<void>((listening) => server.listen(0, '127.0.0.1', listening));
  port = (server.address() as { port: number }).port;
});
afterAll(() => new Promise<void>((closed) => server.close(() => closed())));

/** Sends the messages over one connection (clean path or not); resolves what the relay received for them. */
async function wire(messages: (string | Buffer | (() => Readable))[], clean: boolean, options?: { bytes: boolean }): Promise<Buffer[]> {
  const plain = new SMTPConnection({ host: '127.0.0.1', port, ignoreTLS: true });
  const connection = clean ? withCleanData(plain, options) : plain;
  await new Promise<void>((connected, failed) => {
    connection.once('error', failed);
    connection.connect(() => connected());
  });
  const from = received.length;
  for (const message of messages) {
    const body = typeof message === 'function' ? message() : message;
    await new Promise((sent, failed) =>
      connection.send({ from: 'a@example.com', to: ['b@example.com'] }, body, (error, info) => (error ? failed(error) : sent(info))),
    );
  }
  connection.quit();
  return received.slice(from);
}

const CLEAN = 'From: a@example.com\r\nSubject: Hi\r\nContent-Transfer-Encoding: base64\r\n\r\nSGVsbG8s\r\nIHdvcmxk\r\n';
const MESSAGES = [
  CLEAN,
  'Subject: dots\r\n\r\n.a line that starts with a dot\r\n..and two\r\n.\r\nend\r\n',
  '.Starts with a dot\r\n\r\nbody\r\n',
  'Subject: bare\nline ends\r\nand a bare CR\rhere\r\n',
  'Subject: no final line end\r\n\r\nlast line',
  'Subject: non-ASCII é ü 漢字\r\n\r\nbody é\r\n',
];

describe('DATA without the byte-by-byte pass', () => {
  it('tells which messages need the pass', () => {
    expect(needsDataPass(Buffer.from(CLEAN))).toBe(false);
    expect(needsDataPass(Buffer.from('Subject: x\r\n\r\nlast line'))).toBe(false);
    expect(MESSAGES.slice(1, 4).map((m) => needsDataPass(Buffer.from(m)))).toEqual([true, true, true]);
    expect(needsDataPass(Buffer.alloc(0))).toBe(true);
  });

  it('puts the same bytes on the wire as nodemailer’s own pass, for every kind of message, given as text or as a stream', async () => {
    const inputs = [...MESSAGES, ...MESSAGES.map((m) => () => Readable.from([Buffer.from(m.slice(0, 7)), Buffer.from(m.slice(7))]))];
    const expected = await wire(inputs, false);
    const actual = await wire(inputs, true);
    expect(actual.map((b) => b.toString('latin1'))).toEqual(expected.map((b) => b.toString('latin1')));
    // The pass did its work where it had to: stuffed dots, CRLF everywhere, the terminator.
    expect(actual[1].toString('latin1')).toContain('\r\n..a line that starts with a dot\r\n...and two\r\n..\r\nend\r\n.\r\n');
    expect(actual[3].toString('latin1')).toBe('Subject: bare\r\nline ends\r\nand a bare CR\r\nhere\r\n.\r\n');
    expect(actual[4].toString('latin1')).toMatch(/last line\r\n\.\r\n$/);
    expect(actual[0].toString('latin1')).toBe(`${CLEAN}.\r\n`);
  });
});

describe('DATA of messages given as one Buffer (the pool without DKIM)', () => {
  it('puts the same bytes on the wire as nodemailer’s own pass, marked clean or not, the answer of each to its own send', async () => {
    const expected = await wire(MESSAGES, false);
    // Unmarked: each is looked at and takes the pass when it needs it.
    expect(
      (
        await wire(
          MESSAGES.map((m) => Buffer.from(m)),
          true,
          { bytes: true },
        )
      ).map((b) => b.toString('latin1')),
    ).toEqual(expected.map((b) => b.toString('latin1')));
    // Marked clean when built: written as they are (the clean ones, and the one without a final line end).
    const clean = [MESSAGES[0], MESSAGES[4], MESSAGES[5]];
    const marked = await wire(
      clean.map((m) => markClean(Buffer.from(m))),
      true,
      { bytes: true },
    );
    expect(marked.map((b) => b.toString('latin1'))).toEqual([expected[0], expected[4], expected[5]].map((b) => b.toString('latin1')));
  });
});
