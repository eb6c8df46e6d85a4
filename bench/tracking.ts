/**
 * `npm run bench:tracking`: the open pixel and the click redirect under load while a
 * delivery is sending. Mailroom serves over real HTTP (one process: the app, the engine and
 * its SMTP thread, a SQLite file), sending 50,000 messages to a sink process at 1,000 a
 * second; autocannon, in a third process, fetches signed pixel and click URLs of those
 * recipients (half each) over 50 connections for 10 seconds.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serve } from '@hono/node-server';
import type { AddressInfo } from 'node:net';
import { createThreadedMessenger } from '../server/sending/threaded-messenger';
import { createKit, eventually, handOver, SAMPLE_DELIVERY } from '../server/test-kit';
import { couldNotRun, figure, machineLine, mustHold } from './machine';
import { startSink } from './sink';

const RECIPIENTS = 50_000;
const SECONDS = 10;

async function main() {
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-tracking-bench-'));
  const messenger = createThreadedMessenger({ url: `smtp://127.0.0.1:${sink.port}`, maxConnections: 5, maxMessagesPerConnection: 100_000 });
  const kit = await createKit({ file: join(dir, 'mailroom.db'), messenger, engine: { concurrency: 10, ratePerSecond: 1_000 } });
  const server = serve({ fetch: kit.app.fetch, port: 0, hostname: '127.0.0.1' });
  await new Promise((resolve) => server.once('listening', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  try {
    for (let i = 0; i < RECIPIENTS; i += 10_000) {
      await kit.services.audience.upsertMany(
        Array.from({ length: 10_000 }, (_, k) => ({ email: `reader.${i + k}@example.com`, firstName: `Reader${i + k}` })),
        'bench',
        new Date(),
      );
    }
    const { contentHash } = await handOver(kit, 'bench', SAMPLE_DELIVERY, { chunkSize: 1000 });
    await kit.request('/api/deliveries/bench/send', { json: { contentHash, scheduledAt: null } });
    await eventually(async () => ((await kit.services.deliveries.kpis('bench', new Date()))?.delivered ?? 0) > 2_000, 60_000);

    // Signed URLs of delivered recipients, as their messages carry them.
    const { signer, tracking } = kit.services;
    const journalIds = (
      await kit.sql<{ id: number }>("SELECT id FROM journal WHERE delivery_id = 'bench' AND status = 'sent' ORDER BY id LIMIT 2000")
    ).map((r) => r.id);
    const linkId = await tracking.linkId('bench', 'https://shop.example.com/sale?a=1&b=2');
    const paths = journalIds.flatMap((journalId) => [
      `/t/o/${signer.sign({ purpose: 'o', deliveryId: 'bench', journalId })}`,
      `/t/c/${signer.sign({ purpose: 'c', deliveryId: 'bench', journalId, linkId })}`,
    ]);

    const before = (await kit.services.deliveries.kpis('bench', new Date()))!.delivered;
    const load = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'load-process.ts'), url, String(SECONDS)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    let output = '';
    load.stdout!.on('data', (chunk) => (output += chunk));
    load.stdin!.end(paths.join('\n'));
    const code = await new Promise<number | null>((resolve) => load.once('exit', resolve));
    mustHold(code === 0, `the load generator exited with ${code}`);
    const result = JSON.parse(output) as {
      requests: { average: number; total: number };
      latency: { p50: number; p99: number; max: number };
      errors: number;
      non2xx: number;
      '3xx'?: number;
    };
    const after = (await kit.services.deliveries.kpis('bench', new Date()))!;
    // Errors or refusals mean the figures measure something else than tracking answered.
    const refused = result.non2xx - (result['3xx'] ?? 0);
    mustHold(result.requests.total > 0, 'the load generator made no request');
    mustHold(result.errors === 0 && refused === 0, `${result.errors} requests failed and ${refused} were answered other than 2xx or 3xx`);

    console.log(machineLine());
    console.log(
      `tracking: ${result.requests.total.toLocaleString('en-US')} requests (pixel and click, 50 connections) while the delivery sent ${(after.delivered - before).toLocaleString('en-US')} messages; errors ${result.errors}, non-2xx other than redirects ${result.non2xx - (result['3xx'] ?? 0)}`,
    );
    figure('tracking throughput', result.requests.average, 'requests/s', '≥ 5,000 requests/s while sending');
    figure('tracking latency p99', result.latency.p99, 'ms', '< 20 ms');
    figure('tracking latency p50', result.latency.p50, 'ms', 'as low as it goes');
  } finally {
    server.close();
    await kit.close();
    sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(couldNotRun);
