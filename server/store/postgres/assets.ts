/** Uploaded images in PostgreSQL (see ../assets.ts). */

import type { Asset, AssetInfo, AssetStore } from '../assets';
import type { Pg } from './database';

const INFO = 'hash, type, size, width, height, name, uploaded_by AS "uploadedBy", uploaded_at AS "uploadedAt"';

export function postgresAssetStore(sql: Pg): AssetStore {
  return {
    async put(a) {
      await sql`INSERT INTO assets (hash, type, size, width, height, name, uploaded_by, uploaded_at, bytes)
        VALUES (${a.hash}, ${a.type}, ${a.size}, ${a.width}, ${a.height}, ${a.name}, ${a.uploadedBy}, ${a.uploadedAt}, ${a.bytes})
        ON CONFLICT (hash) DO NOTHING`;
      const [row] = await sql<AssetInfo[]>`SELECT ${sql.unsafe(INFO)} FROM assets WHERE hash = ${a.hash}`;
      return row;
    },
    async get(hash) {
      const [row] = await sql<Asset[]>`SELECT ${sql.unsafe(INFO)}, bytes FROM assets WHERE hash = ${hash}`;
      return row;
    },
    list: (limit) => sql<AssetInfo[]>`SELECT ${sql.unsafe(INFO)} FROM assets ORDER BY uploaded_at DESC, hash LIMIT ${limit}`,
  };
}
