/**
 * Signing in and out, and who a request comes from. The session lives in an HttpOnly,
 * SameSite=Strict cookie; an integration sends an API token instead, as
 * `Authorization: Bearer <secret>`. Sign-in is limited per client address and per username
 * (server/http/sign-in-limits.ts): an attempt over a limit is answered 429 with Retry-After
 * before its password is hashed. A disabled operator's password is checked like any other
 * (so the answer tells nothing to someone who does not know it), then refused with a sentence.
 */

import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { clientAddress, tooManyAttempts } from '../http/sign-in-limits';
import type { AppEnv } from '../services';
import type { TokenCheck } from '../store/operators';
import { jsonBody } from './validate';

export const SESSION_COOKIE = 'mailroom_session';
const SESSION_TTL_MS = 30 * 86_400_000;

const BEARER = /^Bearer\s+(\S+)\s*$/i;

/**
 * Lets a request through only with a working session or API token, and sets `user` (the
 * username, or `token:<name>`) and `role`; answers 401 with a sentence otherwise. A request
 * with an Authorization header is judged by it alone, whatever cookie it carries.
 */
export const requireOperator = createMiddleware<AppEnv>(async (c, next) => {
  const { operators, now } = c.var.services;
  const authorization = c.req.header('authorization');
  if (authorization !== undefined) {
    const secret = BEARER.exec(authorization)?.[1];
    if (!secret) {
      const message = 'The Authorization header must read "Bearer" and an API token. Ask an admin for a token (Operators page).';
      return c.json({ error: 'invalid-authorization', message }, 401);
    }
    const check = await operators.checkToken(secret, now());
    if (!check.ok) return c.json(tokenRefusal(check), 401);
    c.set('user', `token:${check.token.name}`);
    c.set('role', check.token.role);
    return next();
  }
  const token = getCookie(c, SESSION_COOKIE);
  const operator = token ? await operators.sessionOperator(token, now()) : undefined;
  if (!operator) return c.json({ error: 'not-signed-in', message: 'Sign in to use Mailroom.' }, 401);
  c.set('user', operator.username);
  c.set('role', operator.role);
  await next();
});

/** Returns the 401 answer to a token that does not work: which it is, and since when. */
function tokenRefusal(check: Exclude<TokenCheck, { ok: true }>): { error: string; message: string } {
  if (check.reason === 'unknown') {
    return {
      error: 'token-unknown',
      message: 'This API token is not known to Mailroom: check that it was copied whole, or ask an admin for a new one.',
    };
  }
  const what = check.reason === 'revoked' ? `was revoked on ${check.at}` : `expired on ${check.at}`;
  return { error: `token-${check.reason}`, message: `The API token "${check.token.name}" ${what}. Ask an admin for a new one.` };
}

const credentials = z.object({ username: z.string().min(1).max(100), password: z.string().min(1).max(500) });

export const session = new Hono<AppEnv>()
  .post('/', jsonBody(credentials), async (c) => {
    const { username, password } = c.req.valid('json');
    const { operators, signInLimits, now, secureCookies } = c.var.services;
    const outcome = await signInLimits.attempt(clientAddress(c), username, now(), () => operators.verify(username, password));
    if (outcome.kind === 'limited') {
      c.header('Retry-After', String(outcome.retryAfterSeconds));
      return c.json({ error: 'too-many-attempts', message: tooManyAttempts(outcome.retryAfterSeconds) }, 429);
    }
    if (!outcome.ok) return c.json({ error: 'wrong-credentials', message: 'The username or password is wrong.' }, 401);
    if ((await operators.operator(username))?.disabled) {
      return c.json({ error: 'account-disabled', message: 'This account is disabled. Ask an admin to enable it again.' }, 403);
    }
    const token = await operators.openSession(username, SESSION_TTL_MS, now());
    setCookie(c, SESSION_COOKIE, token, {
      httpOnly: true,
      sameSite: 'Strict',
      secure: secureCookies,
      path: '/',
      maxAge: SESSION_TTL_MS / 1000,
    });
    return c.json({ username }, 200);
  })
  // Who is signed in, and where the server puts tracking and unsubscribe links (the app's control rule checks it).
  .get('/', requireOperator, (c) => c.json({ username: c.var.user, role: c.var.role, publicUrl: c.var.services.publicUrl() }, 200))
  .delete('/', async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await c.var.services.operators.closeSession(token);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.json({ ok: true }, 200);
  });
