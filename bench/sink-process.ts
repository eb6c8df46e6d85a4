/**
 * The sink of `bench:send`, run as its own process: an smtp-server on loopback that accepts
 * every message and counts it. Prints its port on the first line, then the count whenever
 * asked (a line on stdin).
 */

import { SMTPServer } from 'smtp-server';

let received = 0;
const server = new SMTPServer({
  authOptional: true,
  disabledCommands: ['STARTTLS'],
  logger: false,
  size: 25 * 1024 * 1024,
  onData(stream, _session, callback) {
    stream.on('data', () => {});
    stream.on('end', () => {
      received++;
      callback(null, `250 2.0.0 Message ${received} accepted`);
    });
  },
});
server.on('error', () => {}); // a client dropping its connection ends only that connection
server.listen(0, '127.0.0.1', () => {
  const address = server.server.address();
  console.log(typeof address === 'object' && address ? address.port : 0);
});
process.stdin.on('data', () => console.log(received));
