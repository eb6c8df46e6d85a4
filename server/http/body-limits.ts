/**
 * How large a request body each route takes. A body past its route's limit is answered 413
 * with a sentence, and no more of it is read: a declared Content-Length over the limit is
 * refused before reading anything, a streamed body as soon as the bytes read pass it.
 *
 * JSON bodies go through Hono's bodyLimit (it reads the body into one buffer of at most the
 * limit, which the route parses whole anyway). The CSV import is streamed through the
 * importer, so its far larger limit counts the bytes as they pass instead of buffering them.
 */

import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { ASSET_MAX_BYTES } from '../../shared/images';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

/** The largest CSV file an import takes unless the services say otherwise. */
export const IMPORT_MAX_BYTES = 2 * GiB;

/** The limit of every request no rule below names (commands, sign out, unsubscribe, deletions). */
export const DEFAULT_BODY_LIMIT = 8 * KiB;

/** The routes that take more than the default, with what their schemas let them hold. */
export const BODY_LIMITS: readonly { route: string; maxBytes: number | 'import' }[] = [
  // A username of at most 100 and a password of at most 500 characters.
  { route: 'POST /api/session', maxBytes: 8 * KiB },
  // A relay URL, the pool and pace, and a DKIM key: a 4096-bit PEM private key is about 3.3 KB.
  { route: 'PUT /api/settings', maxBytes: 64 * KiB },
  { route: 'POST /api/settings/test-connection', maxBytes: 64 * KiB },
  // An address of at most 254 and a reason of at most 500 characters.
  { route: 'PUT /api/audience/denylist', maxBytes: 8 * KiB },
  { route: 'DELETE /api/audience/denylist', maxBytes: 8 * KiB },
  { route: 'POST /api/audience/imports', maxBytes: 'import' },
  // HTML of at most 2,000,000 characters, even if every one takes 3 bytes of UTF-8, and the rest of the header.
  { route: 'PUT /api/deliveries/:id/batch', maxBytes: 8 * MiB },
  // At most 2,000 recipients (the app sends 1,000): 16 KiB each for the address (≤ 254), the
  // subject (≤ 998) and the values the body needs. The schema caps each value at 10,000
  // characters but not their number, so a chunk of 2,000 with several values that long is refused.
  { route: 'PUT /api/deliveries/:id/batch/chunks/:seq', maxBytes: 32 * MiB },
  // The same HTML as a batch, at most 5 recipients' values and 10 addresses.
  { route: 'POST /api/proofs', maxBytes: 8 * MiB },
  // Edits of drafts and typologies: an HTML body is at most 2 MB; the app sends a few documents at a time.
  { route: 'POST /api/work/push', maxBytes: 16 * MiB },
  // A relay provider's webhook: SendGrid posts events in batches of up to a thousand or so.
  { route: 'POST /hooks/:provider', maxBytes: 4 * MiB },
  // An image for a message (shared/images.ts).
  { route: 'POST /api/assets', maxBytes: ASSET_MAX_BYTES },
];

/** Returns "8 KiB", "32 MiB", "2 GiB": a size as a sentence says it. */
export function sizeOf(bytes: number): string {
  const [unit, size] = bytes >= GiB ? ['GiB', GiB] : bytes >= MiB ? ['MiB', MiB] : bytes >= KiB ? ['KiB', KiB] : ['bytes', 1];
  return `${Number((bytes / size).toFixed(1))} ${unit}`;
}

/** Returns the limit of a request: its route's rule, or the default. */
export function bodyLimitOf(method: string, path: string, importMaxBytes: number): { maxBytes: number; streamed: boolean } {
  const rule = RULES.find((r) => r.method === method && matches(r.segments, path));
  if (!rule) return { maxBytes: DEFAULT_BODY_LIMIT, streamed: false };
  return rule.maxBytes === 'import' ? { maxBytes: importMaxBytes, streamed: true } : { maxBytes: rule.maxBytes, streamed: false };
}

/**
 * Returns middleware holding every request's body to its route's limit. Mount it after the
 * session check, so that nobody's body is read before they are known to be an operator.
 */
