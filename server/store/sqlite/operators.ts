/** Operators' hashes and sessions in SQLite (see ../operators.ts). */

import type { OperatorStore } from '../operators';
import { asAsync, type Sync } from '../sync';
import type { Db } from './database';

export function sqliteOperatorStore(db: Db): OperatorStore {
  const user = db.prepare('SELECT password_hash FROM users WHERE username = ?').pluck();
  const upsert = db.prepare(
    'INSERT INTO users (username, password_hash) VALUES (?, ?) ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash',
  );
  const add = db.prepare('INSERT INTO users (username, password_hash) VALUES (?, ?) ON CONFLICT (username) DO NOTHING');
  const rehash = db.prepare('UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?');
  const open = db.prepare('INSERT INTO sessions (token_hash, username, expires_at) VALUES (?, ?, ?)');
  const find = db.prepare('SELECT username FROM sessions WHERE token_hash = ? AND expires_at > ?').pluck();
  const close = db.prepare('DELETE FROM sessions WHERE token_hash = ?');
  const purge = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
  const store: Sync<OperatorStore> = {
    passwordHash: (username) => user.get(username) as string | undefined,
    setPasswordHash: (username, hash) => void upsert.run(username, hash),
    addPasswordHash: (username, hash) => add.run(username, hash).changes === 1,
    replacePasswordHash: (username, previous, next) => void rehash.run(next, username, previous),
    openSession(digest, username, expiresAt, now) {
      purge.run(now);
      open.run(digest, username, expiresAt);
    },
    sessionUser: (digest, now) => find.get(digest, now) as string | undefined,
    closeSession: (digest) => void close.run(digest),
  };
  return asAsync<OperatorStore>(store);
}
