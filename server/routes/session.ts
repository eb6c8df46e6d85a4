/**
 * Signing in and out. The session lives in an HttpOnly, SameSite=Strict cookie. Sign-in is
 * limited per client address and per username (server/http/sign-in-limits.ts): an attempt
 * over a limit is answered 429 with Retry-After before its password is hashed.
 */

import { Hono } from 'hono';
import { deleteCookie, getCookie, setCookie } from 'hono/cookie';
import { createMiddleware } from 'hono/factory';
import { z } from 'zod';
import { clientAddress, tooManyAttempts } from '../http/sign-in-limits';
import type { AppEnv } from '../services';
import { jsonBody } from './validate';

export const SESSION_COOKIE = 'mailroom_session';
const SESSION_TTL_MS = 30 * 86_400_000;

/** Lets a request through only with a valid session; answers 401 otherwise. */
export const requireOperator = createMiddleware<AppEnv>(async (c, next) => {
  const token = getCookie(c, SESSION_COOKIE);
  const { operators, now } = c.var.services;
  const user = token ? await operators.sessionUser(token, now()) : undefined;
  if (!user) return c.json({ error: 'not-signed-in', message: 'Sign in to use Mailroom.' }, 401);
  c.set('user', user);
  await next();
});

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
  .get('/', requireOperator, (c) => c.json({ username: c.var.user, publicUrl: c.var.services.publicUrl() }, 200))
  .delete('/', async (c) => {
    const token = getCookie(c, SESSION_COOKIE);
    if (token) await c.var.services.operators.closeSession(token);
    deleteCookie(c, SESSION_COOKIE, { path: '/' });
    return c.json({ ok: true }, 200);
  });
