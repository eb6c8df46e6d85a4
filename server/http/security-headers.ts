/**
 * The security headers of every response: a Content-Security-Policy, nosniff, no framing,
 * and a Referrer-Policy that never sends a URL of Mailroom to another origin.
 *
 * One policy covers the app, the mailbox page, the unsubscribe pages and the API:
 * - scripts only from this origin, plus the inline scripts of the built index.html, each
 *   allowed by its SHA-256 (SvelteKit's bootstrap script), computed here from the file at
 *   start — the server's own work, so the SvelteKit config needs no `kit.csp`;
 * - email previews are sandboxed srcdoc frames without scripts, and such a frame inherits
 *   this policy: an email's images (http, https, data) and its inline styles must render,
 *   hence `img-src` and `style-src 'unsafe-inline'` (styles cannot run code);
 * - the preparation worker and the service worker load from this origin (`worker-src`),
 *   fetches and Server-Sent Events go to it (`connect-src`);
 * - no plugins, no `<base>` elsewhere, no framing by anyone, forms post only here.
 *
 * Referrer-Policy: `same-origin` on the app and its API, so an email link opened from a
 * preview tells the target nothing, while the app's own requests keep their real Origin
 * header (under `no-referrer` a browser sends `Origin: null` with a POST); `no-referrer` on
 * tracking and unsubscribe (`/t/*`, `/u/*`), so a click's redirect hands the target no
 * referrer at all and no token of an unsubscribe page travels in a Referer.
 */

import { createHash } from 'node:crypto';
import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

type ContentSecurityPolicyOptions = NonNullable<NonNullable<Parameters<typeof secureHeaders>[0]>['contentSecurityPolicy']>;

/** Returns the CSP sources (`'sha256-…'`) of the inline scripts of an HTML page, in document order. */
export function inlineScriptHashes(html: string): string[] {
  return [...html.matchAll(/<script\b(?![^>]*\ssrc\s*=)[^>]*>([\s\S]*?)<\/script\s*>/gi)].map(
    ([, text]) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`,
  );
}

/** Returns the Content-Security-Policy directives, allowing the given inline script hashes. */
export function contentSecurityPolicy(scriptHashes: readonly string[]): ContentSecurityPolicyOptions {
  return {
    defaultSrc: ["'self'"],
    scriptSrc: ["'self'", ...scriptHashes],
    styleSrc: ["'self'", "'unsafe-inline'"],
    imgSrc: ["'self'", 'data:', 'http:', 'https:'],
    fontSrc: ["'self'", 'data:'],
    connectSrc: ["'self'"],
    workerSrc: ["'self'"],
    manifestSrc: ["'self'"],
    objectSrc: ["'none'"],
    baseUri: ["'self'"],
    frameAncestors: ["'none'"],
    formAction: ["'self'"],
  };
}

/** Returns true for the paths that mail clients reach: tracking, unsubscribe and images. */
const reachedFromMail = (path: string) =>
  path.startsWith('/t/') || path.startsWith('/u/') || path.startsWith('/a/') || path.startsWith('/f/') || path.startsWith('/p/');

/** Returns middleware setting the security headers, with the inline script hashes of the app's index.html. */
export function securityHeaders(scriptHashes: readonly string[]): MiddlewareHandler {
  const common = {
    contentSecurityPolicy: contentSecurityPolicy(scriptHashes),
    xFrameOptions: 'DENY',
    // Tracking pixels and redirects are fetched from other origins (mail clients): no CORP.
    crossOriginResourcePolicy: false,
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
  };
  const app = secureHeaders({ ...common, referrerPolicy: 'same-origin' });
  const mail = secureHeaders({ ...common, referrerPolicy: 'no-referrer' });
  // A sign-up form's page posts to Mailroom, which may answer with the operator's "after signing up" page on their
  // site: the browser checks that redirect against form-action too.
  const forms = secureHeaders({
    ...common,
    contentSecurityPolicy: { ...common.contentSecurityPolicy, formAction: ["'self'", 'https:', 'http:'] },
    referrerPolicy: 'no-referrer',
  });
  return (c, next) => (c.req.path.startsWith('/f/') ? forms : reachedFromMail(c.req.path) ? mail : app)(c, next);
}
