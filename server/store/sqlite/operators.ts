/** Operators' hashes, roles and sessions, and API tokens, in SQLite (see ../operators.ts). */

import type { Role } from '../../../shared/roles';
import type { ApiToken, Operator, OperatorStore, SessionOperator } from '../operators';
import { asAsync, type Sync } from '../sync';
import type { Db } from './database';

interface OperatorRow {
  username: string;
  role: Role;
  disabled: number;
  created_at: string;
  created_by: string;
}

const OPERATOR = 'SELECT username, role, disabled, created_at, created_by FROM users';
const TOKEN = `SELECT id, name, role, created_by AS createdBy, created_at AS createdAt, expires_at AS expiresAt,
  revoked_at AS revokedAt, last_used_at AS lastUsedAt FROM api_tokens`;

/** Returns the operator of a row; '' (a user made before these columns) reads as not known. */
const operatorOf = (r: OperatorRow): Operator => ({
  username: r.username,
  role: r.role,
  disabled: Number(r.disabled) === 1,
  createdAt: r.created_at || null,
  createdBy: r.created_by || null,
});

export function sqliteOperatorStore(db: Db): OperatorStore {
  const user = db.prepare('SELECT password_hash FROM users WHERE username = ?').pluck();
  const upsert = db.prepare(
    'INSERT INTO users (username, password_hash) VALUES (?, ?) ON CONFLICT (username) DO UPDATE SET password_hash = excluded.password_hash',
  );
  const add = db.prepare(
    `INSERT INTO users (username, password_hash, role, disabled, created_at, created_by)
     VALUES (@username, @hash, @role, 0, @createdAt, @createdBy) ON CONFLICT (username) DO NOTHING`,
  );
  const rehash = db.prepare('UPDATE users SET password_hash = ? WHERE username = ? AND password_hash = ?');
  const open = db.prepare('INSERT INTO sessions (token_hash, username, expires_at) VALUES (?, ?, ?)');
  const find = db.prepare(
    `SELECT s.username, u.role FROM sessions s JOIN users u ON u.username = s.username
     WHERE s.token_hash = ? AND s.expires_at > ? AND u.disabled = 0`,
  );
  const close = db.prepare('DELETE FROM sessions WHERE token_hash = ?');
  const closeAll = db.prepare('DELETE FROM sessions WHERE username = ?');
  const purge = db.prepare('DELETE FROM sessions WHERE expires_at <= ?');
  const one = db.prepare(`${OPERATOR} WHERE username = ?`);
  const all = db.prepare(`${OPERATOR} ORDER BY username`);
  // The row changes only if it stays an enabled admin, was not one, or another enabled admin remains.
  const change = db.prepare(
    `UPDATE users SET role = @role, disabled = @disabled WHERE username = @username
       AND ((@role = 'admin' AND @disabled = 0) OR role <> 'admin' OR disabled = 1
         OR EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.disabled = 0 AND o.username <> @username))`,
  );
  const addToken = db.prepare(
    `INSERT INTO api_tokens (id, name, role, token_hash, created_by, created_at, expires_at)
     VALUES (@id, @name, @role, @digest, @createdBy, @createdAt, @expiresAt)`,
  );
  const tokens = db.prepare(`${TOKEN} ORDER BY created_at DESC, id`);
  const tokenById = db.prepare(`${TOKEN} WHERE id = ?`);
  const tokenByDigest = db.prepare(`${TOKEN} WHERE token_hash = ?`);
  const revoke = db.prepare('UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL');
  const touch = db.prepare('UPDATE api_tokens SET last_used_at = ? WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)');

  const operator = (username: string) => {
    const row = one.get(username) as OperatorRow | undefined;
    return row && operatorOf(row);
  };
  const store: Sync<OperatorStore> = {
    passwordHash: (username) => user.get(username) as string | undefined,
    setPasswordHash: (username, hash) => void upsert.run(username, hash),
    replacePasswordHash: (username, previous, next) => void rehash.run(next, username, previous),
    openSession(digest, username, expiresAt, now) {
      purge.run(now);
      open.run(digest, username, expiresAt);
    },
    sessionUser: (digest, now) => find.get(digest, now) as SessionOperator | undefined,
    closeSession: (digest) => void close.run(digest),
    closeSessionsOf: (username) => void closeAll.run(username),
    operator,
    operators: () => (all.all() as OperatorRow[]).map(operatorOf),
    addOperator: (o, hash) => add.run({ ...o, hash, createdAt: o.createdAt ?? '', createdBy: o.createdBy ?? '' }).changes === 1,
    changeOperator(username, wanted) {
      const current = operator(username);
      if (!current) return { ok: false, reason: 'not-found' };
      const next = { role: wanted.role ?? current.role, disabled: wanted.disabled ?? current.disabled };
      const changed = change.run({ username, role: next.role, disabled: next.disabled ? 1 : 0 }).changes === 1;
      return changed ? { ok: true, operator: { ...current, ...next } } : { ok: false, reason: 'last-admin' };
    },
    addToken: (t, digest) => void addToken.run({ ...t, digest }),
    tokens: () => tokens.all() as ApiToken[],
    tokenByDigest: (digest) => tokenByDigest.get(digest) as ApiToken | undefined,
    revokeToken(id, at) {
      const revoked = revoke.run(at, id).changes === 1;
      const token = tokenById.get(id) as ApiToken | undefined;
      return token && { token, revoked };
    },
    touchToken: (id, at, staleBefore) => void touch.run(at, id, staleBefore),
  };
  return asAsync<OperatorStore>(store);
}
