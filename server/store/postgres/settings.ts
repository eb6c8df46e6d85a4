/** Settings of record in PostgreSQL's meta table (see ../settings.ts). */

import type { SettingsStore } from '../settings';
import type { Pg } from './database';

export function postgresSettingsStore(sql: Pg): SettingsStore {
  return {
    async get(key) {
      const [row] = await sql<{ value: string }[]>`SELECT value FROM meta WHERE key = ${key}`;
      return row?.value;
    },
    async set(key, value) {
      await sql`INSERT INTO meta (key, value) VALUES (${key}, ${value}) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value`;
    },
    async getOrSet(key, make) {
      // The first node to set it wins; everyone reads what it set.
      await sql`INSERT INTO meta (key, value) VALUES (${key}, ${make()}) ON CONFLICT (key) DO NOTHING`;
      const [row] = await sql<{ value: string }[]>`SELECT value FROM meta WHERE key = ${key}`;
      return row.value;
    },
  };
}
