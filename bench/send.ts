/**
 * `npm run bench:send`: the send engine delivering 100,000 recipients — a ~9.5 KB HTML
 * message with 3 personalization fields, tracking and List-Unsubscribe included, journal
 * in a SQLite file — over 10 pooled SMTP connections to an smtp-server sink on loopback in
 * another process. Prints messages per second and the CPU time per message of the Mailroom
 * process.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createThreadedMessenger } from '../server/sending/threaded-messenger';
import { createKit, eventually, handOver, SAMPLE_DELIVERY } from '../server/test-kit';
import { couldNotRun, figure, machineLine, mustHold } from './machine';
import { startSink } from './sink';

const RECIPIENTS = Number(process.env.RECIPIENTS ?? 100_000);
const CONNECTIONS = 10;

const block = `<tr><td style="padding:12px;font-family:Arial,sans-serif;font-size:15px;color:#333">
  Our autumn collection is in the shops: coats, scarves and boots, hand-picked for you.
  <a href="https://shop.example.com/autumn?utm_source=mail">See the collection</a></td></tr>\n`;
let html = `<html><body><h1>Hello {{ first_name | default: "there" }} {{ last_name }},</h1><p>Shop in {{ city }}.</p><table>`;
while (html.length < 9_300) html += block;
html += `</table><p><a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`;

async function main() {
  const sink = await startSink();
  const dir = mkdtempSync(join(tmpdir(), 'mailroom-send-bench-'));
  const messenger = createThreadedMessenger({
    url: `smtp://127.0.0.1:${sink.port}`,
    maxConnections: CONNECTIONS,
    maxMessagesPerConnection: 100_000,
  });
  const kit = await createKit({ file: join(dir, 'mailroom.db'), messenger, engine: { concurrency: CONNECTIONS * 4 } });
  try {
    kit.services.audience.declareAttribute({ name: 'city', label: 'City', type: 'text' });
    for (let i = 0; i < RECIPIENTS; i += 10_000) {
      kit.services.audience.upsertMany(
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
    const started = performance.now();
    await kit.request('/api/deliveries/bench/send', { json: { contentHash, scheduledAt: null } });
    await eventually(() => kit.services.deliveries.status('bench') === 'completed', 3_600_000);
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    const received = await sink.count();
    mustHold(received === RECIPIENTS, `the sink received ${received} messages, not ${RECIPIENTS}`);
    const delivered = kit.services.deliveries.kpis('bench', new Date())?.delivered;
    mustHold(delivered === RECIPIENTS, `the delivery counts ${delivered} delivered, not ${RECIPIENTS}`);
    console.log(machineLine());
    console.log(
      `send: ${RECIPIENTS.toLocaleString('en-US')} recipients, ${html.length} character HTML with 3 fields, ${CONNECTIONS} connections; the sink received ${received.toLocaleString('en-US')}`,
    );
    figure('send throughput', RECIPIENTS / seconds, 'msg/s', '≥ 3,000 msg/s');
    figure('CPU per message (Mailroom process, user + system)', (used.user + used.system) / 1000 / RECIPIENTS, 'ms', 'as low as it goes');
  } finally {
    await kit.close();
    sink.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(couldNotRun);
