/**
 * The images a message may carry, as the server takes them (server/routes/assets.ts) and the
 * picker checks them first (app/lib/components/ImagePicker.svelte): the types mail clients show,
 * by the extension of their URL (which is also what image-size calls them), and the size at most.
 */

export const IMAGE_TYPES = { png: 'image/png', jpg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp' } as const;
export type ImageExtension = keyof typeof IMAGE_TYPES;

/** The largest image an upload takes: far more than an email image should weigh (the control rules warn well before). */
export const ASSET_MAX_BYTES = 5 * 1024 * 1024;

/** Returns the extension of an image type, or undefined for a type that is not taken. */
export const extensionOf = (mime: string) => (Object.keys(IMAGE_TYPES) as ImageExtension[]).find((ext) => IMAGE_TYPES[ext] === mime);