export function bodyLimits(importMaxBytes: number): MiddlewareHandler {
  const buffered = new Map<number, MiddlewareHandler>();
  const streamed = streamedLimit(importMaxBytes);
  return (c, next) => {
    // GET and HEAD carry no body; not even looking keeps the pixel and the click redirect cheap.
    if (c.req.method === 'GET' || c.req.method === 'HEAD') return next();
    const limit = bodyLimitOf(c.req.method, c.req.path, importMaxBytes);
    if (limit.streamed) return streamed(c, next);
    let check = buffered.get(limit.maxBytes);
    if (!check) buffered.set(limit.maxBytes, (check = bodyLimit({ maxSize: limit.maxBytes, onError: (c) => tooLarge(c, limit.maxBytes) })));
    return check(c, next);
  };
}

const RULES = BODY_LIMITS.map(({ route, maxBytes }) => {
  const [method, path] = route.split(' ');
  return { method, segments: path.split('/'), maxBytes };
});

function matches(segments: readonly string[], path: string): boolean {
  const given = path.split('/');
  return given.length === segments.length && segments.every((s, i) => (s.startsWith(':') ? given[i] !== '' : s === given[i]));
}

const tooLarge = (c: Context, maxBytes: number) =>
  c.json({ error: 'body-too-large', message: `The request body is over the ${sizeOf(maxBytes)} this request takes.` }, 413);

/**
 * A limit that lets the body stream through, counting: a declared length over the limit is
 * refused at once. Otherwise the stream is passed on in whole lines, and once the count
 * passes the limit it ends after the last whole line within it and the rest is not read;
 * the importer imports those lines, and the answer becomes a 413 that says so.
 *
 * The stream ends rather than fails: the importer neither hears of a failed stream after
 * its first 64 KiB (it hangs) nor catches the error it re-raises there, so a failure would
 * crash the process; and a cut in the middle of a line could import a truncated value.
 */
function streamedLimit(maxBytes: number): MiddlewareHandler {
  const file = `The file is over the ${sizeOf(maxBytes)} an import takes`;
  return async (c, next) => {
    const body = c.req.raw.body;
    if (!body) return next();
    const declared = c.req.header('content-length');
    if (declared !== undefined && !c.req.header('transfer-encoding') && Number(declared) > maxBytes) {
      return c.json({ error: 'file-too-large', message: `${file}. Split it and import the parts.` }, 413);
    }
    const lines = wholeLines(maxBytes);
    c.req.raw = new Request(c.req.raw, { body: body.pipeThrough(lines.stream), duplex: 'half' } as RequestInit);
    await next();
    if (!lines.cut()) return;
    const answer = (await c.res.json()) as { rows?: number; message?: string };
    const message =
      c.res.status === 200
        ? `${file}: its first ${answer.rows} rows (the whole lines within that size) were imported, and the rest was not read. Import the rest as another file.`
        : `${file}: Mailroom stopped reading it there. ${answer.message ?? ''}`.trim();
    c.res = c.json({ error: 'file-too-large', message }, 413);
  };
}

const NEWLINE = 0x0a;
// A line longer than this is passed on as it is: holding it back would hold the whole file.
const LONGEST_LINE = 1024 * 1024;

/**
 * Returns a stream passing on at most `maxBytes`, ending after the last newline within them
 * once more arrives, and `cut()`, which tells whether it did.
 */
function wholeLines(maxBytes: number) {
  let read = 0;
  let cut = false;
  let held = new Uint8Array(0); // the unfinished line at the end of what was read
  const join = (a: Uint8Array, b: Uint8Array) => {
    if (a.length === 0) return b;
    const joined = new Uint8Array(a.length + b.length);
    joined.set(a);
    joined.set(b, a.length);
    return joined;
  };
  const stream = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      const room = maxBytes - read;
      read += chunk.byteLength;
      const bytes = join(held, chunk.byteLength > room ? chunk.subarray(0, Math.max(0, room)) : chunk);
      const end = bytes.lastIndexOf(NEWLINE) + 1;
      if (read > maxBytes) {
        cut = true;
        if (end > 0) controller.enqueue(bytes.subarray(0, end));
        return controller.terminate();
      }
      if (bytes.length - end > LONGEST_LINE) {
        controller.enqueue(bytes);
        held = new Uint8Array(0);
        return;
      }
      if (end > 0) controller.enqueue(bytes.subarray(0, end));
      held = bytes.slice(end);
    },
    flush(controller) {
      if (held.length) controller.enqueue(held);
    },
  });
  return { stream, cut: () => cut };
}
