import { Hono } from 'hono';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { version } from '../../package.json';
import type { AppEnv } from '../services';
import { createKit, type Kit } from '../test-kit';
import { openApiRoute } from './openapi';
import { jsonBody } from './validate';

interface Parameter {
  in: string;
  name: string;
  required?: boolean;
  schema?: Record<string, unknown>;
}
interface Operation {
  parameters?: Parameter[];
  requestBody?: {
    content: Record<string, { schema: { type?: string; required?: string[]; properties?: Record<string, { pattern?: string }> } }>;
  };
  responses: Record<string, { description?: string }>;
  security?: unknown[];
}
interface Document {
  openapi: string;
  info: { title: string; version: string; description: string };
  servers: { url: string }[];
  paths: Record<string, Record<string, Operation>>;
  components: { securitySchemes: Record<string, Record<string, string>> };
}

let kit: Kit;
let doc: Document;
beforeAll(async () => {
  kit = await createKit();
  const response = await kit.request('/api/openapi.json');
  expect(response.status).toBe(200);
  doc = (await response.json()) as Document;
});
afterAll(async () => kit.close());

/** The route's path as the document writes it, relative to its server: `/api/deliveries/:id` is `/deliveries/{id}`. */
const documented = (path: string) => path.slice(doc.servers[0].url.length).replace(/:(\w+)(\{[^}]*\})?\??/g, '{$1}');
const operation = (method: string, path: string) => doc.paths[path]?.[method];

describe('the OpenAPI description', () => {
  it('lists every route the app has under /api, with its method, whoever added it', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.servers).toEqual([{ url: '/api' }]);
    // Hono's own list: one entry per handler, so a route with middleware comes more than once; ALL entries are middleware.
    const routes = kit.app.routes.filter((r) => r.method !== 'ALL' && r.path.startsWith('/api/') && r.path !== '/api/*');
    const names = [...new Set(routes.map((r) => `${r.method} ${r.path}`))];
    expect(names).toEqual(expect.arrayContaining(['POST /api/session', 'PUT /api/deliveries/:id/batch', 'GET /api/openapi.json']));
    const missing = routes.filter((r) => !operation(r.method.toLowerCase(), documented(r.path))).map((r) => `${r.method} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it('documents every path parameter, and a description of every answer', () => {
    for (const [path, item] of Object.entries(doc.paths)) {
      const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
      for (const [method, op] of Object.entries(item)) {
        const inPath = (op.parameters ?? []).filter((p) => p.in === 'path');
        expect(inPath.map((p) => p.name).sort(), `${method} ${path}`).toEqual([...names].sort());
        expect(inPath.every((p) => p.required && p.schema)).toBe(true);
        for (const response of Object.values(op.responses)) expect(response.description, `${method} ${path}`).toBeTruthy();
      }
    }
  });

  it("describes a body, a query and the path parameters with the route's own schemas", () => {
    const batch = operation('put', '/deliveries/{id}/batch');
    const body = batch.requestBody!.content['application/json'].schema;
    expect(body.type).toBe('object');
    expect(body.required).toEqual(expect.arrayContaining(['version', 'contentHash', 'name', 'subject', 'html', 'chunkCount']));
    expect(body.required).not.toContain('exclusionChunkCount'); // optional in the schema
    expect(body.properties!.contentHash.pattern).toBe('^[0-9a-f]{8,64}$');
    // The id's pattern comes from the deliveries' params validator, not from the path alone.
    expect(batch.parameters).toContainEqual(
      expect.objectContaining({ in: 'path', name: 'id', required: true, schema: expect.objectContaining({ pattern: expect.any(String) }) }),
    );
    expect(batch.responses['400']).toBeDefined();

    const recipients = operation('get', '/deliveries/{id}/recipients');
    const queries = (recipients.parameters ?? []).filter((p) => p.in === 'query');
    expect(queries.map((p) => p.name).sort()).toEqual(['after', 'limit', 'q', 'status']);
    // A client may leave out what has a default.
    expect(queries.some((p) => p.required)).toBe(false);
    expect(queries.find((p) => p.name === 'limit')!.schema).toMatchObject({ type: 'integer', minimum: 1, maximum: 500, default: 50 });
  });

  it('says who Mailroom is and how to authenticate, and which operations are open', () => {
    expect(doc.info).toMatchObject({ title: 'Mailroom', version });
    expect(doc.info.description).toContain('POST /api/session');
    expect(doc.info.description).toContain('Authorization: Bearer <token>');
    expect(doc.components.securitySchemes.bearer).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(operation('post', '/session').security).toEqual([]);
    expect(operation('get', '/deliveries').security).toBeUndefined(); // the document's: a session or a token
    expect(operation('get', '/deliveries').responses['401']).toBeDefined();
  });
});

describe('validation, now recorded for the description', () => {
  it('answers the same 400 sentences as before, for a body, a query and an address', async () => {
    const signIn = await kit.app.request('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(signIn.status).toBe(400);
    expect(await signIn.json()).toEqual({
      error: 'invalid-request',
      message:
        'The request is not valid: username: Invalid input: expected string, received undefined; password: Invalid input: expected string, received undefined.',
    });
    const page = await kit.request('/api/deliveries/d1/recipients?limit=0');
    expect(await page.json()).toEqual({
      error: 'invalid-request',
      message: 'The query is not valid: limit: Too small: expected number to be >=1.',
    });
    const address = await kit.request('/api/deliveries/not%20an%20id');
    expect(address.status).toBe(400);
    expect(await address.json()).toEqual({
      error: 'invalid-request',
      message: 'The address is not valid: id: a delivery id of at most 64 letters, digits, "-" and "_".',
    });
  });
});

describe('openApiRoute', () => {
  it('builds the document at the first request and keeps it', async () => {
    // The API described, and a server answering its description (so the API's own router is never built and can still grow).
    const api = new Hono<AppEnv>().post('/a', jsonBody(z.object({ n: z.number() })), (c) => c.json(c.req.valid('json'), 200));
    const server = new Hono<AppEnv>().get('/openapi.json', openApiRoute(api));
    const first = (await (await server.request('/openapi.json')).json()) as Document;
    api.get('/later', (c) => c.json({}, 200));
    const second = (await (await server.request('/openapi.json')).json()) as Document;
    expect(Object.keys(first.paths)).toEqual(['/a']);
    expect(first.paths['/a'].post.requestBody).toBeDefined();
    expect(second).toEqual(first);
  });
});
