/**
 * Operators and their sessions. Passwords are stored as scrypt hashes that name their own
 * parameters, session tokens as SHA-256 digests.
 *
 * A hash reads `scrypt$N=32768,r=8,p=3$salt$hash` (salt and hash base64url). Hashes stored
 * before the parameters were written down read `scrypt$salt$hash` and were made with Node's
 * defaults (N=16384, r=8, p=1); they still verify, and a good sign-in replaces them.
 */

import { createHash, randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Db } from './database';

export interface OperatorStore {
  hasUser(username: string): boolean;
  /** Stores the password's hash (computed on this thread: for the start and the command line, not for requests). */
  setPassword(username: string, password: string): void;
  /**
   * Resolves true when the password is the user's; the hash runs on libuv's thread pool.
   * A hash made with older parameters is replaced by one made with the current ones.
   */
  verify(username: string, password: string): Promise<boolean>;
  /** Returns a new session token, valid for `ttlMs`. */
  openSession(username: string, ttlMs: number, now: Date): string;
  /** Returns the session's user, or undefined when the token is unknown or expired. */
  sessionUser(token: string, now: Date): string | undefined;
  closeSession(token: string): void;
}

export interface ScryptParameters {
  N: number;
  r: number;
  p: number;
}

/**
 * OWASP's advice for scrypt (Password Storage Cheat Sheet): N=2^15, r=8, p=3 is one of its
 * equivalent settings. It needs 32 MiB of memory a hash and about 0.2 s of one core here.
 */
export const SCRYPT: ScryptParameters = { N: 2 ** 15, r: 8, p: 3 };
const LEGACY: ScryptParameters = { N: 16_384, r: 8, p: 1 };
const KEY_BYTES = 32;

const digest = (token: string) => createHash('sha256').update(token).digest('hex');

// scrypt needs 128·r·(N + p + 2) bytes; Node refuses above 32 MiB unless told, so allow twice the table.
const options = ({ N, r, p }: ScryptParameters): ScryptOptions => ({ N, r, p, maxmem: 256 * N * r });

const scryptAsync = (password: string, salt: Buffer, bytes: number, params: ScryptParameters) =>
  new Promise<Buffer>((resolve, reject) =>
    scrypt(password, salt, bytes, options(params), (error, key) => (error ? reject(error) : resolve(key))),
  );

const format = (params: ScryptParameters, salt: Buffer, hash: Buffer) =>
  `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64url')}$${hash.toString('base64url')}`;

/** Returns the parameters, salt and hash of a stored hash, or null when it is not one. */
function parse(stored: string): { params: ScryptParameters; salt: Buffer; hash: Buffer } | null {
  const parts = stored.split('$');
  if (parts[0] !== 'scrypt' || (parts.length !== 3 && parts.length !== 4)) return null;
  const [salt, hash] = parts.slice(-2);
  const given = parts.length === 4 ? /^N=(\d+),r=(\d+),p=(\d+)$/.exec(parts[1]) : null;
  if (parts.length === 4 && !given) return null;
  const params = given ? { N: Number(given[1]), r: Number(given[2]), p: Number(given[3]) } : LEGACY;
  // Bounds keep a damaged row from asking for more than 256 MiB or minutes; N must be a power of two.
  const { N, r, p } = params;
  if (N < 2 || (N & (N - 1)) !== 0 || r < 1 || p < 1 || p > 16 || 128 * N * r > 2 ** 28 || !salt || !hash) return null;
  return { params, salt: Buffer.from(salt, 'base64url'), hash: Buffer.from(hash, 'base64url') };
}

/** Returns the stored form of the password's hash, made with the current parameters on this thread. */
export function hashPassword(password: string): string {
  const salt = randomBytes(16);
  return format(SCRYPT, salt, scryptSync(password, salt, KEY_BYTES, options(SCRYPT)));
}

/** Resolves the stored form of the password's hash, made with the current parameters off the main thread. */
export async function hashPasswordOffThread(password: string): Promise<string> {
  const salt = randomBytes(16);
  return format(SCRYPT, salt, await scryptAsync(password, salt, KEY_BYTES, SCRYPT));
}

/** Resolves true when the password matches a stored hash (of any parameters `parse` accepts). */
export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || parsed.hash.length === 0) return false;
  const actual = await scryptAsync(password, parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(parsed.hash, actual);
}

/** Returns true when a stored hash was made with other parameters than the current ones. */
export function needsRehash(stored: string): boolean {
  const params = parse(stored)?.params;
  return !params || params.N !== SCRYPT.N || params.r !== SCRYPT.r || params.p !== SCRYPT.p;
}

// Checked for an unknown user, so that it costs what a known one costs and timing tells nothing.
const NOBODY = format(SCRYPT, Buffer.alloc(16), Buffer.alloc(KEY_BYTES));

export function sqliteOperatorStore(db: Db): OperatorStore {
  const user = db.prepare('SELECT password_hash FROM users WHERE username = ?').pluck();
  const upsert = db.prepare(
    'INSERT INTO users (username, password_hash) VALUES (?, ?) ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash',
  );
  // Replaces a hash only if it is still the one that was checked: a password set meanwhile wins.
  const rehash = db.prepare('UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?');
  const open = db.prepare('INSERT INTO sessions (token_hash, username, expires_at) VALUES (?, ?, ?)');
  const find = db.prepare('SELECT username FROM sessions WHERE token_hash = ? AND expires_at > ?').pluck();
  const close = db.prepare('DELETE FROM sessions WHERE token_hash = ?');
  const purge = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
  return {
    hasUser: (username) => user.get(username) !== undefined,
    setPassword: (username, password) => void upsert.run(username, hashPassword(password)),
    async verify(username, password) {
      const stored = user.get(username) as string | undefined;
      const matches = await checkPassword(password, stored ?? NOBODY);
      if (!matches || stored === undefined) return false;
      if (needsRehash(stored)) rehash.run(await hashPasswordOffThread(password), username, stored);
      return true;
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
