/**
 * Operators, their roles and sessions, and API tokens. Passwords are stored as scrypt hashes
 * that name their own parameters, session tokens and API token secrets as SHA-256 digests:
 * the store keeps only those, and `Operators` does the hashing (off the main thread), the
 * same over either engine.
 *
 * Invariants: a disabled operator has no session that works (`sessionUser` joins the user
 * and skips a disabled one, and disabling closes them all); the last enabled admin can be
 * neither demoted nor disabled (the store checks it in the update itself, so two admins
 * demoting each other at once leave one). A token secret is shown once, when it is made.
 *
 * A hash reads `scrypt$N=32768,r=8,p=3$salt$hash` (salt and hash base64url). Hashes stored
 * before the parameters were written down read `scrypt$salt$hash` and were made with Node's
 * defaults (N=16384, r=8, p=1); they still verify, and a good sign-in replaces them.
 */

import { createHash, randomBytes, randomUUID, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Role } from '../../shared/roles';

/** An operator as the API shows it. `createdAt` and `createdBy` are null for one made before they were kept. */
export interface Operator {
  username: string;
  role: Role;
  disabled: boolean;
  createdAt: string | null;
  createdBy: string | null;
}

/** Who a working session belongs to. */
export interface SessionOperator {
  username: string;
  role: Role;
}

/** An API token as the API shows it (never its secret, which only its creator saw once). */
export interface ApiToken {
  id: string;
  name: string;
  role: Role;
  createdBy: string;
  createdAt: string;
  /** ISO date-time; null: it does not expire. */
  expiresAt: string | null;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

/** A change to an operator: a role, enabled or disabled. */
export interface OperatorChange {
  role?: Role;
  disabled?: boolean;
}

/** Why an operator change was not made. */
export type ChangeOutcome = { ok: true; operator: Operator } | { ok: false; reason: 'not-found' | 'last-admin' };

/** What operators and sessions need of storage: hashes and digests, never a password or a token. */
export interface OperatorStore {
  passwordHash(username: string): Promise<string | undefined>;
  setPasswordHash(username: string, hash: string): Promise<void>;
  /** Replaces a hash only if it is still `previous`: a password set meanwhile wins. */
  replacePasswordHash(username: string, previous: string, next: string): Promise<void>;
  /** Stores a session (by its token's digest) and forgets sessions expired by `now` (ms). */
  openSession(tokenDigest: string, username: string, expiresAt: number, now: number): Promise<void>;
  /** Returns the session's user and role, or undefined when the digest is unknown, expired by `now` (ms), or its user disabled. */
  sessionUser(tokenDigest: string, now: number): Promise<SessionOperator | undefined>;
  closeSession(tokenDigest: string): Promise<void>;
  /** Ends every session of the user (disabled, or given a new password). */
  closeSessionsOf(username: string): Promise<void>;
  operator(username: string): Promise<Operator | undefined>;
  /** Returns every operator, by username. */
  operators(): Promise<Operator[]>;
  /** Stores a new operator; resolves false (and changes nothing) when the username is taken. */
  addOperator(operator: Operator, hash: string): Promise<boolean>;
  /**
   * Changes the operator's role or state, unless that leaves no enabled admin (checked in the
   * same statement or transaction as the change, so concurrent changes cannot both pass it).
   */
  changeOperator(username: string, change: OperatorChange): Promise<ChangeOutcome>;
  addToken(token: ApiToken, secretDigest: string): Promise<void>;
  /** Returns every token, newest first. */
  tokens(): Promise<ApiToken[]>;
  tokenByDigest(secretDigest: string): Promise<ApiToken | undefined>;
  /** Marks the token revoked at `at` unless it already was; returns it as it is now and whether this revoked it, or undefined when unknown. */
  revokeToken(id: string, at: string): Promise<{ token: ApiToken; revoked: boolean } | undefined>;
  /** Sets the token's last use to `at` if it was last used before `staleBefore` (or never). */
  touchToken(id: string, at: string, staleBefore: string): Promise<void>;
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

/** Returns a password for an operator who was not given one: 24 characters, 144 random bits. */
export const generatePassword = () => randomBytes(18).toString('base64url');

/** Returns a new API token secret: `mr_` and 32 random bytes in base64url. */
export const newTokenSecret = () => `mr_${randomBytes(32).toString('base64url')}`;

/** A token's use is written down at most this often: a request a second would otherwise write a row a second. */
const TOUCH_EVERY_MS = 60_000;

/** What a presented API token secret turned out to be. */
export type TokenCheck =
  | { ok: true; token: ApiToken }
  | { ok: false; reason: 'unknown' }
  | { ok: false; reason: 'revoked' | 'expired'; token: ApiToken; at: string };

/** Operators as the routes see them: passwords checked off the main thread, sessions and API tokens by digest. */
export class Operators {
  /** @param scrypt the parameters new hashes are made with (tests choose cheaper ones) */
  constructor(
    private readonly store: OperatorStore,
    private readonly scrypt: ScryptParameters = SCRYPT,
  ) {}

