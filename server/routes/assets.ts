/**
 * Images for messages: an operator uploads one (the file's bytes as the body, its name in the
 * query), the server checks its size and that it is a PNG, JPEG, GIF or WebP image by its
 * bytes, not by what the request says, and keeps it under the SHA-256 of its bytes; it is
 * then served to anyone, from the public URL, at /a/<hash>.<ext> (tracking/routes.ts's
 * neighbour, assetsPublic). SVG is refused: it can carry scripts, and most mail clients
 * do not show it.
 */

import { createHash } from 'node:crypto';
import { Hono } from 'hono';
import { imageSize } from 'image-size';
import { z } from 'zod';
import type { AppEnv } from '../services';
import { extensionOf, IMAGE_TYPES, type ImageExtension } from '../../shared/images';
import type { AssetInfo } from '../store/assets';
import { recordAudit } from './audit-trail';
import { query } from './validate';

/** The image types taken, by what image-size finds in the bytes (shared/images.ts names them so). */
const isTaken = (type: string | undefined): type is ImageExtension => Object.hasOwn(IMAGE_TYPES, type ?? '');

const uploadQuery = z.object({ name: z.string().trim().min(1).max(200).default('image') });
const listQuery = z.object({ limit: z.coerce.number().int().min(1).max(1000).default(200) });

/** What the API says of an image: what is stored, and the URL a message references it by. */
export const assetView = (asset: AssetInfo, publicUrl: string) => ({
  ...asset,
  url: `${publicUrl}/a/${asset.hash}.${extensionOf(asset.type) ?? 'bin'}`,
});

const SVG = /<svg[\s>]/i;

/** Returns the image's type and size, or why the bytes are not an image that is taken. */
function inspect(bytes: Buffer): { type: string; width: number; height: number } | { problem: string } {
  if (SVG.test(bytes.subarray(0, 4096).toString('latin1'))) {
    return { problem: 'SVG images are not taken: they can carry scripts and most mail clients do not show them. Upload a PNG instead.' };
  }
  let found: { type?: string; width?: number; height?: number };
  try {
    found = imageSize(bytes);
  } catch {
    return { problem: 'This file is not an image Mailroom can read: upload a PNG, JPEG, GIF or WebP image.' };
  }
  if (!isTaken(found.type) || !found.width || !found.height) {
    const kind = found.type ? `a ${found.type.toUpperCase()} image` : 'a file of an unknown kind';
    return { problem: `This is ${kind}, which mail clients do not show reliably: upload a PNG, JPEG, GIF or WebP image.` };
  }
  return { type: IMAGE_TYPES[found.type], width: found.width, height: found.height };
}

export const assets = new Hono<AppEnv>()
  .get('/', query(listQuery), async (c) => {
    const { stores, publicUrl } = c.var.services;
    const list = await stores.assets.list(c.req.valid('query').limit);
    return c.json({ assets: list.map((a) => assetView(a, publicUrl())) }, 200);
  })
  .post('/', query(uploadQuery), async (c) => {
    const { stores, publicUrl, now } = c.var.services;
    const bytes = Buffer.from(await c.req.arrayBuffer());
    if (bytes.length === 0) return c.json({ error: 'empty-file', message: 'The file is empty: choose an image file.' }, 400);
    const found = inspect(bytes);
    if ('problem' in found) return c.json({ error: 'not-an-image', message: found.problem }, 415);
    const hash = createHash('sha256').update(bytes).digest('hex');
    const name = c.req.valid('query').name;
    const stored = await stores.assets.put({
      hash,
      ...found,
      size: bytes.length,
      name,
      uploadedBy: c.var.user,
      uploadedAt: now().toISOString(),
      bytes,
    });
    await recordAudit(c, 'uploaded', 'asset', hash, name, `${found.type}, ${found.width}×${found.height}, ${bytes.length} bytes`);
    return c.json({ asset: assetView(stored, publicUrl()) }, 201);
  });

/** The images, served to anyone (mail clients fetch them): immutable, since a hash names its bytes. */
export const assetsPublic = new Hono<AppEnv>().get('/a/:file', async (c) => {
  const match = /^([0-9a-f]{64})\.([a-z]+)$/.exec(c.req.param('file'));
  const mime = match && isTaken(match[2]) ? IMAGE_TYPES[match[2]] : undefined;
  const asset = match && mime ? await c.var.services.stores.assets.get(match[1]) : undefined;
  if (!asset || asset.type !== mime) return c.text('There is no such image.', 404);
  return c.body(new Uint8Array(asset.bytes), 200, {
    'Content-Type': asset.type,
    'Content-Length': String(asset.size),
    'Cache-Control': 'public, max-age=31536000, immutable',
    'Content-Security-Policy': "default-src 'none'",
    ETag: `"${asset.hash}"`,
  });
});
