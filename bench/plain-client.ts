/**
 * The ceiling of `bench:send` on this machine: a plain SMTP client that sends one message,
 * built once, to N recipients over `connections` sockets into the same sink, with PIPELINING
 * (MAIL, RCPT and DATA in one write, the message and its dot in the next) and nothing else —
 * no rendering, no tracking, no journal. How close Mailroom gets to it is the figure that
 * tells what our own work costs; the rest is the sink's and the kernel's.
 */

import { connect, type Socket } from 'node:net';

/** Reads SMTP replies off a socket: resolves one final reply line at a time (a line with a space after the code). */
function replies(socket: Socket) {
  let buffered = '';
  const lines: string[] = [];
  const waiting: ((line: string) => void)[] = [];
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => {
    buffered += chunk;
    let end;
    while ((end = buffered.indexOf('\r\n')) !== -1) {
      const line = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      if (line[3] === '-') continue; // a continuation of a multi-line reply
      const next = waiting.shift();
      if (next) next(line);
      else lines.push(line);
    }
  });
  return () => new Promise<string>((resolve) => (lines.length ? resolve(lines.shift()!) : waiting.push(resolve)));
}

async function expect(reply: Promise<string>, code: string): Promise<void> {
  const line = await reply;
  if (!line.startsWith(code)) throw new Error(`the sink answered "${line}", not ${code}`);
}

/** Returns messages per second for `count` messages of `bytes` (CRLF, no line starting with a dot) over `connections` sockets. */
export async function plainPipelinedSend(port: number, bytes: Buffer, count: number, connections: number): Promise<number> {
  const data = Buffer.concat([bytes, Buffer.from(bytes.subarray(-2).toString() === '\r\n' ? '.\r\n' : '\r\n.\r\n')]);
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      const socket = connect(port, '127.0.0.1');
      socket.setNoDelay(true);
      const reply = replies(socket);
      await expect(reply(), '220');
      socket.write('EHLO bench.example.com\r\n');
      await expect(reply(), '250');
      while (next < count) {
        const n = next++;
        socket.write(`MAIL FROM:<news@shop.example.com>\r\nRCPT TO:<reader.${n}@example.com>\r\nDATA\r\n`);
        await expect(reply(), '250');
        await expect(reply(), '250');
        await expect(reply(), '354');
        socket.write(data);
        await expect(reply(), '250');
      }
      // Done: a reset as the sink closes is no matter now.
      socket.on('error', () => {});
      socket.end('QUIT\r\n');
    }),
  );
  return count / ((performance.now() - started) / 1000);
}
