/**
 * The server's log: pino, one JSON line per event on stdout — a request answered, an engine
 * event, an error — with `level` as a word and `time` in ISO 8601; or, when stdout is a
 * terminal, the same events as coloured lines for people (pino-pretty as a stream in this
 * thread: no transport worker). The start banner is not a log line: main.ts prints it as text.
 *
 * Nothing secret reaches a line: requests are logged by method, path (tracking and
 * unsubscribe tokens cut out, see http.ts), status and time only — never a header, a cookie,
 * a body or a query string — and fields named like secrets are censored should one be
 * passed by mistake.
 */

import { pino, type DestinationStream, type Logger } from 'pino';
import pretty from 'pino-pretty';
import type { LogLevel } from '../config';
import type { EngineEvent } from '../sending/engine';

export type { Logger };

export interface LoggerOptions {
  level: LogLevel;
  /** Lines for people (a terminal) instead of JSON. */
  pretty: boolean;
  /** Where lines go; stdout unless told (tests). */
  destination?: DestinationStream;
}

/** Fields never written as they are, should a caller pass one. */
const SECRETS = ['password', 'token', 'cookie', 'authorization', '*.password', '*.token', '*.cookie', '*.authorization'];

/** Returns the logger writing JSON lines (or, with `pretty`, lines for people) at `level` and above. */
export function createLogger(options: LoggerOptions): Logger {
  const common = { level: options.level, redact: { paths: SECRETS, censor: '[redacted]' } };
  if (options.pretty) {
    const stream = pretty({
      colorize: options.destination === undefined && process.stdout.isTTY === true,
      singleLine: true,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      sync: true,
      destination: options.destination ?? 1,
    });
    return pino(common, stream);
  }
  return pino(
    { ...common, timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } },
    // process.stdout itself (synchronous on Linux for files, pipes and terminals), so that log
    // lines and the start banner come out in the order they were written.
    options.destination ?? process.stdout,
  );
}

/** Returns a logger that writes nothing (tests, benchmarks). */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

/** Returns the engine's `log` over a logger: the engine's sentence as the message, its event's fields beside it. */
export function engineLog(logger: Logger): (message: string, event?: EngineEvent) => void {
  const engine = logger.child({ component: 'engine' });
  return (message, event) => {
    const { level = 'info', ...fields } = event ?? {};
    engine[level](fields, message);
  };
}
