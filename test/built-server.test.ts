/**
 * Mailroom as production runs it: built once (scripts/build.mjs bundles the server into
 * dist/server/, as `npm run build` and `npm start` do), then run by plain node from a copy of
 * dist/ whose node_modules has no tsx — so nothing can compile TypeScript at run time. The
 * built import command fills a fresh data directory, the built server starts on it and sends
 * a delivery through its SMTP thread (dist/server/smtp-worker.js) to a relay that counts.
 */

import { execFile, execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventually } from '../server/test-kit';
import { prepareAndSend, signIn } from './support/api';
import { startFaultRelay, type FaultRelay } from './support/relay';
import { removeDataDir, startServer } from './support/server';

const ROOT = resolve(import.meta.dirname, '..');
const PASSWORD = 'built-server-password';
/** A production-like install: package.json, dist/, and node_modules without tsx. */
const prod = mkdtempSync(join(tmpdir(), 'mailroom-built-'));
const dataDir = join(prod, 'data');
let relay: FaultRelay;

/** Runs a built command of the copy; returns its exit code and what it printed. */
const node = (script: string, args: string[], env: Record<string, string> = {}) =>
  promisify(execFile)(process.execPath, [join(prod, 'dist/server', script), ...args], {
    cwd: prod,
    env: { ...process.env, MAILROOM_DATA_DIR: dataDir, ...env },
  }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (failure: { code: number; stdout: string; stderr: string }) => ({ code: failure.code, stdout: failure.stdout, stderr: failure.stderr }),
  );

beforeAll(async () => {
  // A no-op when `npm test` (or `npm run build`) has just built it.
  execFileSync(process.execPath, ['scripts/build.mjs', '--server', '--if-needed'], { cwd: ROOT, stdio: 'inherit' });
  cpSync(join(ROOT, 'dist'), join(prod, 'dist'), { recursive: true });
  cpSync(join(ROOT, 'package.json'), join(prod, 'package.json'));
  mkdirSync(join(prod, 'node_modules'));
  for (const name of readdirSync(join(ROOT, 'node_modules'))) {
    if (name === 'tsx' || name.startsWith('.')) continue;
    symlinkSync(join(ROOT, 'node_modules', name), join(prod, 'node_modules', name));
  }
  relay = await startFaultRelay();
});

afterAll(async () => {
  await relay?.stop();
  rmSync(prod, { recursive: true, force: true });
});

describe('the built server', () => {
  it('holds the server, the SMTP thread and the import command, and none of them loads tsx', () => {
    expect(readdirSync(join(prod, 'dist/server')).filter((f) => f.endsWith('.js'))).toEqual(['import-cli.js', 'main.js', 'smtp-worker.js']);
    expect(existsSync(join(prod, 'node_modules/tsx'))).toBe(false);
  });

  it('prints its usage for --help, and exits 2 on an unknown flag without creating a database', async () => {
    const help = await node('main.js', ['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm start/);
    expect(help.stdout).toContain('3  the data directory or its database cannot be opened');
    const wrong = await node('main.js', ['--seed-demo']);
    expect(wrong.code).toBe(2);
    expect(wrong.stderr).toMatch(/^Unknown option --seed-demo\.\n\nUsage: npm start/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('imports with the built import command, then starts and sends a delivery through its SMTP thread', async () => {
    const file = join(prod, 'audience.csv');
    writeFileSync(file, 'email,first_name,city\nanna@example.com,Anna,Gent\nbert@example.com,Bert,Gent\ncleo@example.com,Cleo,Utrecht\n');
    const imported = await node('import-cli.js', [file]);
    expect(imported).toMatchObject({ code: 0, stdout: expect.stringMatching(/3 rows, 3 new, 0 updated, 0 rejected\./) });

    const server = await startServer(
      { SMTP_URL: `smtp://127.0.0.1:${relay.port}`, MAILROOM_ADMIN_PASSWORD: PASSWORD, MAILROOM_APP_DIR: join(ROOT, 'build') },
      dataDir,
      { built: { main: join(prod, 'dist/server/main.js'), cwd: prod } },
    );
    try {
      expect(await (await fetch(`${server.url}/readyz`)).json()).toEqual({ status: 'ready', database: 'ok', engine: 'running' });
      const api = await signIn(server.url, PASSWORD);
      const recipients = await prepareAndSend(api, 'built', 'Gent');
      expect(recipients.map((r) => r.email).sort()).toEqual(['anna@example.com', 'bert@example.com']);
      await eventually(async () => (await api<{ delivered: number }>('/api/deliveries/built')).delivered === 2, 30_000);
      expect(Object.fromEntries(relay.received)).toEqual({ 'anna@example.com': 1, 'bert@example.com': 1 });
      const metrics = await (await fetch(`${server.url}/metrics`)).text();
      expect(metrics).toContain('mailroom_messages_total{outcome="sent"} 2\n');
      // The log is JSON lines beside the plain start banner.
      expect(server.output()).toMatch(/^\{"level":"info",.*"event":"delivery-completed","deliveryId":"built".*\}$/m);
    } finally {
      await server.stop();
    }
    expect(server.output()).toMatch(/"msg":"Mailroom stopped\."/);
    removeDataDir(dataDir);
  });
});
