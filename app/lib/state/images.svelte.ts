/**
 * What the device knows of the images uploaded to the server: their sizes by URL, kept in
 * the browser database as the server last listed them, so that the control rule "Total size
 * with images" weighs a message offline too, in the live preview and in the preparation.
 */

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

/** Reads the server's list of images into the device; offline, what is known stays. */
export async function refreshImages(): Promise<void> {
  try {
    const response = await fetch('/api/assets');
    if (response.ok) await rememberImages(((await response.json()) as { assets: { url: string; size: number }[] }).assets);
  } catch {
    // Offline: the sizes last heard stay.
  }
}
