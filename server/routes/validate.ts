/** Request validation: every body and query is checked against a schema at the route. */

import { validator } from 'hono/validator';
import { z } from 'zod';

/** Returns a readable sentence for the first few schema problems. */
export function explain(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'body'}: ${issue.message}`)
    .join('; ');
}

/** Validates the JSON body; a mismatch answers 400 with `invalid-request` and what is wrong. */
export const jsonBody = <T extends z.ZodType>(schema: T) =>
  validator('json', (value, c) => {
    const result = schema.safeParse(value);
    if (!result.success) return c.json({ error: 'invalid-request', message: `The request is not valid: ${explain(result.error)}.` }, 400);
    return result.data as z.infer<T>;
  });

/** Validates the query string the same way. */
export const query = <T extends z.ZodType>(schema: T) =>
  validator('query', (value, c) => {
    const result = schema.safeParse(value);
    if (!result.success) return c.json({ error: 'invalid-request', message: `The query is not valid: ${explain(result.error)}.` }, 400);
    return result.data as z.infer<T>;
  });

/** Validates the path parameters the same way. */
export const params = <T extends z.ZodType>(schema: T) =>
  validator('param', (value, c) => {
    const result = schema.safeParse(value);
    if (!result.success) return c.json({ error: 'invalid-request', message: `The address is not valid: ${explain(result.error)}.` }, 400);
    return result.data as z.infer<T>;
  });
