/** Operators' hashes and sessions in PostgreSQL (see ../operators.ts). */

import type { OperatorStore } from '../operators';
import type { Pg } from './database';

export function postgresOperatorStore(sql: Pg): OperatorStore {
  return {
    async passwordHash(username) {
      const [row] = await sql<{ password_hash: string }[]>`SELECT password_hash FROM users WHERE username = ${username}`;
      return row?.password_hash;
    },
    async addPasswordHash(username, hash) {
      const added = await sql`INSERT INTO users (username, password_hash) VALUES (${username}, ${hash}) ON CONFLICT (username) DO NOTHING`;
      return added.count === 1;
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
      const [row] = await sql<{ username: string }[]>`SELECT username FROM sessions WHERE token_hash = ${digest} AND expires_at > ${now}`;
      return row?.username;
    },
    async closeSession(digest) {
      await sql`DELETE FROM sessions WHERE token_hash = ${digest}`;
    },
  };
}
