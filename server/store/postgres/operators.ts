/** Operators' hashes, roles and sessions, and API tokens, in PostgreSQL (see ../operators.ts). */

import type { Role } from '../../../shared/roles';
import type { ApiToken, Operator, OperatorStore } from '../operators';
import type { Pg } from './database';

interface OperatorRow {
  username: string;
  role: Role;
  disabled: number;
  created_at: string;
  created_by: string;
}

/** Returns the operator of a row; '' (a user made before these columns) reads as not known. */
const operatorOf = (r: OperatorRow): Operator => ({
  username: r.username,
  role: r.role,
  disabled: Number(r.disabled) === 1,
  createdAt: r.created_at || null,
  createdBy: r.created_by || null,
});

export function postgresOperatorStore(sql: Pg): OperatorStore {
  const tokens = (where: string, values: unknown[]) =>
    sql.unsafe(
      `SELECT id, name, role, created_by AS "createdBy", created_at AS "createdAt", expires_at AS "expiresAt",
        revoked_at AS "revokedAt", last_used_at AS "lastUsedAt" FROM api_tokens ${where}`,
      values as never[],
    ) as unknown as Promise<ApiToken[]>;
  const operator = async (username: string) => {
    const [row] = await sql<OperatorRow[]>`SELECT username, role, disabled, created_at, created_by FROM users WHERE username = ${username}`;
    return row && operatorOf(row);
  };
  return {
    async passwordHash(username) {
      const [row] = await sql<{ password_hash: string }[]>`SELECT password_hash FROM users WHERE username = ${username}`;
      return row?.password_hash;
    },
    async setPasswordHash(username, hash) {
      await sql`INSERT INTO users (username, password_hash) VALUES (${username}, ${hash})
        ON CONFLICT (username) DO UPDATE SET password_hash = EXCLUDED.password_hash`;
    },
    async replacePasswordHash(username, previous, next) {
      await sql`UPDATE users SET password_hash = ${next} WHERE username = ${username} AND password_hash = ${previous}`;
    },
    async openSession(digest, username, expiresAt, now) {
      await sql`DELETE FROM sessions WHERE expires_at <= ${now}`;
      await sql`INSERT INTO sessions (token_hash, username, expires_at) VALUES (${digest}, ${username}, ${expiresAt})`;
    },
    async sessionUser(digest, now) {
      const [row] = await sql<{ username: string; role: Role }[]>`SELECT s.username, u.role
        FROM sessions s JOIN users u ON u.username = s.username
        WHERE s.token_hash = ${digest} AND s.expires_at > ${now} AND u.disabled = 0`;
      return row && { username: row.username, role: row.role };
    },
    async closeSession(digest) {
      await sql`DELETE FROM sessions WHERE token_hash = ${digest}`;
    },
    async closeSessionsOf(username) {
      await sql`DELETE FROM sessions WHERE username = ${username}`;
    },
    operator,
    async operators() {
      const rows = await sql<OperatorRow[]>`SELECT username, role, disabled, created_at, created_by FROM users ORDER BY username`;
      return rows.map(operatorOf);
    },
    async addOperator(o, hash) {
      const added = await sql`INSERT INTO users (username, password_hash, role, disabled, created_at, created_by)
        VALUES (${o.username}, ${hash}, ${o.role}, 0, ${o.createdAt ?? ''}, ${o.createdBy ?? ''}) ON CONFLICT (username) DO NOTHING`;
      return added.count === 1;
    },
    changeOperator(username, wanted) {
      return sql.begin(async (tx) => {
        // Every enabled admin's row is locked first: of two changes that would each leave the
        // other as the last admin, the second waits, then sees the first's change and is refused.
        await tx`SELECT username FROM users WHERE role = 'admin' AND disabled = 0 ORDER BY username FOR UPDATE`;
        const [row] = await tx<OperatorRow[]>`SELECT username, role, disabled, created_at, created_by FROM users
          WHERE username = ${username} FOR UPDATE`;
        if (!row) return { ok: false, reason: 'not-found' } as const;
        const current = operatorOf(row);
        const next = { role: wanted.role ?? current.role, disabled: wanted.disabled ?? current.disabled };
        const leavesAdmin = (next.role === 'admin' && !next.disabled) || current.role !== 'admin' || current.disabled;
        if (!leavesAdmin) {
          const [other] = await tx`SELECT 1 FROM users WHERE role = 'admin' AND disabled = 0 AND username <> ${username}`;
          if (!other) return { ok: false, reason: 'last-admin' } as const;
        }
        await tx`UPDATE users SET role = ${next.role}, disabled = ${next.disabled ? 1 : 0} WHERE username = ${username}`;
        return { ok: true, operator: { ...current, ...next } } as const;
      });
    },
    async addToken(t, digest) {
      await sql`INSERT INTO api_tokens (id, name, role, token_hash, created_by, created_at, expires_at)
        VALUES (${t.id}, ${t.name}, ${t.role}, ${digest}, ${t.createdBy}, ${t.createdAt}, ${t.expiresAt})`;
    },
    tokens: () => tokens('ORDER BY created_at DESC, id', []),
    async tokenByDigest(digest) {
      const [token] = await tokens('WHERE token_hash = $1', [digest]);
      return token;
    },
    async revokeToken(id, at) {
      const revoked = (await sql`UPDATE api_tokens SET revoked_at = ${at} WHERE id = ${id} AND revoked_at IS NULL`).count === 1;
      const [token] = await tokens('WHERE id = $1', [id]);
      return token && { token, revoked };
    },
    async touchToken(id, at, staleBefore) {
      await sql`UPDATE api_tokens SET last_used_at = ${at} WHERE id = ${id} AND (last_used_at IS NULL OR last_used_at < ${staleBefore})`;
    },
  };
}
