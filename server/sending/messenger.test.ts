import type { Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutgoingMessage } from './compose';
import { classifyFailure, relayTransportOptions, unreachable, type Messenger, type RelayOptions } from './messenger';
import { createPooledMessenger } from './smtp-pool';
import { createThreadedMessenger } from './threaded-messenger';

describe('classifyFailure', () => {
  it.each([
    [{ responseCode: 421, response: '421 4.7.0 Too many connections' }, 'retry'],
    [{ responseCode: 451, response: '451 4.3.0 Temporary failure' }, 'retry'],
    [{ code: 'ECONNECTION', message: 'connect ECONNREFUSED' }, 'retry'],
    [{ code: 'ETIMEDOUT', message: 'Timeout' }, 'retry'],
    [{ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 Authentication failed' }, 'retry'],
    [{ responseCode: 550, response: '550 5.1.1 <x@example.com>: Recipient address rejected: User unknown' }, 'bounced'],
    [{ responseCode: 553, response: '553 mailbox name not allowed' }, 'bounced'],
    [{ responseCode: 554, response: '554 5.7.1 Message rejected as spam' }, 'failed'],
    [{ responseCode: 552, response: '552 5.3.4 Message size exceeds fixed limit' }, 'failed'],
    // Refused by nodemailer before any command: the same address would be refused on every try.
    [{ code: 'EENVELOPE', message: 'Invalid recipient "anna<x>@example.com"' }, 'failed'],
    [{ code: 'EENVELOPE', message: 'No recipients defined' }, 'failed'],
    [{ code: 'EMESSAGE', message: 'Message size larger than allowed 1000' }, 'failed'],
    // Refused by the relay: its reply decides.
    [{ code: 'EENVELOPE', responseCode: 450, response: '450 4.2.1 Mailbox busy' }, 'retry'],
    [{ code: 'EENVELOPE', responseCode: 550, response: '550 5.1.1 User unknown' }, 'bounced'],
  ])('%o → %s', (error, kind) => {
    expect(classifyFailure(error).kind).toBe(kind);
  });

  it('keeps the reply text', () => {
    expect(classifyFailure({ responseCode: 554, response: '554 no' })).toEqual({ kind: 'failed', reply: '554 no' });
    expect(classifyFailure({ code: 'ECONNECTION', message: 'refused' }).reply).toBe('ECONNECTION refused');
    expect(classifyFailure({ code: 'EENVELOPE', message: 'Invalid recipient "a<b>"' })).toEqual({
      kind: 'failed',
      reply: 'not sent: EENVELOPE Invalid recipient "a<b>"',
    });
  });
});

describe('unreachable', () => {
  it.each([
    [{ code: 'ESOCKET', originalCode: 'ECONNREFUSED', message: 'connect ECONNREFUSED 10.0.0.1:587' }, 'refuses connections'],
    [{ code: 'ETIMEDOUT', timeoutType: 'GREETING_TIMEOUT', message: 'Greeting never received' }, 'does not answer'],
    [{ code: 'ETIMEDOUT', timeoutType: 'CONNECT_TIMEOUT', message: 'Connection timeout' }, 'does not answer'],
    [{ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 Authentication credentials invalid' }, 'refuses the login'],
    [{ code: 'EDNS', originalCode: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND relay.example.com' }, 'cannot be found'],
    [{ code: 'ETLS', message: 'Error initiating TLS' }, 'fails the TLS handshake'],
    [{ code: 'EPROTOCOL', responseCode: 421, response: '421 4.7.0 Too many connections' }, 'turns connections away'],
    [{ code: 'ECONNECTION', message: 'Connection closed unexpectedly' }, 'drops connections'],
    [{ code: 'ESOCKET', originalCode: 'ECONNRESET', message: 'read ECONNRESET' }, 'drops connections'],
    [{ message: 'something else' }, 'cannot be reached'],
  ])('%o → the relay %s', (error, what) => {
    expect(unreachable(error, 'relay.example.com:587')).toMatchObject({
      kind: 'unsent',
      relay: `The relay at relay.example.com:587 ${what}`,
    });
  });

  it('keeps the error as the reply', () => {
    expect(unreachable({ code: 'EAUTH', responseCode: 535, response: '535 5.7.8 no' }, 'h:25').reply).toBe('535 5.7.8 no');
    expect(unreachable({ code: 'ESOCKET', message: 'connect ECONNREFUSED 127.0.0.1:25' }, 'h:25').reply).toBe(
      'ESOCKET connect ECONNREFUSED 127.0.0.1:25',
    );
  });
});

describe('relayTransportOptions', () => {
  it('reads smtp:// with STARTTLS and credentials', () => {
    const options = relayTransportOptions({
      url: 'smtp://user%40x:p%3Ass@relay.example.com:587',
      maxConnections: 4,
      maxMessagesPerConnection: 50,
    });
    // The pool's limits are not read from here: they are tested on a real pool below.
    expect(options).toMatchObject({
      host: 'relay.example.com',
      port: 587,
      secure: false,
      auth: { user: 'user@x', pass: 'p:ss' },
      tls: { rejectUnauthorized: true },
    });
  });

  it('reads smtps:// as TLS from the start, port 465 by default', () => {
    expect(relayTransportOptions({ url: 'smtps://relay.example.com', maxConnections: 1, maxMessagesPerConnection: 1 })).toMatchObject({
      port: 465,
      secure: true,
      auth: undefined,
    });
  });

  it('refuses another scheme with a sentence', () => {
    expect(() => relayTransportOptions({ url: 'http://relay.example.com', maxConnections: 1, maxMessagesPerConnection: 1 })).toThrow(
      'SMTP_URL must start with smtp:// or smtps://, not http://',
    );
  });
});

/**
 * An SMTP server on 127.0.0.1 that counts the messages it accepts on each connection, and
 * the most connections it held at once. A connection counts from its greeting until it says
 * QUIT or goes away: the pool renews a connection by saying QUIT, and one that has said it
 * carries nothing more, however long its socket takes to close.
 */
async function countingRelay({ replyDelayMs = 0 } = {}) {
  const open = new Set<number>(); // by the client's port
  let receiving = 0; // messages whose DATA has begun
  const perConnection = new Map<number, number>();
  let mostAtOnce = 0;
  const server = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS', 'AUTH'],
    disableReverseLookup: true,
    onConnect(session, callback) {
      open.add(session.remotePort);
      perConnection.set(session.remotePort, 0);
      mostAtOnce = Math.max(mostAtOnce, open.size);
      callback();
    },
    onData(stream, session, callback) {
      receiving++;
      stream.resume();
      stream.on('end', () => {
        perConnection.set(session.remotePort, perConnection.get(session.remotePort)! + 1);
        setTimeout(() => callback(null, '250 2.0.0 accepted'), replyDelayMs);
      });
    },
    onClose: (session) => void open.delete(session.remotePort),
  });
  server.on('error', () => {});
  server.server.on('connection', (socket: Socket) => {
    const port = socket.remotePort!;
    socket.on('data', (chunk: Buffer) => {
      if (/(^|\r\n)QUIT\r\n/i.test(chunk.toString('latin1'))) open.delete(port);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `smtp://127.0.0.1:${(server.server.address() as { port: number }).port}`,
    /** Messages accepted on each connection, in the order the connections came. */
    perConnection: () => [...perConnection.values()],
    mostAtOnce: () => mostAtOnce,
    receiving: () => receiving,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const message = (n: number): OutgoingMessage => ({
  from: { name: 'Shop', address: 'news@shop.example.com' },
  to: `reader${n}@example.com`,
  subject: 'Hello',
  html: '<p>Hello</p>',
  text: 'Hello',
  messageId: `<${n}.limits@shop.example.com>`,
  headers: {},
});

describe.each([
  ['the pool (createPooledMessenger)', createPooledMessenger],
  ['the SMTP thread (createThreadedMessenger)', createThreadedMessenger],
] as [string, (options: RelayOptions) => Messenger][])('the limits of %s, counted by the relay', (_, create) => {
  const stops: (() => Promise<void>)[] = [];
  afterEach(async () => {
    for (const stop of stops.splice(0)) await stop();
  });

  it('opens at most maxConnections at once and renews each after maxMessagesPerConnection messages', async () => {
    const relay = await countingRelay();
    const messenger = create({ url: relay.url, maxConnections: 3, maxMessagesPerConnection: 4 });
    stops.push(() => messenger.close(), relay.stop);
    // 30 messages at once: far more than 3 connections carry at a time.
    const outcomes = await Promise.all(Array.from({ length: 30 }, (_, n) => messenger.send(message(n))));
    expect(outcomes.map((o) => o.kind)).toEqual(Array(30).fill('sent'));
    expect(relay.mostAtOnce()).toBe(3);
    const counts = relay.perConnection();
    expect(counts.reduce((a, b) => a + b, 0)).toBe(30);
    expect(Math.max(...counts)).toBe(4);
    // Every connection but the last few carried its full four before it was renewed.
    expect(counts.length).toBeGreaterThanOrEqual(Math.ceil(30 / 4));
  });

  it('sends everything over one connection when told to, one message after the other', async () => {
    const relay = await countingRelay();
    const messenger = create({ url: relay.url, maxConnections: 1, maxMessagesPerConnection: 1000 });
    stops.push(() => messenger.close(), relay.stop);
    await Promise.all(Array.from({ length: 12 }, (_, n) => messenger.send(message(n))));
    expect(relay.mostAtOnce()).toBe(1);
    expect(relay.perConnection()).toEqual([12]);
  });
});

describe('a messenger being closed', () => {
  it('gives back a message sent after close() was called as never handed over, whatever the thread is doing', async () => {
    const relay = await countingRelay();
    try {
      // As new settings replace a pool: a message composed meanwhile reaches the old one after its close.
      for (let round = 0; round < 20; round++) {
        const messenger = createThreadedMessenger({ url: relay.url, maxConnections: 2, maxMessagesPerConnection: 100 });
        expect((await messenger.send(message(round))).kind).toBe('sent');
        const closing = messenger.close();
        const late = await messenger.send(message(1000 + round));
        await closing;
        expect(late).toMatchObject({ kind: 'unsent', reply: expect.stringMatching(/^ECLOSED/) });
      }
    } finally {
      await relay.stop();
    }
  });

  it('finishes the conversations under way, and says so before the thread is gone', async () => {
    const relay = await countingRelay({ replyDelayMs: 30 });
    try {
      for (let round = 0; round < 10; round++) {
        const messenger = createThreadedMessenger({ url: relay.url, maxConnections: 2, maxMessagesPerConnection: 100 });
        const started = relay.receiving();
        const outcomes = Promise.all([messenger.send(message(round)), messenger.send(message(100 + round))]);
        // Both messages are with the relay, waiting for its answer, when the pool is told to close.
        await new Promise<void>((resolve) => {
          const poll = setInterval(() => relay.receiving() - started === 2 && (clearInterval(poll), resolve()), 1);
        });
        await messenger.close();
        expect((await outcomes).map((o) => o.kind)).toEqual(['sent', 'sent']);
      }
    } finally {
      await relay.stop();
    }
  });
});
