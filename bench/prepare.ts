/**
 * `npm run bench:prepare`: a preparation of 1,000,000 profiles in the app, in headless
 * Chromium: an audience of three conditions, the default typology (its pressure rule
 * counting five earlier deliveries of 300,000 messages each), a 10 KB HTML template with 6
 * personalization fields. Times Prepare (after the confirm) to the KPIs shown, and a
 * what-if (one rule switched off) to its figures; watches the page for long tasks (over
 * 50 ms) and samples the worker's JS heap (over the DevTools protocol) while preparing.
 */

import type { CDPSession, Page } from 'playwright-core';
import type { Db } from '../server/store/sqlite/database';
import { startBench } from './audience-server';
import { couldNotRun, figure, machineLine, mustHold } from './machine';

const PROFILES = Number(process.env.PROFILES ?? 1_000_000);

const block = `<tr><td style="padding:12px;font-family:Arial,sans-serif;font-size:15px;color:#333">
  Our autumn collection is in the shops{% if city %} of {{ city }}{% endif %}: coats, scarves and boots, hand-picked for you.
  <a href="https://shop.example.com/autumn?utm_source=mail">See the collection</a></td></tr>\n`;
let html = `<html><body><h1>Hello {{ first_name | default: "there" }} {{ last_name }},</h1><p>You have {{ loyalty_points }} points.</p><table>`;
while (html.length < 10_000) html += block;
html += `<p>Sent to {{ email }} ({{ locale }}). <a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>`;

/** Five deliveries in the last six days, each to 30% of the profiles: what the pressure rule counts. */
function seedSends(db: Db, random: () => number) {
  const insert = db.prepare('INSERT INTO sends (profile_id, delivery_id, at) VALUES (?, ?, ?)');
  db.transaction(() => {
    for (let d = 0; d < 5; d++) {
      const at = new Date(Date.now() - (d + 1) * 86_400_000).toISOString();
      for (let id = 1; id <= PROFILES; id++) if (random() < 0.3) insert.run(id, `earlier-${d}`, at);
    }
  })();
}

/** Returns a way to read the preparation worker's used JS heap, in bytes (0 when it cannot be read). */
async function workerHeapReader(page: Page): Promise<() => Promise<number>> {
  const cdp: CDPSession = await page.context().browser()!.newBrowserCDPSession();
  const { targetInfos } = await cdp.send('Target.getTargets');
  const worker = targetInfos.find((t) => t.type === 'worker');
  if (!worker) return async () => 0;
  const { sessionId } = await cdp.send('Target.attachToTarget', { targetId: worker.targetId, flatten: false });
  let next = 1;
  const waiting = new Map<number, (used: number) => void>();
  cdp.on('Target.receivedMessageFromTarget', (event) => {
    const reply = JSON.parse(event.message) as { id?: number; result?: { usedSize: number } };
    if (reply.id !== undefined) waiting.get(reply.id)?.(reply.result?.usedSize ?? 0);
  });
  return () =>
    new Promise((resolve) => {
      const id = next++;
      waiting.set(id, resolve);
      void cdp
        .send('Target.sendMessageToTarget', { sessionId, message: JSON.stringify({ id, method: 'Runtime.getHeapUsage' }) })
        .catch(() => resolve(0));
      setTimeout(() => resolve(0), 2_000);
    });
}

