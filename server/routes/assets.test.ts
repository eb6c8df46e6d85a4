import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { png } from '../../test/support/png';
import { createKit, PUBLIC_URL, type Kit } from '../test-kit';

let kit: Kit;
beforeEach(async () => {
  kit = await createKit();
});
afterEach(() => kit.close());

const upload = (body: Buffer, name = 'hero.png', headers: Record<string, string> = {}) =>
  kit.app.request(`/api/assets?name=${encodeURIComponent(name)}`, {
    method: 'POST',
    headers: { cookie: kit.cookie, 'content-type': 'application/octet-stream', ...headers },
    body: new Uint8Array(body),
  });

describe('images for messages', () => {
  it('stores an upload under the hash of its bytes and serves it to anyone from the public URL', async () => {
    const image = png(300, 120);
    const response = await upload(image);
    expect(response.status).toBe(201);
    const { asset } = await response.json();
    expect(asset).toMatchObject({ type: 'image/png', width: 300, height: 120, size: image.length, name: 'hero.png', uploadedBy: 'admin' });
    expect(asset.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(asset.url).toBe(`${PUBLIC_URL}/a/${asset.hash}.png`);

    // No session: mail clients fetch it.
    const served = await kit.app.request(new URL(asset.url).pathname);
    expect(served.status).toBe(200);
    expect(served.headers.get('content-type')).toBe('image/png');
    expect(served.headers.get('cache-control')).toContain('immutable');
    expect(served.headers.get('x-content-type-options')).toBe('nosniff');
    expect(Buffer.from(await served.arrayBuffer()).equals(image)).toBe(true);

    // The same bytes again are the same image: the first upload's name stays.
    const again = await (await upload(image, 'copy.png')).json();
    expect(again.asset).toMatchObject({ hash: asset.hash, name: 'hero.png' });
    const { assets } = await (await kit.request('/api/assets')).json();
    expect(assets.map((a: { hash: string }) => a.hash)).toEqual([asset.hash]);
    expect((await kit.request(`/api/audit?action=uploaded`).then((r) => r.json())).entries).toHaveLength(2);
  });

  it('refuses what is not a PNG, JPEG, GIF or WebP image by its bytes, whatever the request says', async () => {
    const script = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="10" height="10"/></svg>');
    const svg = await upload(script, 'logo.svg', { 'content-type': 'image/svg+xml' });
    expect(svg.status).toBe(415);
    expect((await svg.json()).message).toMatch(/SVG images are not taken.*Upload a PNG/);

    const text = await upload(Buffer.from('just some text, not an image at all'), 'fake.png', { 'content-type': 'image/png' });
    expect(text.status).toBe(415);
    expect((await text.json()).message).toMatch(/not an image Mailroom can read/);

    const empty = await upload(Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect(await kit.sql('SELECT hash FROM assets')).toEqual([]);
  });

  it('refuses an image over 5 MiB before storing anything', async () => {
    const big = Buffer.concat([png(10, 10), Buffer.alloc(5 * 1024 * 1024)]);
    const response = await upload(big);
    expect(response.status).toBe(413);
    expect((await response.json()).message).toMatch(/5 MiB/);
    expect(await kit.sql('SELECT hash FROM assets')).toEqual([]);
  });

  it('lets only operators who may work upload, and answers 404 for an unknown or mistyped image', async () => {
    const viewer = await kit.signInAs('vera', 'viewer');
    expect((await viewer('/api/assets')).status).toBe(200);
    const cookieless = await kit.app.request('/api/assets', { method: 'POST', body: new Uint8Array(png(1, 1)) });
    expect(cookieless.status).toBe(401);

    const { asset } = await (await upload(png(2, 2))).json();
    expect((await kit.app.request(`/a/${asset.hash}.gif`)).status).toBe(404);
    expect((await kit.app.request(`/a/${'0'.repeat(64)}.png`)).status).toBe(404);
    expect((await kit.app.request(`/a/../etc/passwd`)).status).toBe(404);
  });
});
