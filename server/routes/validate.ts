/**
 * Request validation: every body, query and set of path parameters is checked against a zod
 * schema at the route. The helpers are hono-openapi's validator, so the same schema both
 * checks the request and is recorded for the API's description (routes/openapi.ts); the
 * answer to a mismatch is Mailroom's own: 400, `invalid-request` and a sentence saying what is
 * wrong. `c.req.valid(target)` is the schema's output (defaults filled in, coercions done).
 */

import type { Context, Env } from 'hono';
import { validator } from 'hono-openapi';
import type { z } from 'zod';

/** A schema problem as Standard Schema reports it (zod's issues are of this shape). */
interface Issue {
  readonly message: string;
  readonly path?: ReadonlyArray<PropertyKey | { readonly key: PropertyKey }>;
}

/** Returns a readable sentence for the first few schema problems (of a ZodError, or of a Standard Schema result). */
export function explain(error: { readonly issues: readonly Issue[] }): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => {
      const path = (issue.path ?? []).map((segment) => String(typeof segment === 'object' ? segment.key : segment));
      return `${path.length ? path.join('.') : 'body'}: ${issue.message}`;
    })
    .join('; ');
}

/** Returns the validator's hook: nothing when the value fits, else the 400 whose sentence starts with `what`. */
const refuse = (what: string) => (result: { success: true } | { success: false; error: readonly Issue[] }, c: Context<Env, string>) =>
  result.success
    ? undefined
    : c.json({ error: 'invalid-request', message: `${what} is not valid: ${explain({ issues: result.error })}.` }, 400);

/** Validates the JSON body; a mismatch answers 400 with `invalid-request` and what is wrong. */
export const jsonBody = <T extends z.ZodType>(schema: T) => validator('json', schema, refuse('The request'));

/** Validates the query string the same way. */
export const query = <T extends z.ZodType>(schema: T) => validator('query', schema, refuse('The query'));

/** Validates the path parameters the same way. */
export const params = <T extends z.ZodType>(schema: T) => validator('param', schema, refuse('The address'));
