/**
 * The delivery page's journey, end to end: the real server process with its built-in SMTP
 * sink, the built app in Debian's Chromium (a Dutch marketer's browser: en-GB, Amsterdam
 * time), real IndexedDB. Scheduling as one visible step (Schedule, Scheduled for …,
 * Unschedule), a past time refused before anything is queued, a failed preparation that
 * still counts its target and says why, banners that go with their state, a Send cancelled
 * while it waits offline, a Stop confirm that follows the live figures, and an audience
 * summary that reads as a sentence and ignores a condition not filled in yet.
 */

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { goOffline, launchBrowser, type TestBrowser, codeText, fillCode } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

const LOCALE = 'en-GB';
const TIME_ZONE = 'Europe/Amsterdam';

let server: ServerProcess;
let chromium: TestBrowser;
let context: BrowserContext;
let page: Page;
let db: Database.Database;

beforeAll(async () => {
  // Slow enough that a Stop confirm stays open while messages go out.
  server = await startServer({ MAILROOM_SEND_RATE: '60' });
  db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
  chromium = await launchBrowser();
  context = await chromium.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: LOCALE, timezoneId: TIME_ZONE });
  page = await context.newPage();
});

afterEach(async (test) => {
  if (test.task.result?.state === 'fail' && page) {
    const file = join(tmpdir(), `mailroom-flow-${test.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    console.error(`screenshot of the failed step: ${file}`);
  }
});

afterAll(async () => {
  await chromium?.close();
  db?.close();
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
});

const kpi = (name: string) => page.getByRole('group', { name, exact: true }).locator('output');
const number = async (name: string) => Number((await kpi(name).textContent())!.replace(/,/g, ''));
const button = (name: string) => page.getByRole('button', { name, exact: true });
const confirm = (name: string) => page.getByRole('dialog').getByRole('button', { name, exact: true });
const status = () => page.getByTestId('delivery-status').textContent();
const serverStatus = (id: string) =>
  (db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck().get(id) as string | undefined) ?? null;
const journal = (id: string, state: string) =>
  db.prepare('SELECT COUNT(*) FROM journal WHERE delivery_id = ? AND status = ?').pluck().get(id, state) as number;
const deliveryId = () => page.url().split('/').pop()!;

/** The moment as the page should write it: "Tue 1 Dec at 19:04" in en-GB, Amsterdam time (an oracle apart from the app's code). */
function expectedWhen(at: Date): string {
  const part = (options: Intl.DateTimeFormatOptions) => new Intl.DateTimeFormat(LOCALE, { timeZone: TIME_ZONE, ...options }).format(at);
  const year = (d: Date) => new Intl.DateTimeFormat(LOCALE, { timeZone: TIME_ZONE, year: 'numeric' }).format(d);
  const sameYear = year(at) === year(new Date());
  return `${part({ weekday: 'short', day: 'numeric', month: 'short', ...(sameYear ? {} : { year: 'numeric' }) })} at ${part({ hour: 'numeric', minute: '2-digit' })}`;
}

/** Fills Send at with a moment, as the browser's datetime-local input takes it (its own time zone). */
async function setSendAt(at: Date | null) {
  const local =
    at === null
      ? ''
      : await page.evaluate((ms) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 19), at.getTime());
  await page.getByLabel(/^Send at/).fill(local);
}

async function prepare(expected = 'Prepared') {
  await button('Prepare').click();
  await confirm('Yes, prepare').click();
  await expect.poll(status, { timeout: 30_000 }).toBe(expected);
}

async function newDelivery(name: string) {
  await page.goto(server.url);
  await button('New delivery').click();
  await page.waitForURL(/\/deliveries\//);
  await page.getByLabel('Name', { exact: true }).fill(name);
}

// The app's IndexedDB, read and written in the page. (Functions, not strings: the app's
// Content-Security-Policy forbids evaluating strings in the page.)

/** Returns how many items wait in the app's outbox. */
const outboxCount = () =>
  page.evaluate(async () => {
    const idb = await new Promise<IDBDatabase>(
      (done) => (indexedDB.open('mailroom').onsuccess = (e) => done((e.target as IDBOpenDBRequest).result)),
    );
    try {
      return await new Promise<number>(
        (done) =>
          (idb.transaction('outbox').objectStore('outbox').count().onsuccess = (e) => done((e.target as IDBRequest<number>).result)),
      );
    } finally {
      idb.close();
    }
  });

/**
 * Gives the local replica 1,000,000 more profiles (outside any audience) so a preparation is
 * still scanning when Stop is clicked; `remove` takes them out again. Written in the
 * replica's stored block format (replica-blocks.ts).
 */
const filler = (remove: boolean) =>
  page.evaluate(async (remove) => {
    const idb = await new Promise<IDBDatabase>(
      (done) => (indexedDB.open('mailroom').onsuccess = (e) => done((e.target as IDBOpenDBRequest).result)),
    );
    try {
      const tx = idb.transaction('blocks', 'readwrite');
      const store = tx.objectStore('blocks');
      if (remove) store.delete(IDBKeyRange.lowerBound(Math.floor(10_000_001 / 8192)));
      else
        for (let start = 10_000_001; start <= 11_000_000; start += 8192) {
          const ids: number[] = [];
          for (let id = start; id < start + 8192 && id <= 11_000_000; id++) ids.push(id);
          const column = (value: string) => ids.map(() => value).join('\u001f');
          store.put({
            n: Math.floor(start / 8192),
            ids: Float64Array.from(ids),
            text: {
              email: ids.map((id) => `filler${id}@example.com`).join('\u001f'),
              firstName: column('F'),
              lastName: column('F'),
              locale: column('en'),
              timeZone: column(''),
              statusChangedAt: column('\u0000'),
              statusSource: column('\u0000'),
              createdAt: column(''),
              updatedAt: column(''),
            },
            flags: new Uint8Array(ids.length),
            attributes: { city: { t: 's', v: column('Nowhere') } },
          });
        }
      await new Promise((done) => (tx.oncomplete = done));
    } finally {
      idb.close();
    }
  }, remove);

describe('the delivery page, from a first campaign to its send', () => {
  const points = "CAST(json_extract(attributes, '$.loyalty_points') AS INTEGER)";
  const target = () =>
    db
      .prepare(`SELECT COUNT(*) FROM profiles WHERE ${points} > 500 AND lower(json_extract(attributes, '$.city')) IN ('utrecht', 'gent')`)
      .pluck()
      .get() as number;

  it('signs in and pulls the audience', async () => {
    await page.goto(server.url);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(server.password);
    await button('Sign in').click();
    await page.getByText('10,000 profiles').waitFor({ timeout: 30_000 });
  });

  it('a new condition constrains nothing until it is filled in; the summary reads with labels and typed values', async () => {
    await newDelivery('Loyal in Utrecht and Gent');
    const summary = page.getByTestId('audience-summary');
    const liveCount = page.getByRole('status', { name: 'Live count' });
    await page.getByRole('group', { name: 'Include', exact: true }).getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'Loyalty points' });
    await page.getByLabel('Include, condition 1: operator').selectOption({ label: 'is greater than' });
    await expect.poll(() => summary.textContent()).toBe('Everyone (an incomplete condition ignored)');
    await expect.poll(() => liveCount.textContent()).toBe('10,000 profiles in the local audience match');
    expect(await button('Prepare').isDisabled()).toBe(true);
    await page.getByText('Not filled in yet: left out until it is.').waitFor();

    await page.getByLabel('Include, condition 1: value').fill('500');
    await page.getByRole('group', { name: 'Include', exact: true }).getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 2: field').selectOption({ label: 'City' });
    await page.getByLabel('Include, condition 2: operator').selectOption({ label: 'is one of' });
    await page.getByLabel('Include, condition 2: value').fill('Utrecht, Gent');
    await expect.poll(() => summary.textContent()).toBe('Loyalty points is greater than 500 and City is one of "Utrecht" or "Gent"');
    await expect.poll(() => liveCount.textContent()).toBe(`${target().toLocaleString('en-US')} profiles in the local audience match`);
    expect(await button('Prepare').isDisabled()).toBe(false);
  });

  it('the toolbar keeps its place whatever the name, and the name stays on one line', async () => {
    const toolbar = page.getByRole('toolbar', { name: 'Delivery actions' });
    // Where it is on the page, not in the window: filling the Name may scroll the page to it.
    const place = async () => {
      const box = (await toolbar.boundingBox())!;
      return { ...box, y: box.y + (await page.evaluate(() => window.scrollY)) };
    };
    const before = await place();
    const heading = page.getByRole('heading', { level: 1 });
    const oneLine = (await heading.boundingBox())!.height;
    await page.getByLabel('Name', { exact: true }).fill(`Loyal in Utrecht and Gent: ${'the whole autumn collection, '.repeat(5)}`);
    await expect.poll(async () => (await heading.textContent())!.length).toBeGreaterThan(150);
    expect(await place()).toEqual(before);
    expect((await heading.boundingBox())!.height).toBe(oneLine);
    await page.getByLabel('Name', { exact: true }).fill('Loyal in Utrecht and Gent');
  });

  it('a failed preparation counts the target and says in the KPI area why and where it failed', async () => {
    const html = await codeText(page, 'HTML body');
    await fillCode(page, 'HTML body', html.replace('{{ city }}', '{{ city '));
    await prepare('Preparation failed');
    await expect.poll(() => number('Targeted')).toBe(target());
    expect(await kpi('To deliver').textContent()).toBe('—');
    expect(await kpi('Excluded').textContent()).toBe('—');
    const why = page.getByRole('region', { name: 'Preparation' }).getByRole('alert');
    expect(await why.textContent()).toMatch(
      /^\s*Preparation failed: Template error in the HTML body at line 5, column \d+: "\{\{" is not closed/,
    );
    await fillCode(page, 'HTML body', html);
    await prepare();
    expect(await number('Targeted')).toBe(target());
    expect(await page.getByRole('region', { name: 'Preparation' }).getByRole('alert').count()).toBe(0);
  });

  it('the what-if table stays inside its card', async () => {
    const card = (await page.getByRole('region', { name: 'Preparation' }).boundingBox())!;
    const table = (await page.getByRole('table', { name: 'What-if figures' }).boundingBox())!;
    expect(table.x).toBeGreaterThanOrEqual(card.x);
    expect(table.x + table.width).toBeLessThanOrEqual(card.x + card.width);
  });

  it('with a Send at, Schedule is the step: it confirms the count and the time, and the server then holds it as scheduled', async () => {
    const id = deliveryId();
    // The time left is rounded up to the minute: 2 h 4 min 30 s ahead reads "in 2 h 5 min" for half a minute.
    const at = new Date(Date.now() + (2 * 60 + 4) * 60_000 + 30_000);
    await setSendAt(at);
    await page.getByText('prepare it again before sending').waitFor();
    await prepare();
    const toDeliver = await number('To deliver');
    expect(await button('Send').count()).toBe(0);
    expect(await button('Schedule').isEnabled()).toBe(true);
    expect(serverStatus(id)).toBeNull();
    await page
      .getByText(new RegExp(`^Prepared for ${expectedWhen(at)} \\(in 2 h [45] min\\)\\. Nothing is sent until you click Schedule`))
      .waitFor();

    await button('Schedule').click();
    const dialog = page.getByRole('dialog', { name: 'Schedule this delivery?' });
    expect(await dialog.getByRole('paragraph').textContent()).toBe(
      `Send to ${toDeliver.toLocaleString('en-US')} recipients on ${expectedWhen(at)}.`,
    );
    await confirm('Yes, schedule').click();
    await expect.poll(() => serverStatus(id)).toBe('scheduled');
    await expect.poll(status).toBe('Scheduled');
    expect(await page.getByTestId('schedule').textContent()).toMatch(new RegExp(`^Scheduled for ${expectedWhen(at)} — in 2 h [45] min$`));
    expect(journal(id, 'queued')).toBe(toDeliver);
  });

  it('Unschedule takes it back to Prepared, its journal rows kept; it can be scheduled again', async () => {
    const id = deliveryId();
    const toDeliver = await number('To deliver');
    await button('Unschedule').click();
    await expect.poll(status).toBe('Prepared');
    expect(serverStatus(id)).toBe('prepared');
    expect(journal(id, 'queued')).toBe(toDeliver);
    await page.getByText('Unscheduled: nothing will be sent until you send or schedule it again.').waitFor();
    expect(await page.getByTestId('schedule').count()).toBe(0);

    await button('Schedule').click();
    await confirm('Yes, schedule').click();
    await expect.poll(() => serverStatus(id)).toBe('scheduled');
    await expect.poll(status).toBe('Scheduled');
    await button('Unschedule').click();
    await expect.poll(status).toBe('Prepared');
    expect(serverStatus(id)).toBe('prepared');
  });

  it('a Send at that has passed is refused in the app before anything is queued; the refusal goes with the next edit', async () => {
    await newDelivery('Too late');
    const id = deliveryId();
    const at = new Date(Date.now() + 15_000);
    await setSendAt(at);
    await prepare();
    // The time left counts down while the page is open.
    const banner = page.getByText(/^Prepared for .* \(in \d+ s\)/);
    const first = await banner.textContent();
    await expect.poll(() => banner.textContent(), { timeout: 10_000 }).not.toBe(first);
    await button('Schedule').click();
    await page.getByRole('dialog', { name: 'Schedule this delivery?' }).waitFor();
    await expect.poll(() => Date.now(), { timeout: 30_000 }).toBeGreaterThan(at.getTime() + 1_000);
    await confirm('Yes, schedule').click();
    const refusal = page.getByText(`Not scheduled: its time, ${expectedWhen(at)}, has passed.`, { exact: false });
    await refusal.waitFor();
    expect(await outboxCount()).toBe(0);
    expect(serverStatus(id)).toBeNull();
    expect(await button('Schedule').isDisabled()).toBe(true);
    await page.getByText(`Send at, ${expectedWhen(at)}, has passed`).waitFor();

    // A change of the delivery takes the refusal away, and the last preparation's log line with it.
    await setSendAt(null);
    await page.getByText('prepare it again before sending').waitFor();
    expect(await refusal.count()).toBe(0);
    expect(await page.getByTestId('last-log').count()).toBe(0);
    await prepare();
    // The status and the buttons follow the same record, a frame apart on a busy machine.
    await expect.poll(() => button('Send').isEnabled()).toBe(true);
  });

  it('"Preparation stopped" goes once the delivery is edited', async () => {
    await page.getByRole('group', { name: 'Include', exact: true }).getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'City' });
    await page.getByLabel('Include, condition 1: value').fill('Leiden');
    await filler(false);
    const stopped = page.getByText('Preparation stopped; the delivery is as it was.');
    try {
      await button('Prepare').click();
      await confirm('Yes, prepare').click();
      await page.getByRole('progressbar', { name: 'Preparation progress' }).waitFor();
      await button('Stop preparation').click({ force: true });
      await stopped.waitFor();
    } finally {
      await filler(true); // the later steps count the real audience
    }
    await fillCode(page, 'Subject', 'Leiden, this autumn');
    await expect.poll(() => stopped.count()).toBe(0);
  });

  it('offline, Send says it will go when back online, and Cancel send takes it back before it reaches the server', async () => {
    await page.goto(server.url);
    await goOffline(page);
    await page.getByText('Offline — working from the local copy').waitFor();
    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    const id = deliveryId();
    await page.getByLabel('Name', { exact: true }).fill('Cancelled offline');
    await prepare();
    const toDeliver = await number('To deliver');
    await button('Send').click();
    const dialog = page.getByRole('dialog', { name: 'Send this delivery?' });
    const text = (await dialog.getByRole('paragraph').textContent())!;
    expect(text).toBe(
      `You are offline: the messages to ${toDeliver.toLocaleString('en-US')} recipients will be sent when the device is back online. Until then you can cancel the send.`,
    );
    expect(text).not.toMatch(/\bnow\b/);
    await confirm('Yes, send').click();
    await expect.poll(status).toBe('Waiting to send');
    await page.getByText('You are offline: the delivery will be sent when the device is back online').waitFor();
    expect(await outboxCount()).toBe(1);

    await button('Cancel send').click();
    await expect.poll(status).toBe('Prepared');
    await page.getByText('Send cancelled before it reached the server: nothing was sent.').waitFor();
    expect(await outboxCount()).toBe(0);
    expect(await button('Send').isEnabled()).toBe(true);
    // Back online, there is nothing left to hand over.
    await context.setOffline(false);
    await expect.poll(() => page.getByText('Offline — working from the local copy').count()).toBe(0);
    expect(await outboxCount()).toBe(0);
    expect(serverStatus(id)).toBeNull();
  });

  it("Stop: the confirm's count follows the live figures while it is open; then disabled buttons look disabled", async () => {
    await newDelivery('Stopped half-way');
    await page.getByRole('group', { name: 'Include', exact: true }).getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'City' });
    await page.getByLabel('Include, condition 1: value').fill('Utrecht');
    await prepare();
    const id = deliveryId();
    await button('Send').click();
    await confirm('Yes, send').click();
    await expect.poll(status, { timeout: 30_000 }).toBe('Sending');
    await expect.poll(() => number('Delivered'), { timeout: 30_000 }).toBeGreaterThan(0);

    const danger = await button('Stop').evaluate((b) => getComputedStyle(b).backgroundColor);
    await button('Stop').click();
    const dialog = page.getByRole('dialog', { name: 'Stop this delivery for good?' });
    const figure = async () => Number(/: ([\d,]+) now/.exec((await dialog.getByRole('paragraph').textContent())!)![1].replace(/,/g, ''));
    const opened = await figure();
    expect(opened).toBeGreaterThan(0);
    await expect.poll(figure, { timeout: 20_000 }).toBeLessThan(opened);
    const shown = await figure();
    await confirm('Yes, stop').click();
    await expect.poll(status).toBe('Stopped');
    // Messages in flight at the click end sent or cancelled; then what Stop cancelled is at most
    // what the dialog showed at the click.
    await expect.poll(() => journal(id, 'queued') + journal(id, 'retrying') + journal(id, 'sending')).toBe(0);
    const cancelled = journal(id, 'cancelled');
    expect(cancelled).toBeGreaterThan(0);
    expect(cancelled).toBeLessThanOrEqual(shown);
    await page.getByText(`${cancelled.toLocaleString('en-US')} messages were cancelled by Stop.`).waitFor();

    // Disabled, the danger button no longer looks like one.
    expect(danger).toBe('rgb(180, 35, 24)');
    expect(await button('Stop').isDisabled()).toBe(true);
    expect(await button('Stop').evaluate((b) => getComputedStyle(b).backgroundColor)).not.toBe(danger);
    const style = (name: string) => button(name).evaluate((b) => getComputedStyle(b).backgroundColor);
    expect(await style('Stop')).toBe(await style('Pause'));
    expect(await style('Send')).toBe(await style('Pause'));
  });
});