  async hasUser(username: string): Promise<boolean> {
    return (await this.store.passwordHash(username)) !== undefined;
  }

  /** Stores the password's hash, made off the main thread (creating the user, an admin, if there is none). */
  async setPassword(username: string, password: string): Promise<void> {
    await this.store.setPasswordHash(username, await hashPasswordOffThread(password, this.scrypt));
  }

  /**
   * Creates the user, an admin, with this password unless the user exists; resolves whether
   * it did. Nodes starting together on one database agree on one: only the first one's is kept.
   */
  async addUser(username: string, password: string, now = new Date()): Promise<boolean> {
    const operator: Operator = { username, role: 'admin', disabled: false, createdAt: now.toISOString(), createdBy: null };
    return this.store.addOperator(operator, await hashPasswordOffThread(password, this.scrypt));
  }

  /** Resolves the new operator, or undefined (nothing changed) when the username is taken. */
  async create(username: string, role: Role, password: string, by: string, now: Date): Promise<Operator | undefined> {
    const operator: Operator = { username, role, disabled: false, createdAt: now.toISOString(), createdBy: by };
    return (await this.store.addOperator(operator, await hashPasswordOffThread(password, this.scrypt))) ? operator : undefined;
  }

  /** Resolves the operator, or undefined when there is none by that name. */
  operator(username: string): Promise<Operator | undefined> {
    return this.store.operator(username);
  }

  /** Resolves every operator, by username. */
  list(): Promise<Operator[]> {
    return this.store.operators();
  }

  /**
   * Resolves the operator as changed, or why not (unknown, or it would leave no enabled
   * admin). Disabling ends the operator's sessions at once.
   */
  async change(username: string, change: OperatorChange): Promise<ChangeOutcome> {
    const outcome = await this.store.changeOperator(username, change);
    if (outcome.ok && outcome.operator.disabled) await this.store.closeSessionsOf(username);
    return outcome;
  }

  /** Resolves false when there is no such operator; else sets the password and ends the operator's sessions. */
  async resetPassword(username: string, password: string): Promise<boolean> {
    if (!(await this.store.operator(username))) return false;
    await this.setPassword(username, password);
    await this.store.closeSessionsOf(username);
    return true;
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

  /** Returns the session's user and role, or undefined when the token is unknown or expired, or the user disabled. */
  sessionOperator(token: string, now: Date): Promise<SessionOperator | undefined> {
    return this.store.sessionUser(digest(token), now.getTime());
  }

  /** Returns the session's user, or undefined when the token is unknown or expired, or the user disabled. */
  async sessionUser(token: string, now: Date): Promise<string | undefined> {
    return (await this.sessionOperator(token, now))?.username;
  }

  closeSession(token: string): Promise<void> {
    return this.store.closeSession(digest(token));
  }

  /** Resolves a new API token and its secret; only the secret's digest is kept, so this is the one time it is seen. */
  async createToken(
    input: { name: string; role: Role; expiresAt: Date | null; by: string },
    now: Date,
  ): Promise<{ token: ApiToken; secret: string }> {
    const secret = newTokenSecret();
    const token: ApiToken = {
      id: randomUUID(),
      name: input.name,
      role: input.role,
      createdBy: input.by,
      createdAt: now.toISOString(),
      expiresAt: input.expiresAt?.toISOString() ?? null,
      revokedAt: null,
      lastUsedAt: null,
    };
    await this.store.addToken(token, digest(secret));
    return { token, secret };
  }

  /** Resolves every API token, newest first. */
  tokens(): Promise<ApiToken[]> {
    return this.store.tokens();
  }

  /** Resolves the token, revoked (at `now`, or when it first was, then `revoked` is false), or undefined when unknown. */
  revokeToken(id: string, now: Date): Promise<{ token: ApiToken; revoked: boolean } | undefined> {
    return this.store.revokeToken(id, now.toISOString());
  }

  /**
   * Resolves what the secret is: a token that works (its use written down, at most once a
   * minute), or unknown, revoked or expired (with when).
   */
  async checkToken(secret: string, now: Date): Promise<TokenCheck> {
    const token = await this.store.tokenByDigest(digest(secret));
    if (!token) return { ok: false, reason: 'unknown' };
    if (token.revokedAt) return { ok: false, reason: 'revoked', token, at: token.revokedAt };
    if (token.expiresAt && Date.parse(token.expiresAt) <= now.getTime())
      return { ok: false, reason: 'expired', token, at: token.expiresAt };
    const staleBefore = new Date(now.getTime() - TOUCH_EVERY_MS).toISOString();
    if (!token.lastUsedAt || token.lastUsedAt < staleBefore) await this.store.touchToken(token.id, now.toISOString(), staleBefore);
    return { ok: true, token };
  }
}
