/**
 * Relays that misbehave on purpose, over real TCP on 127.0.0.1: an SMTP relay (smtp-server)
 * that can hold messages unanswered after DATA, ask for a login, and stop at once as a
 * crashed or restarting relay does; a black hole that accepts connections and never greets;
 * and a free port where nothing listens.
 */

import { createServer, type Server, type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface FaultRelay {
  port: number;
  /** How many times each recipient's message was accepted (answered 250). */
  received: Map<string, number>;
  /** Recipients whose message arrived whole and was never answered, in arrival order. */
  held: string[];
  /** Connections so far. */
  sessions(): number;
  /** Connections open now. */
  open(): number;
  /** The most connections that were open at once since the start (or the last resetPeak). */
  peakOpen(): number;
  resetPeak(): void;
  /** Messages whose DATA has begun (in conversation with the relay), answered or not. */
  arriving(): number;
  /** Which sessions (numbered from 1 in the order they connect) hold their messages after DATA; null for none. */
  hang(which: ((session: number) => boolean) | null): void;
  /** Stops at once: every connection is dropped, as when the relay crashes or restarts. */
  stop(): Promise<void>;
}

export interface FaultRelayOptions {
  /** 0 (the default) picks a free port. */
  port?: number;
  /** A login the relay requires (PLAIN or LOGIN, without TLS). */
  login?: { user: string; pass: string };
  hang?: (session: number) => boolean;
  /** How long the relay takes to answer a message. */
  replyDelayMs?: number;
}

/** Starts an SMTP relay on 127.0.0.1; resolves once it listens. */
export async function startFaultRelay(options: FaultRelayOptions = {}): Promise<FaultRelay> {
  const received = new Map<string, number>();
  const held: string[] = [];
  const sockets = new Set<Socket>();
  let hang = options.hang ?? null;
  let sessions = 0;
  let arriving = 0;
  const numbers = new WeakMap<object, number>();
  const relay = new SMTPServer({
    logger: false,
    disabledCommands: ['STARTTLS'],
    authOptional: !options.login,
    allowInsecureAuth: true,
    authMethods: ['PLAIN', 'LOGIN'],
    closeTimeout: 50,
    onConnect(session, callback) {
      numbers.set(session, ++sessions);
      callback();
    },
    onAuth(auth, _session, callback) {
      if (auth.username === options.login?.user && auth.password === options.login?.pass) return callback(null, { user: auth.username });
      callback(Object.assign(new Error('5.7.8 Authentication credentials invalid'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      arriving++;
      stream.resume();
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address);
        if (hang?.(numbers.get(session) ?? 0)) return void held.push(...to);
        setTimeout(() => {
          for (const address of to) received.set(address, (received.get(address) ?? 0) + 1);
          callback(null, '250 2.0.0 queued');
        }, options.replyDelayMs ?? 0);
      });
    },
  });
  // Clients that drop their connections (a crash, a pool being closed) are their own business.
  relay.on('error', () => {});
  let peak = 0;
  relay.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    peak = Math.max(peak, sockets.size);
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    relay.server.once('error', reject);
    relay.listen(options.port ?? 0, '127.0.0.1', () => resolve());
  });
  return {
    port: (relay.server.address() as { port: number }).port,
    received,
    held,
    sessions: () => sessions,
    open: () => sockets.size,
    peakOpen: () => peak,
    resetPeak: () => (peak = sockets.size),
    arriving: () => arriving,
    hang: (which) => (hang = which),
    async stop() {
      const closed = new Promise<void>((resolve) => relay.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

export interface BlackHole {
  port: number;
  /** Connections accepted so far. */
  connections(): number;
  stop(): Promise<void>;
}

/** Starts a relay that accepts TCP connections and never says a word; resolves once it listens. */
export async function startBlackHole(port = 0): Promise<BlackHole> {
  const sockets = new Set<Socket>();
  let connections = 0;
  const server: Server = createServer((socket) => {
    connections++;
    sockets.add(socket);
    socket.on('error', () => {});
    socket.once('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  return {
    port: (server.address() as { port: number }).port,
    connections: () => connections,
    async stop() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

/** Returns a port on 127.0.0.1 where nothing listens (it was free a moment ago). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}
