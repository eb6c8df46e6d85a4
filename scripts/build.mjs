/**
 * Builds Mailroom for production, so that nothing is compiled at run time:
 *
 *   node scripts/build.mjs                 the app (vite build → build/) and the server
 *   node scripts/build.mjs --server        the server only
 *   node scripts/build.mjs --if-needed     each only when it is missing or older than its sources
 *
 * The server is bundled by esbuild into dist/server/: main.js (the server), smtp-worker.js
 * (the SMTP thread, which main.js loads from beside itself) and import-cli.js (`npm run
 * import`). Mailroom's own code (server/ and shared/) is bundled; packages stay imports of
 * node_modules. Source maps point stack traces at the TypeScript (`node --enable-source-maps`).
 */

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '..');
const args = process.argv.slice(2);
const unknown = args.find((arg) => !['--server', '--if-needed'].includes(arg));
if (unknown) {
  console.error(`Unknown option ${unknown}. Usage: node scripts/build.mjs [--server] [--if-needed]`);
  process.exit(2);
}
const serverOnly = args.includes('--server');
const ifNeeded = args.includes('--if-needed');

const SERVER_OUT = join(ROOT, 'dist/server');
const ENTRIES = { main: 'server/main.ts', 'smtp-worker': 'server/sending/smtp-worker.ts', 'import-cli': 'server/import-cli.ts' };

/** Returns the newest modification time (ms) of the files under `paths` that `keep` accepts; 0 for none. */
function newest(paths, keep = () => true) {
  let latest = 0;
  const visit = (path) => {
    if (!existsSync(path)) return;
    const stat = statSync(path);
    if (stat.isDirectory()) for (const name of readdirSync(path)) visit(join(path, name));
    else if (keep(path)) latest = Math.max(latest, stat.mtimeMs);
  };
  for (const path of paths) visit(join(ROOT, path));
  return latest;
}

/** Returns the oldest modification time (ms) of `files`, or 0 when one is missing. */
function oldest(files) {
  return files.every((file) => existsSync(file)) ? Math.min(...files.map((file) => statSync(file).mtimeMs)) : 0;
}

const notATest = (path) => !/\.test\.ts$|test-kit\.ts$/.test(path);

function appIsStale() {
  const sources = newest(
    ['app', 'shared', 'static', 'messages', 'vite.config.ts', 'svelte.config.js', 'package.json'],
    (path) => notATest(path) && !path.includes('/paraglide/'),
  );
  return oldest([join(ROOT, 'build/index.html')]) < sources;
}

function serverIsStale() {
  const sources = newest(['server', 'shared', 'package.json', 'scripts/build.mjs'], notATest);
  return oldest(Object.keys(ENTRIES).map((name) => join(SERVER_OUT, `${name}.js`))) < sources;
}

if (!serverOnly && (!ifNeeded || appIsStale())) {
  console.error('Building the app (vite build → build/)');
  const vite = spawnSync(process.execPath, [join(ROOT, 'node_modules/vite/bin/vite.js'), 'build'], { cwd: ROOT, stdio: 'inherit' });
  if (vite.status !== 0) process.exit(vite.status ?? 1);
}

if (!ifNeeded || serverIsStale()) {
  console.error('Building the server (esbuild → dist/server/)');
  await build({
    absWorkingDir: ROOT,
    entryPoints: ENTRIES,
    outdir: SERVER_OUT,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20.19',
    packages: 'external',
    sourcemap: true,
    logLevel: 'warning',
  });
}
