/**
 * The API's OpenAPI 3.1 description, generated from the routes themselves (GET /api/openapi.json,
 * read by the app's /api-docs page). hono-openapi walks Hono's own list of routes: every route
 * is listed, with or without a schema; the request bodies, queries and path parameters are the
 * zod schemas the validators check (routes/validate.ts), described as a client sends them
 * (defaults optional); a path parameter no schema names is a required string. Which operations
 * need an operator is read from the same list (where `requireOperator` stands), not written
 * down twice. The document is built once, at its first request, and kept.
 */

import type { Context, Hono } from 'hono';
import { generateSpecs } from 'hono-openapi';
import { TrieRouter } from 'hono/router/trie-router';
import { findTargetHandler } from 'hono/utils/handler';
import { version } from '../../package.json';
import type { AppEnv } from '../services';
import { requireOperator, SESSION_COOKIE } from './session';

type OpenApiDocument = Awaited<ReturnType<typeof generateSpecs>>;

/** Where the API is mounted: the document's paths are relative to it (`servers`). */
const BASE = '/api';

const AUTHENTICATION = [
  "Mailroom's HTTP API: the app's own, described from the schemas its routes validate with.",
  '',
  'Authenticate in one of two ways:',
  `- **Session cookie**: \`POST ${BASE}/session\` with \`{ "username": …, "password": … }\` sets the HttpOnly cookie \`${SESSION_COOKIE}\`; send it back with every request (a browser does). Requests that change something must come from Mailroom's own origin.`,
  `- **API token**: send \`Authorization: Bearer <token>\` with a token an admin creates (on the Operators page, or \`POST ${BASE}/tokens\`), for scripts and other programs; its role says what it may do.`,
  '',
  `Every refusal is JSON \`{ "error": code, "message": sentence }\`: a request that does not fit its schema answers 400 \`invalid-request\`, one without a working session or token 401 (\`not-signed-in\`, \`token-expired\`, …), one its role may not make 403 \`forbidden\`.`,
].join('\n');

const refusal = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Refusal' } } },
});

/** Returns the handler answering the OpenAPI document of `api` (mounted at /api), generated at its first request and kept. */
export function openApiRoute(api: Hono<AppEnv>) {
  let document: Promise<OpenApiDocument> | undefined;
  return async (c: Context<AppEnv>) => {
    // A failed generation is not kept: the error reaches app.onError (logged, 500) and the next request tries again.
    document ??= describeApi(api).catch((error: unknown) => {
      document = undefined;
      throw new Error('generate the OpenAPI document', { cause: error });
    });
    return c.json(await document, 200);
  };
}

/** Resolves the OpenAPI 3.1 document of `api`: every route, its schemas, and who may call it. */
async function describeApi(api: Hono<AppEnv>): Promise<OpenApiDocument> {
  const document = await generateSpecs(api, {
    documentation: {
      info: { title: 'Mailroom', version, description: AUTHENTICATION },
      servers: [{ url: BASE }],
      components: {
        schemas: {
          Refusal: {
            type: 'object',
            properties: {
              error: { type: 'string', description: 'A machine-readable code, e.g. invalid-request.' },
              message: { type: 'string', description: 'A sentence saying what is wrong and what to do.' },
            },
            required: ['error', 'message'],
          },
        },
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: `The cookie POST ${BASE}/session sets.` },
          bearer: { type: 'http', scheme: 'bearer', description: 'An API token an admin creates.' },
        },
      },
      security: [{ session: [] }, { bearer: [] }],
    },
    // Every route, also those whose validator carries no schema (commands without a body, GETs without a query).
    includeEmptyPaths: true,
    // Paths such as /openapi.json and /deliveries/{id}/recipients.csv are routes, not files.
    excludeStaticFile: false,
    defaultValidationErrorResponse: refusal('The request does not fit its schema (`invalid-request`); the message says what is wrong.'),
  });
  const guarded = guardedBy(api);
  for (const [path, item] of Object.entries(document.paths)) {
    const concrete = path.replace(/\{[^}]+\}/g, 'x');
    for (const method of ['get', 'put', 'post', 'delete', 'patch', 'head', 'options', 'trace'] as const) {
      const operation = item[method];
      if (!operation) continue;
      operation.tags = [path.split('/')[1] || 'api'];
      for (const response of Object.values(operation.responses ?? {})) {
        if (!('$ref' in response) && !response.description) response.description = 'Done.';
      }
      if (guarded(method, concrete)) {
        operation.responses = {
          ...operation.responses,
          401: refusal('No working session cookie or API token (`not-signed-in`, `token-unknown`, …): the message says why.'),
        };
      } else {
        operation.security = []; // open to anyone, e.g. signing in
      }
    }
  }
  return document;
}

/** Returns whether a request (method, concrete path) passes through `requireOperator`, by Hono's own matching of `api`'s routes. */
function guardedBy(api: Hono<AppEnv>): (method: string, path: string) => boolean {
  const router = new TrieRouter<true>();
  for (const route of api.routes) if (findTargetHandler(route.handler) === requireOperator) router.add(route.method, route.path, true);
  return (method, path) => router.match(method.toUpperCase(), path)[0].length > 0;
}
