/**
 * The measured part of `bench:send` (see send.ts, which starts it): the send engine over the
 * journal that send-setup.ts wrote, into the sink, in a process of its own, run from an
 * esbuild bundle as `npm start` runs the server (no compiler in memory). Prints the figures.
 *
 * Arguments (JSON, one): { benchDir, recipients, nodes, connections, db, file?, databaseUrl?, contentHash, htmlFile }.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { buildRawBytes } from '../server/sending/mime';
import { createThreadedMessenger } from '../server/sending/threaded-messenger';
import { createKit, eventually, type Kit } from '../server/test-kit';
import { couldNotRun, figure, machineLine, mustHold } from './machine';
import { composedMessage, processCpuSeconds } from './campaign';
import { plainPipelinedSend } from './plain-client';
import { startSink } from './sink';

interface RunArgs {
  /** The bench/ folder of the sources (this runs from a bundle in dist/bench). */
  benchDir: string;
  recipients: number;
  nodes: number;
  connections: number;
  db: 'sqlite' | 'postgres';
  file?: string;
  databaseUrl?: string;
  contentHash: string;
  /** The message's HTML, for the plain client's message of the same size. */
  htmlFile: string;
}

const { benchDir, recipients, nodes, connections, db, file, databaseUrl, contentHash, htmlFile } = JSON.parse(process.argv[2]) as RunArgs;

/** CPU seconds the PostgreSQL server's processes have used (user + system). */
function postgresCpu(): number {
  let seconds = 0;
  for (const pid of readdirSync('/proc').filter((name) => /^\d+$/.test(name))) {
    try {
      if (readFileSync(`/proc/${pid}/stat`, 'utf8').includes('(postgres)')) seconds += processCpuSeconds(pid);
    } catch {
      // The process ended meanwhile.
    }
  }
  return seconds;
}

async function main() {
  const sink = await startSink(benchDir);
  const kits: Kit[] = [];
  try {
    // Each node its share of the connections, and its own SMTP thread, as mailroom.ts gives it.
    const share = Math.max(1, Math.floor(connections / nodes));
    for (let n = 0; n < nodes; n++) {
      const messenger = createThreadedMessenger({
        url: `smtp://127.0.0.1:${sink.port}`,
        maxConnections: share,
        maxMessagesPerConnection: 100_000,
      });
      kits.push(
        await createKit({
          file,
          databaseUrl,
          messenger,
          // The scan every 500 ms as npm start has it (the kit's 20 ms suits tests).
          engine: { concurrency: share * 4, sweepEveryScan: nodes > 1, tickMs: 500 },
        }),
      );
    }
    const kit = kits[0];
    // The resident size, sampled while sending (the SMTP threads are in this process too).
    let peakWhileSending = process.memoryUsage.rss();
    const sampler = setInterval(() => (peakWhileSending = Math.max(peakWhileSending, process.memoryUsage.rss())), 100);
    const cpu = process.cpuUsage();
    const sinkCpu = sink.cpuSeconds();
    const pgCpu = db === 'postgres' ? postgresCpu() : 0;
    const started = performance.now();
    await kit.request('/api/deliveries/bench/send', { json: { contentHash, scheduledAt: null } });
    // Every node's engine looks for the delivery now that it sends (as their scans would within a tick).
    await Promise.all(kits.map((k) => k.services.engine.scan()));
    await eventually(async () => (await kit.services.deliveries.status('bench')) === 'completed', 4 * 3_600_000);
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    const peakOfProcess = process.resourceUsage().maxRSS * 1024; // maxRSS is in KiB
    const used = process.cpuUsage(cpu);
    const sinkUsed = sink.cpuSeconds() - sinkCpu;
    const pgUsed = db === 'postgres' ? postgresCpu() - pgCpu : 0;
    const received = await sink.count();
    mustHold(received === recipients, `the sink received ${received} messages, not ${recipients}`);
    const delivered = (await kit.services.deliveries.kpis('bench', new Date()))?.delivered;
    // The ceiling: the same count of messages of about the same size, through a plain client into the same sink.
    const html = readFileSync(htmlFile, 'utf8');
    const sample = buildRawBytes(composedMessage(0, html), new Date());
    const sinkBeforePlain = sink.cpuSeconds();
    const ceiling = await plainPipelinedSend(sink.port, sample, recipients, connections);
    const sinkUsedByPlain = sink.cpuSeconds() - sinkBeforePlain;
    mustHold((await sink.count()) === 2 * recipients, 'the sink did not receive every message of the plain client');
    mustHold(delivered === recipients, `the delivery counts ${delivered} delivered, not ${recipients}`);
    if (nodes > 1) {
      const senders = await kit.value<number>(
        "SELECT COUNT(DISTINCT claimed_by) FROM journal WHERE delivery_id = 'bench' AND status = 'sent'",
      );
      mustHold(Number(senders) >= 1, 'no node sent');
    }
    console.log(machineLine());
    const where = db === 'sqlite' ? 'journal in a SQLite file' : `journal in PostgreSQL, ${nodes} node${nodes === 1 ? '' : 's'}`;
    console.log(
      `send: ${recipients.toLocaleString('en-US')} recipients, ${html.length} character HTML with 3 fields, ${connections} connections, ${where}; the sink received ${received.toLocaleString('en-US')}`,
    );
    const goal =
      db === 'sqlite' ? '≥ 5,300 msg/s, twice listmonk' : nodes === 1 ? '≥ 2,600 msg/s' : 'stated: the cost of coordination on 2 cores';
    figure(`send throughput (${db}, ${nodes} node${nodes === 1 ? '' : 's'})`, recipients / seconds, 'msg/s', goal);
    figure(
      `ceiling: a plain pipelined client into the same sink (one ${Math.round(sample.length / 1024)} KB message built once, no journal)`,
      ceiling,
      'msg/s',
      'stated',
    );
    figure('Mailroom against the ceiling', (recipients / seconds / ceiling) * 100, '%', 'stated');
    figure(
      'CPU per message (Mailroom process, both threads, user + system)',
      (used.user + used.system) / 1000 / recipients,
      'ms',
      '≤ 0.2 ms',
    );
    figure('CPU per message (the sink, while Mailroom sends)', (sinkUsed * 1000) / recipients, 'ms', 'stated');
    figure('CPU per message (the sink, while the plain client sends)', (sinkUsedByPlain * 1000) / recipients, 'ms', 'stated');
    if (db === 'postgres') figure('CPU per message (PostgreSQL server processes)', (pgUsed * 1000) / recipients, 'ms', 'stated');
    figure('peak memory while sending (RSS, Mailroom process)', peakWhileSending / 2 ** 20, 'MiB', '≤ 200 MiB, whatever the count');
    figure('peak memory of the process from its start (RSS)', peakOfProcess / 2 ** 20, 'MiB', '≤ 200 MiB, whatever the count');
  } finally {
    for (const kit of kits) await kit.close();
    sink.stop();
  }
}

main().catch(couldNotRun);
