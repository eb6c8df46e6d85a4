/** Mailroom as a real process, started the way `npm start` starts it, for end-to-end tests. */

import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export interface ServerProcess {
  url: string;
  /** The server's process id (its memory can be read from /proc). */
  pid: number;
  /** The admin password as printed at first start. */
  password: string;
  mailboxUrl: string;
  dataDir: string;
  output(): string;
  /** SIGTERM, and wait for the process to end. */
  stop(): Promise<void>;
  /** SIGKILL (a crash: nothing is flushed or closed), and wait for the process to end. */
  kill(): Promise<void>;
}

const ROOT = resolve(import.meta.dirname, '../..');

export interface StartOptions {
  /**
   * A built server to run with node (`dist/server/main.js` as `npm start` runs it, or a copy
   * of it); the TypeScript source under tsx unless told.
   */
  built?: { main: string; cwd?: string };
}

/** Starts Mailroom with a fresh data directory and resolves once it has printed how to sign in. */
export async function startServer(
  env: Record<string, string> = {},
  dataDir = mkdtempSync(join(tmpdir(), 'mailroom-e2e-')),
  options: StartOptions = {},
): Promise<ServerProcess> {
  // Node itself (with tsx as a loader for the source, what `tsx server/main.ts` runs), so
  // that the process signalled is the server, not a wrapper around it.
  const args = options.built
    ? ['--max-semi-space-size=4', '--enable-source-maps', options.built.main]
    : ['--import', 'tsx', 'server/main.ts'];
  const child: ChildProcess = spawn(process.execPath, args, {
    cwd: options.built?.cwd ?? ROOT,
    env: { ...process.env, PORT: '0', MAILROOM_SINK_PORT: '0', MAILROOM_DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  await new Promise<void>((ready, fail) => {
    const timer = setTimeout(() => fail(new Error(`Mailroom did not start in time:\n${out}`)), 60_000);
    const check = () => {
      if (/Mailbox of the built-in SMTP sink|Sending through the relay/.test(out)) {
        clearTimeout(timer);
        ready();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => fail(new Error(`Mailroom exited with ${code}:\n${out}`)));
  });
  return {
    url: /Mailroom is running at (\S+)/.exec(out)![1],
    pid: child.pid!,
    password: /the password: (\S+)/.exec(out)?.[1] ?? env.MAILROOM_ADMIN_PASSWORD ?? '',
    mailboxUrl: /Mailbox of the built-in SMTP sink \([^)]*\): (\S+)/.exec(out)?.[1] ?? '',
    dataDir,
    output: () => out,
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
    async kill() {
      if (child.exitCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}

/** Removes a data directory made by `startServer`. */
export function removeDataDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}
