/** The audience of record: profiles, their subscription state, and the change log replicas pull from. */

import type { Profile } from '../../shared/types';
import { nextChangeSeq, type Db } from './database';

export interface ChangePage {
  profiles: Profile[];
  /** The change number to ask from next time. */
  cursor: number;
  hasMore: boolean;
  /** Profiles in the audience of record, for progress. */
  total: number;
}

export type NewProfile = Omit<Profile, 'id' | 'createdAt' | 'updatedAt'>;

export interface AudienceStore {
  count(): number;
  /** Returns the profiles changed after `cursor`, in change order, at most `limit`. */
  changesSince(cursor: number, limit: number): ChangePage;
  insertMany(profiles: readonly NewProfile[], now: Date): void;
  /** Returns true when the profile was subscribed and is now unsubscribed. */
  unsubscribe(profileId: number, source: string, now: Date): boolean;
  get(profileId: number): Profile | undefined;
}

interface ProfileRow {
  id: number;
  email: string;
  first_name: string;
  last_name: string;
  locale: string;
  city: string;
  status: Profile['status'];
  created_at: string;
  updated_at: string;
  change_seq: number;
}

const toProfile = (r: ProfileRow): Profile => ({
  id: r.id,
  email: r.email,
  firstName: r.first_name,
  lastName: r.last_name,
  locale: r.locale,
  city: r.city,
  status: r.status,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

export function sqliteAudienceStore(db: Db): AudienceStore {
  const count = db.prepare('SELECT COUNT(*) AS n FROM profiles').pluck();
  const page = db.prepare('SELECT * FROM profiles WHERE change_seq > ? ORDER BY change_seq LIMIT ?');
  const insert = db.prepare(
    `INSERT INTO profiles (email, first_name, last_name, locale, city, status, created_at, updated_at, change_seq)
     VALUES (@email, @firstName, @lastName, @locale, @city, @status, @now, @now, @seq)`,
  );
  const unsubscribe = db.prepare(
    `UPDATE profiles SET status = 'unsubscribed', status_changed_at = @now, status_source = @source, updated_at = @now, change_seq = @seq
     WHERE id = @id AND status = 'subscribed'`,
  );
  const byId = db.prepare('SELECT * FROM profiles WHERE id = ?');

  return {
    count: () => count.get() as number,
    changesSince(cursor, limit) {
      const rows = page.all(cursor, limit + 1) as ProfileRow[];
      const hasMore = rows.length > limit;
      const kept = hasMore ? rows.slice(0, limit) : rows;
      return {
        profiles: kept.map(toProfile),
        cursor: kept.length ? kept[kept.length - 1].change_seq : cursor,
        hasMore,
        total: count.get() as number,
      };
    },
    insertMany: db.transaction((profiles: readonly NewProfile[], now: Date) => {
      const at = now.toISOString();
      for (const p of profiles) insert.run({ ...p, now: at, seq: nextChangeSeq(db) });
    }),
    unsubscribe: db.transaction((profileId: number, source: string, now: Date) => {
      // Take a change number only when something changes, so replicas see no empty change.
      const current = byId.get(profileId) as ProfileRow | undefined;
      if (!current || current.status === 'unsubscribed') return false;
      return unsubscribe.run({ id: profileId, source, now: now.toISOString(), seq: nextChangeSeq(db) }).changes === 1;
    }),
    get: (profileId) => {
      const row = byId.get(profileId) as ProfileRow | undefined;
      return row && toProfile(row);
    },
  };
}
