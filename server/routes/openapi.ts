/** (being written) */

import type { Hono } from 'hono';
import type { AppEnv } from '../services';

/** Serves the OpenAPI description of `api` (being written). */
export function openApiRoute(_api: Hono<AppEnv>) {
  return (c: import('hono').Context<AppEnv>) => c.json({ openapi: '3.1.0', paths: {} }, 200);
}
