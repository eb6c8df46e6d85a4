import { gunzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKit, newProfile, type Kit } from '../test-kit';

let kit: Kit;
beforeEach(async () => {
  kit = await createKit();
  kit.services.audience.upsertMany(
    Array.from({ length: 300 }, () => newProfile()),
    'test',
    new Date(),
  );
});
afterEach(() => kit.close());

describe('GET /api/audience/changes', () => {
  it('pages by cursor and compresses the page for a client that accepts gzip', async () => {
    const response = await kit.app.request('/api/audience/changes?since=0&limit=250', {
      headers: { cookie: kit.cookie, 'accept-encoding': 'gzip' },
    });
    expect(response.headers.get('content-encoding')).toBe('gzip');
    const page = JSON.parse(gunzipSync(Buffer.from(await response.arrayBuffer())).toString());
    expect(page).toMatchObject({ hasMore: true, total: 300, deleted: [] });
    expect(page.profiles).toHaveLength(250);
    const rest = await (await kit.request(`/api/audience/changes?since=${page.cursor}&limit=250`)).json();
    expect(rest.profiles).toHaveLength(50);
    expect(rest.hasMore).toBe(false);
  });

  it('refuses a cursor that is not a number, saying so', async () => {
    const response = await kit.request('/api/audience/changes?since=yesterday');
    expect(response.status).toBe(400);
    expect((await response.json()).message).toMatch(/^The query is not valid: since/);
  });

  it('serves the schema of custom attributes', async () => {
    kit.services.audience.declareAttribute({ name: 'vip', label: 'VIP', type: 'boolean' });
    expect(await (await kit.request('/api/audience/schema')).json()).toEqual({
      attributes: [{ name: 'vip', label: 'VIP', type: 'boolean' }],
    });
  });
});
