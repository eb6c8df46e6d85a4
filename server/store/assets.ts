/**
 * Images uploaded for messages, stored content-addressed in the database (so that every node
 * serves every image, and an upload of the same bytes twice is one image): the SHA-256 of the
 * bytes names the image, and its public URL never changes. Images are never deleted: a
 * message already sent keeps pointing at its images for as long as someone may open it.
 */

export interface AssetInfo {
  /** The SHA-256 of the bytes, in hex. */
  hash: string;
  /** image/png, image/jpeg, image/gif or image/webp. */
  type: string;
  /** Bytes. */
  size: number;
  width: number;
  height: number;
  /** The file name it was uploaded with (for people: the picker shows it). */
  name: string;
  uploadedBy: string;
  uploadedAt: string;
}

export interface Asset extends AssetInfo {
  bytes: Buffer;
}

export interface AssetStore {
  /** Stores the image unless one with its hash is stored; returns the stored one (the first upload's name and uploader). */
  put(asset: Asset): Promise<AssetInfo>;
  /** Returns the image with this hash, bytes included. */
  get(hash: string): Promise<Asset | undefined>;
  /** Returns the images newest first, without their bytes. */
  list(limit: number): Promise<AssetInfo[]>;
}
