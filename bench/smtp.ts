/**
 * `npm run bench:smtp`: the SMTP side of sending alone — the pool (smtp-pool.ts: MIME bytes,
 * nodemailer's conversation, DATA) on this thread, sending 40,000 composed messages of
 * bench:send's size over 10 connections into the same sink process. No rendering, tracking
 * or journal: the figure is what the SMTP thread spends per message, to compare changes to
 * it without the noise of the whole engine.
 */

import { htmlToText } from '../shared/message';
import { createPooledMessenger } from '../server/sending/smtp-pool';
import { campaignHtml, composedMessage } from './campaign';
import { couldNotRun, figure, machineLine, mustHold } from './machine';
import { startSink } from './sink';

const MESSAGES = 40_000;
const CONNECTIONS = 10;

// As the engine composes it: values in, links tracked.
const html = campaignHtml({
  greeting: 'Reader1 Family1',
  city: 'Gent',
  link: 'https://mail.example.com/t/c/Yy5iZW5jaC4xMjM0NS4x.q7bH2nYf0cX1Kp9Lm3Zt4w',
  unsubscribe: 'https://mail.example.com/u/dS5iZW5jaC4xMjM0NS4.x9Lm3Zt4wq7bH2nYf0cX1K',
});
const text = htmlToText(html);

async function main() {
  const sink = await startSink();
  const pool = createPooledMessenger({
    url: `smtp://127.0.0.1:${sink.port}`,
    maxConnections: CONNECTIONS,
    maxMessagesPerConnection: 100_000,
  });
  try {
    let next = 0;
    const cpu = process.cpuUsage();
    const started = performance.now();
    // As the engine keeps its window full: four messages in flight per connection.
    await Promise.all(
      Array.from({ length: CONNECTIONS * 4 }, async () => {
        while (next < MESSAGES) {
          const outcome = await pool.send(composedMessage(next++, html, text));
          mustHold(outcome.kind === 'sent', `a message was not accepted: ${outcome.reply}`);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(cpu);
    mustHold((await sink.count()) === MESSAGES, 'the sink did not receive every message');
    console.log(machineLine());
    console.log(
      `smtp: ${MESSAGES.toLocaleString('en-US')} messages of ${html.length} characters of HTML, ${CONNECTIONS} connections, the pool on one thread`,
    );
    figure('SMTP side throughput', MESSAGES / seconds, 'msg/s', 'stated');
    figure('CPU per message (the SMTP side, user + system)', (used.user + used.system) / MESSAGES, 'µs', 'as low as it goes');
  } finally {
    await pool.close();
    sink.stop();
  }
}

main().catch(couldNotRun);
