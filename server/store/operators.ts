/**
 * Operators and their sessions. Passwords are stored as scrypt hashes that name their own
 * parameters, session tokens as SHA-256 digests: the store keeps only those, and `Operators`
 * does the hashing (off the main thread), the same over either engine.
 *
 * A hash reads `scrypt$N=32768,r=8,p=3$salt$hash` (salt and hash base64url). Hashes stored
 * before the parameters were written down read `scrypt$salt$hash` and were made with Node's
 * defaults (N=16384, r=8, p=1); they still verify, and a good sign-in replaces them.
 */

import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';

/** What operators and sessions need of storage: hashes and digests, never a password or a token. */
export interface OperatorStore {
  passwordHash(username: string): Promise<string | undefined>;
  setPasswordHash(username: string, hash: string): Promise<void>;
  /** Stores a hash for a user who has none; resolves false (and changes nothing) when the user exists. */
  addPasswordHash(username: string, hash: string): Promise<boolean>;
  /** Replaces a hash only if it is still `previous`: a password set meanwhile wins. */
  replacePasswordHash(username: string, previous: string, next: string): Promise<void>;
  /** Stores a session (by its token's digest) and forgets sessions expired by `now` (ms). */
  openSession(tokenDigest: string, username: string, expiresAt: number, now: number): Promise<void>;
  /** Returns the session's user, or undefined when the digest is unknown or expired by `now` (ms). */
  sessionUser(tokenDigest: string, now: number): Promise<string | undefined>;
  closeSession(tokenDigest: string): Promise<void>;
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

/** Resolves the stored form of the password's hash, made with `params` off the main thread. */
export async function hashPasswordOffThread(password: string, params: ScryptParameters = SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  return format(params, salt, await scryptAsync(password, salt, KEY_BYTES, params));
}

/** Resolves true when the password matches a stored hash (of any parameters `parse` accepts). */
export async function checkPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parse(stored);
  if (!parsed || parsed.hash.length === 0) return false;
  const actual = await scryptAsync(password, parsed.salt, parsed.hash.length, parsed.params);
  return timingSafeEqual(parsed.hash, actual);
}

/** Returns true when a stored hash was made with other parameters than `current`. */
export function needsRehash(stored: string, current: ScryptParameters = SCRYPT): boolean {
  const params = parse(stored)?.params;
  return !params || params.N !== current.N || params.r !== current.r || params.p !== current.p;
}

// Checked for an unknown user, so that it costs what a known one costs and timing tells nothing.
const nobody = (params: ScryptParameters) => format(params, Buffer.alloc(16), Buffer.alloc(KEY_BYTES));

/** Operators as the routes see them: passwords checked off the main thread, sessions by token. */
export class Operators {
  /** @param scrypt the parameters new hashes are made with (tests choose cheaper ones) */
  constructor(
    private readonly store: OperatorStore,
    private readonly scrypt: ScryptParameters = SCRYPT,
  ) {}

  async hasUser(username: string): Promise<boolean> {
    return (await this.store.passwordHash(username)) !== undefined;
  }

  /** Stores the password's hash, made off the main thread. */
  async setPassword(username: string, password: string): Promise<void> {
    await this.store.setPasswordHash(username, await hashPasswordOffThread(password, this.scrypt));
  }

  /**
   * Creates the user with this password unless the user exists; resolves whether it did.
   * Nodes starting together on one database agree on one: only the first one's is kept.
   */
  async addUser(username: string, password: string): Promise<boolean> {
    return this.store.addPasswordHash(username, await hashPasswordOffThread(password, this.scrypt));
  }

  /**
   * Resolves true when the password is the user's. A hash made with other parameters than
   * the current ones is replaced by one made with them. An unknown user costs a hash too,
   * so timing tells nothing.
   */
  async verify(username: string, password: string): Promise<boolean> {
    const stored = await this.store.passwordHash(username);
    const matches = await checkPassword(password, stored ?? nobody(this.scrypt));
    if (!matches || stored === undefined) return false;
    if (needsRehash(stored, this.scrypt)) {
      await this.store.replacePasswordHash(username, stored, await hashPasswordOffThread(password, this.scrypt));
    }
    return true;
  }

  /** Returns a new session token, valid for `ttlMs`. */
  async openSession(username: string, ttlMs: number, now: Date): Promise<string> {
    const token = randomBytes(32).toString('base64url');
    await this.store.openSession(digest(token), username, now.getTime() + ttlMs, now.getTime());
    return token;
  }

  /** Returns the session's user, or undefined when the token is unknown or expired. */
  sessionUser(token: string, now: Date): Promise<string | undefined> {
    return this.store.sessionUser(digest(token), now.getTime());
  }

  closeSession(token: string): Promise<void> {
    return this.store.closeSession(digest(token));
  }
}
