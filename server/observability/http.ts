/**
 * The operator's HTTP surface: a log line per request, `/healthz` (the process answers),
 * `/readyz` (the database answers and the engine runs) and `/metrics` (Prometheus text).
 *
 * Who may read /metrics: with MAILROOM_METRICS_TOKEN set, whoever sends
 * `Authorization: Bearer <token>` (compared in constant time); without it, only a client on
 * this machine (127.0.0.0/8 or ::1) whose request was not forwarded by a proxy (no
 * `Forwarded`, `X-Forwarded-For` or `X-Real-IP`: a reverse proxy on the same machine would
 * otherwise make every visitor look local). The probes are open: they say only "ok" or what
 * is not ready.
 */

import { createHash, timingSafeEqual } from 'node:crypto';
import { getConnInfo } from '@hono/node-server/conninfo';
import { Hono, type Context, type MiddlewareHandler } from 'hono';
import type { AppEnv } from '../services';
import type { TrackingKind } from './metrics';

const NO_STORE = { 'Cache-Control': 'no-store' };

/** The paths that belong to probes and scrapers; an unknown path under them is a 404 in JSON, never the app. */
const OPERATOR_PATHS = ['/healthz', '/readyz', '/metrics'] as const;

/**
 * Returns the path as it may be logged: the token of a tracking or unsubscribe link (which
 * would let anyone open, click or unsubscribe as its recipient) replaced by `:token`, and
 * cut at 200 characters.
 */
export function loggedPath(path: string): string {
  const safe = path.replace(/^\/(t\/[oc]|u)\/[^/]+/, '/$1/:token');
  return safe.length > 200 ? `${safe.slice(0, 200)}…` : safe;
}

/** Returns which tracking request a path is, or null. */
function trackingKind(path: string): TrackingKind | null {
  return path.startsWith('/t/o/') ? 'open' : path.startsWith('/t/c/') ? 'click' : path.startsWith('/u/') ? 'unsubscribe' : null;
}

/**
 * Logs one line per request once it is answered — method, path (see loggedPath), status
 * and milliseconds to the response's headers (an event stream is logged when it opens) —
 * and counts tracking requests. A server error is logged at `error`; probes and scrapes at
 * `debug` while they succeed (one every few seconds would drown the rest), `warn` when not.
 */
export const requestLog: MiddlewareHandler<AppEnv> = async (c, next) => {
  const started = performance.now();
  await next();
  const { logger, metrics } = c.var.services;
  const status = c.res.status;
  const path = c.req.path;
  const kind = trackingKind(path);
  if (kind) metrics.tracking(kind, status);
  const probe = (OPERATOR_PATHS as readonly string[]).includes(path);
  const level = probe ? (status >= 400 ? 'warn' : 'debug') : status >= 500 ? 'error' : 'info';
  if (!logger.isLevelEnabled(level)) return;
  const shown = loggedPath(path);
  const ms = Math.round((performance.now() - started) * 10) / 10;
  logger[level]({ event: 'request', method: c.req.method, path: shown, status, ms }, `${c.req.method} ${shown} ${status}`);
};

/** The probes and /metrics, mounted at the root; other methods and deeper paths under them answer 404 in JSON. */
export const operatorRoutes = new Hono<AppEnv>()
  .get('/healthz', (c) => c.json({ status: 'ok' }, 200, NO_STORE))
  .get('/readyz', async (c) => {
    const { stores, engine } = c.var.services;
    let database = 'ok';
    try {
      // A read of a real table: the database is open and answers, not only the connection object.
      await stores.ping();
    } catch (error) {
      database = `unreachable: ${(error as Error).message}`;
    }
    const ready = database === 'ok' && engine.state === 'running';
    return c.json({ status: ready ? 'ready' : 'not-ready', database, engine: engine.state }, ready ? 200 : 503, NO_STORE);
  })
  .get('/metrics', async (c) => {
    const refusal = metricsRefusal(c);
    if (refusal) return refusal;
    const { contentType, body } = await c.var.services.metrics.render();
    return c.body(body, 200, { 'Content-Type': contentType, ...NO_STORE });
  });

// `/healthz/*` matches `/healthz` itself too: a POST there, or any path below, is a 404.
for (const path of OPERATOR_PATHS) operatorRoutes.all(`${path}/*`, (c) => notFound(c));

/** Answers 404 in JSON with a sentence naming what was asked. */
function notFound(c: Context<AppEnv>): Response {
  return c.json({ error: 'not-found', message: `There is nothing at ${c.req.method} ${c.req.path}.` }, 404);
}

/** Returns the answer refusing this request /metrics (401 or 403, with a sentence), or null when it may read them. */
function metricsRefusal(c: Context<AppEnv>): Response | null {
  const token = c.var.services.metricsToken;
  if (token) {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(c.req.header('authorization') ?? '')?.[1] ?? '';
    if (sameSecret(given, token)) return null;
    return c.json(
      {
        error: 'metrics-token-required',
        message: 'Reading /metrics takes the token in MAILROOM_METRICS_TOKEN: send it as Authorization: Bearer <token>.',
      },
      401,
      { 'WWW-Authenticate': 'Bearer realm="mailroom-metrics"', ...NO_STORE },
    );
  }
  const forwarded = ['forwarded', 'x-forwarded-for', 'x-real-ip'].some((name) => c.req.header(name) !== undefined);
  if (!forwarded && isLoopback(remoteAddress(c))) return null;
  return c.json(
    {
      error: 'metrics-local-only',
      message:
        '/metrics answers only clients on this machine (127.0.0.1 or ::1, not through a proxy). Set MAILROOM_METRICS_TOKEN to read it from elsewhere with Authorization: Bearer <token>.',
    },
    403,
    NO_STORE,
  );
}

/** True when both strings are the same, in a time that does not depend on where they differ. */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

function remoteAddress(c: Context<AppEnv>): string | undefined {
  try {
    return getConnInfo(c).remote.address;
  } catch {
    return undefined; // in-process (app.request without a socket): nobody is known to be local
  }
}

/** True for 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 addresses. */
function isLoopback(address: string | undefined): boolean {
  if (!address) return false;
  const v4 = address.startsWith('::ffff:') ? address.slice(7) : address;
  return v4 === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
