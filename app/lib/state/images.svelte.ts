/**
 * What the device knows of the images uploaded to the server: their sizes by URL, kept in
 * the browser database as the server last listed them, so that the control rule "Total size
 * with images" weighs a message offline too, in the live preview and in the preparation.
 */

import { refusalOf } from '../api';
import { getMeta, SERVER_IMAGE_SIZES } from '../db/db';
import { db } from '../db/instance';
import { LiveQuery } from './live-query.svelte';

export const imageSizes = new LiveQuery<Record<string, number>>(
  async () => (await getMeta<Record<string, number>>(db, SERVER_IMAGE_SIZES)) ?? {},
);

/** Keeps the sizes of these images (the server's list, or one just uploaded) beside those known. */
export async function rememberImages(images: readonly { url: string; size: number }[]): Promise<void> {
  await db.transaction('rw', db.meta, async () => {
    const known = (await getMeta<Record<string, number>>(db, SERVER_IMAGE_SIZES)) ?? {};
    for (const image of images) known[image.url] = image.size;
    await db.meta.put({ key: SERVER_IMAGE_SIZES, value: known });
  });
}

/** An uploaded image as the server lists it (server/routes/assets.ts). */
export interface Asset {
  hash: string;
  url: string;
  name: string;
  type: string;
  size: number;
  width: number;
  height: number;
  uploadedBy: string;
  uploadedAt: string;
}

/** Resolves the server's images, their sizes kept on the device; throws the server's refusal, or a TypeError offline. */
export async function listImages(): Promise<Asset[]> {
  const response = await fetch('/api/assets');
  if (!response.ok) throw new Error((await refusalOf(response)).message);
  const { assets } = (await response.json()) as { assets: Asset[] };
  await rememberImages(assets);
  return assets;
}

/** Reads the server's list of images into the device; offline, what is known stays. */
export const refreshImages = () =>
  listImages().then(
    () => undefined,
    () => undefined,
  );
