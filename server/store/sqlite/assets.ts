/** Uploaded images in SQLite (see ../assets.ts). */

import type { Asset, AssetInfo, AssetStore } from '../assets';
import { asAsync, type Sync } from '../sync';
import type { Db } from './database';

const INFO = 'hash, type, size, width, height, name, uploaded_by AS uploadedBy, uploaded_at AS uploadedAt';

export function sqliteAssetStore(db: Db): AssetStore {
  return asAsync<AssetStore>(syncAssetStore(db));
}

function syncAssetStore(db: Db): Sync<AssetStore> {
  const insert = db.prepare(
    `INSERT INTO assets (hash, type, size, width, height, name, uploaded_by, uploaded_at, bytes) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)
     ON CONFLICT (hash) DO NOTHING`,
  );
  const info = db.prepare(`SELECT ${INFO} FROM assets WHERE hash = ?`);
  const get = db.prepare(`SELECT ${INFO}, bytes FROM assets WHERE hash = ?`);
  const list = db.prepare(`SELECT ${INFO} FROM assets ORDER BY uploaded_at DESC, hash LIMIT ?`);
  return {
    put(a) {
      insert.run(a.hash, a.type, a.size, a.width, a.height, a.name, a.uploadedBy, a.uploadedAt, a.bytes);
      return info.get(a.hash) as AssetInfo;
    },
    get: (hash) => get.get(hash) as Asset | undefined,
    list: (limit) => list.all(limit) as AssetInfo[],
  };
}
