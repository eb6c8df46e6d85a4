/** Settings of record in SQLite's meta table (see ../settings.ts). */

import type { SettingsStore } from '../settings';
import { asAsync, type Sync } from '../sync';
import type { Db } from './database';

export function sqliteSettingsStore(db: Db): SettingsStore {
  const read = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
  const write = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value');
  const add = db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING');
  const store: Sync<SettingsStore> = {
    get: (key) => read.get(key) as string | undefined,
    set: (key, value) => void write.run(key, value),
    getOrSet(key, make) {
      add.run(key, make());
      return read.get(key) as string;
    },
  };
  return asAsync<SettingsStore>(store);
}
