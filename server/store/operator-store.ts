/** Operators and their sessions. Passwords are stored as scrypt hashes, session tokens as SHA-256 digests. */

import { createHash, randomBytes, scryptSync, timingSafeEqual } from 'node:crypto';
import type { Db } from './database';

export interface OperatorStore {
  hasUser(username: string): boolean;
  setPassword(username: string, password: string): void;
  /** Returns true when the password is the user's. */
  verify(username: string, password: string): boolean;
  /** Returns a new session token, valid for `ttlMs`. */
  openSession(username: string, ttlMs: number, now: Date): string;
  /** Returns the session's user, or undefined when the token is unknown or expired. */
  sessionUser(token: string, now: Date): string | undefined;
  closeSession(token: string): void;
}

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

/** Returns `scrypt$salt$hash` for the password. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return `scrypt$${salt.toString('base64url')}$${scryptSync(password, salt, 32).toString('base64url')}`;
}

/** Returns true when the password matches a hash made by `hashPassword`. */
export function checkPassword(password: string, stored: string): boolean {
  const [scheme, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64url');
  const actual = scryptSync(password, Buffer.from(salt, 'base64url'), expected.length);
  return timingSafeEqual(expected, actual);
}

export function sqliteOperatorStore(db: Db): OperatorStore {
  const user = db.prepare('SELECT password_hash FROM users WHERE username = ?').pluck();
  const upsert = db.prepare(
    'INSERT INTO users (username, password_hash) VALUES (?, ?) ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash',
  );
  const open = db.prepare('INSERT INTO sessions (token_hash, username, expires_at) VALUES (?, ?, ?)');
  const find = db.prepare('SELECT username FROM sessions WHERE token_hash = ? AND expires_at > ?').pluck();
  const close = db.prepare('DELETE FROM sessions WHERE token_hash = ?');
  const purge = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
  return {
    hasUser: (username) => user.get(username) !== undefined,
    setPassword: (username, password) => void upsert.run(username, hashPassword(password)),
    verify(username, password) {
      const stored = user.get(username) as string | undefined;
      // Hash even for an unknown user, so timing does not tell which usernames exist.
      return (
        checkPassword(password, stored ?? 'scrypt$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA') &&
        stored !== undefined
      );
    },
    openSession(username, ttlMs, now) {
      purge.run(now.getTime());
      const token = randomBytes(32).toString('base64url');
      open.run(digest(token), username, now.getTime() + ttlMs);
      return token;
    },
    sessionUser: (token, now) => find.get(digest(token), now.getTime()) as string | undefined,
    closeSession: (token) => void close.run(digest(token)),
  };
}