async function main() {
  const { page, close, db, random } = await startBench(PROFILES);
  seedSends(db, random);
  page.on('console', (m) => m.type() === 'error' && console.log('page:', m.text()));
  page.on('pageerror', (e) => console.log('page error:', e.message));
  try {
    await page.addInitScript(() => {
      const tasks: number[] = [];
      (globalThis as unknown as { longTasks: number[] }).longTasks = tasks;
      new PerformanceObserver((list) => list.getEntries().forEach((e) => tasks.push(e.duration))).observe({
        type: 'longtask',
        buffered: true,
      });
    });
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`${PROFILES.toLocaleString('en-US')} profiles`).waitFor({ timeout: 600_000 });
    // The contact history comes after the profiles; the pull is over when Sync now is enabled again.
    await page.getByRole('button', { name: 'Sync now' }).and(page.locator(':enabled')).waitFor({ timeout: 600_000 });

    await page.getByRole('button', { name: 'New delivery' }).click();
    await page.getByLabel('HTML body').fill(html);
    const include = page.getByRole('group', { name: 'Include', exact: true });
    const conditions: [string, string, string][] = [
      ['City', 'is one of', 'Gent, Utrecht, Leiden'],
      ['Loyalty points', 'is greater than', '1000'],
      ['Interests', 'has tag', 'shoes'],
    ];
    for (const [i, [field, operator, value]] of conditions.entries()) {
      await include.getByRole('button', { name: 'Add condition' }).click();
      await page.getByLabel(`Include, condition ${i + 1}: field`).selectOption({ label: field });
      await page.getByLabel(`Include, condition ${i + 1}: operator`).selectOption({ label: operator });
      await page.getByLabel(`Include, condition ${i + 1}: value`).fill(value);
    }
    await page.getByRole('status', { name: 'Live count' }).filter({ hasText: 'match' }).waitFor({ timeout: 120_000 });

    let peakHeap = 0;
    const heap = await workerHeapReader(page);
    const sample = async () => {
      peakHeap = Math.max(peakHeap, await heap());
    };
    await page.evaluate(() => ((globalThis as unknown as { longTasks: number[] }).longTasks.length = 0));
    await page.getByRole('button', { name: 'Prepare', exact: true }).click();
    const started = performance.now();
    await page.getByRole('dialog').getByRole('button', { name: 'Yes, prepare' }).click();
    const sampler = setInterval(() => void sample(), 100);
    await page.getByTestId('last-log').waitFor({ timeout: 600_000 });
    const seconds = (performance.now() - started) / 1000;
    clearInterval(sampler);
    await sample();
    const longTasks = await page.evaluate(() => (globalThis as unknown as { longTasks: number[] }).longTasks);
    const kpis = await page.getByRole('group', { name: 'To deliver', exact: true }).locator('output').textContent();
    mustHold(/\d/.test(kpis ?? ''), `the preparation shows no figure to deliver (${kpis})`);

    // What-if: switch one rule off and wait for the figures to change.
    const whatIf = page.getByRole('region', { name: 'What-if' });
    const toDeliverRow = whatIf.getByRole('row', { name: /^\s*To deliver/ });
    await toDeliverRow.filter({ hasText: 'same' }).waitFor({ timeout: 120_000 });
    const toggled = performance.now();
    await whatIf.getByRole('checkbox', { name: 'Unsubscribed' }).uncheck();
    await toDeliverRow.filter({ hasText: '+' }).waitFor({ timeout: 120_000 });
    const whatIfMs = performance.now() - toggled;

    console.log(machineLine());
    console.log(
      `preparation: ${PROFILES.toLocaleString('en-US')} profiles, 3 conditions, ${html.length} character template with 6 fields; to deliver ${kpis}`,
    );
    figure('prepare, Prepare to KPIs', seconds, 's', '≤ 2 s for 1,000,000 profiles');
    figure('what-if after switching one rule off', whatIfMs, 'ms', '≤ 200 ms');
    figure('main-thread long tasks during preparation', longTasks.length, 'tasks over 50 ms', '0');
    figure('longest main-thread task', Math.max(0, ...longTasks), 'ms', '≤ 50 ms');
    if (peakHeap) figure('worker peak JS heap (sampled every 100 ms)', peakHeap / 2 ** 20, 'MiB', 'stated');
    else console.log('worker peak JS heap: could not be read over the DevTools protocol');
  } finally {
    await close();
  }
}

main().catch(couldNotRun);
