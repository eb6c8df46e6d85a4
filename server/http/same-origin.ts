/**
 * Cross-site request forgery: a state-changing request that a browser sent from a page of
 * another origin is refused. SameSite=Strict keeps the session cookie off requests from
 * other *sites*, but a page of the same host on another port is the same site, and a form
 * auto-submitted from it carried the cookie. So the origin itself is checked.
 *
 * Hono's `hono/csrf` does not fit: it checks only form-like content types (a body-less
 * command such as "stop" needs no content type at all), and it refuses a request that has
 * neither Origin nor Sec-Fetch-Site, which is how curl, integrations and in-process tests
 * call the API. Only a browser sends these headers, and every current one sends at least
 * one of them with a POST, PUT or DELETE, so their absence is no browser's request.
 */

import { createMiddleware } from 'hono/factory';
import type { AppEnv } from '../services';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Returns true when a request with these headers comes from one of the allowed origins, or
 * from no browser at all. `Sec-Fetch-Site: same-origin` is the browser's own word, and is
 * taken even with `Origin: null` (what a page whose Referrer-Policy is no-referrer sends).
 */
export function fromOwnPages(origin: string | undefined, fetchSite: string | undefined, allowed: readonly string[]): boolean {
  if (fetchSite === 'same-origin') return true;
  if (origin !== undefined && origin !== 'null') return allowed.includes(origin);
  // `Origin: null` comes from an opaque origin (a sandboxed frame, a file); neither header: not a browser.
  return origin === undefined && fetchSite === undefined;
}

/** Returns the origin of a URL, or undefined when it is not one (MAILROOM_PUBLIC_URL before listening). */
function originOf(url: string): string | undefined {
  try {
    return new URL(url).origin;
  } catch {
    return undefined;
  }
}

/**
 * Refuses with 403 a request that changes something (not GET, HEAD or OPTIONS) and came
 * from a page of another origin. Allowed: the request's own origin, and the origin of the
 * public URL (behind a proxy, the address the browser knows).
 */
export const sameOrigin = createMiddleware<AppEnv>(async (c, next) => {
  if (SAFE_METHODS.has(c.req.method)) return next();
  const origin = c.req.header('origin');
  const allowed = [new URL(c.req.url).origin, originOf(c.var.services.publicUrl())].filter((o) => o !== undefined);
  if (fromOwnPages(origin, c.req.header('sec-fetch-site'), allowed)) return next();
  const from = origin && origin !== 'null' ? `another site (${origin})` : 'another site';
  const message = `This request came from ${from}: Mailroom takes changes only from its own pages. Use Mailroom at its own address.`;
  return c.json({ error: 'cross-origin-request', message }, 403);
});
