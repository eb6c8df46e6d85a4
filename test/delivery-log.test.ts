/**
 * The delivery log, end to end: the real server process with its built-in SMTP sink, the
 * built app in Debian's Chromium, real IndexedDB. The rows the log shows follow the live
 * figures while the delivery sends, without the filter being touched; and "excluded" lists
 * every profile the preparation excluded, each with the rule that excluded it, as the
 * server's own database says they should be. Then, once some recipients have opened it,
 * "Resend to non-openers" makes a draft whose audience — read from the replica's engagement —
 * is exactly those who received it and did not open it, and sends it to them alone.
 */

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { simpleParser } from 'mailparser';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

let server: ServerProcess;
let chromium: TestBrowser;
let page: Page;
let db: Database.Database;

beforeAll(async () => {
  // Slow enough that the log is read while most messages still wait.
  server = await startServer({ MAILROOM_SEND_RATE: '15' });
  db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
  chromium = await launchBrowser();
  const context = await chromium.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'en-GB' });
  page = await context.newPage();
});

afterEach(async (test) => {
  if (test.task.result?.state === 'fail' && page) {
    const file = join(tmpdir(), `mailroom-log-${test.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`);
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

const button = (name: string) => page.getByRole('button', { name, exact: true });
const confirm = (name: string) => page.getByRole('dialog').getByRole('button', { name, exact: true });
const number = async (name: string) =>
  Number((await page.getByRole('group', { name, exact: true }).locator('output').textContent())!.replace(/,/g, ''));
const log = () => page.getByRole('region', { name: 'Reports' }).getByRole('table', { name: 'Delivery log' });
/** The log's rows as shown: recipient, status, excluded by, reply or reason. */
const shown = () =>
  log().evaluate((table: HTMLTableElement) =>
    [...table.tBodies[0].rows]
      .filter((row) => row.cells.length > 1)
      .map((row) => ({
        email: row.cells[1].textContent!,
        status: row.cells[2].textContent!,
        excludedBy: row.cells[3].textContent!,
        reason: row.cells[4].textContent!,
      })),
  );

/** The profiles the audience below targets, from the server's own database. */
const TARGET = `lower(json_extract(attributes, '$.city')) IN ('gent') AND CAST(json_extract(attributes, '$.loyalty_points') AS INTEGER) > 4500`;
let deliveryId = '';

describe('the delivery log', () => {
  it('follows the live figures while the delivery sends, without the filter being touched', async () => {
    await page.goto(server.url);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(server.password);
    await button('Sign in').click();
    await page.getByText('10,000 profiles').waitFor({ timeout: 30_000 });

    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    deliveryId = page.url().split('/').pop()!;
    await page.getByLabel('Name', { exact: true }).fill('Loyal in Gent');
    const include = page.getByRole('group', { name: 'Include', exact: true });
    await include.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'City' });
    await page.getByLabel('Include, condition 1: operator').selectOption({ label: 'is one of' });
    await page.getByLabel('Include, condition 1: value').fill('Gent');
    await include.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 2: field').selectOption({ label: 'Loyalty points' });
    await page.getByLabel('Include, condition 2: operator').selectOption({ label: 'is greater than' });
    await page.getByLabel('Include, condition 2: value').fill('4500');
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
    const targeted = db.prepare(`SELECT COUNT(*) FROM profiles WHERE ${TARGET}`).pluck().get() as number;
    expect(await number('Targeted')).toBe(targeted);
    const toDeliver = await number('To deliver');
    expect(toDeliver).toBeGreaterThan(50); // the log's first page is all recipients

    await button('Send').click();
    await confirm('Yes, send').click();
    // The log shows its first page while messages still wait or go out…
    await expect
      .poll(async () => (await shown()).map((r) => r.status), { timeout: 30_000 })
      .toContainEqual(expect.stringMatching(/^(queued|sending)$/));
    expect(db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck().get(deliveryId)).toBe('sending');
    // …and, once the server has sent them all, says so, the filter untouched.
    await expect
      .poll(() => db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck().get(deliveryId), { timeout: 60_000 })
      .toBe('completed');
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 10_000 }).toBe('Sent');
    await expect.poll(async () => (await shown()).map((r) => r.status), { timeout: 10_000 }).toEqual(Array(50).fill('sent'));
    expect(await number('Delivered')).toBe(toDeliver);
    expect(await page.getByLabel('Show').inputValue()).toBe('all');
  });

  it('"excluded" lists every profile the preparation excluded, with the rule that excluded it', async () => {
    const excluded = await number('Excluded');
    expect(excluded).toBeGreaterThan(0);
    await page.getByLabel('Show').selectOption('excluded');
    await expect.poll(async () => (await shown()).length, { timeout: 10_000 }).toBe(excluded);
    const rows = await shown();
    expect(new Set(rows.map((r) => r.status))).toEqual(new Set(['excluded']));

    // The oracle: the targeted profiles nobody sent to, and, from their records, the first rule of
    // the default typology that excludes each (unsubscribed, denylisted, quarantined, invalid, duplicate).
    const expected = db
      .prepare(
        `SELECT p.email,
           CASE WHEN p.status = 'unsubscribed' THEN 'Unsubscribed'
                WHEN p.email IN (SELECT email FROM denylist) THEN 'Denylisted'
                WHEN p.email IN (SELECT email FROM quarantine) THEN 'Quarantined'
                WHEN p.email NOT GLOB '?*@?*.[a-z]*' OR p.email GLOB '*@*@*' OR p.email GLOB '*.' THEN 'Invalid address'
                ELSE 'Duplicate address' END AS rule
         FROM profiles p
         WHERE ${TARGET} AND p.email NOT IN (SELECT email FROM journal WHERE delivery_id = ?)
         ORDER BY p.id`,
      )
      .all(deliveryId) as { email: string; rule: string }[];
    expect(rows.map((r) => [r.email, r.excludedBy])).toEqual(expected.map((e) => [e.email, e.rule]));
    expect(new Set(expected.map((e) => e.rule)).size).toBeGreaterThanOrEqual(3); // the seed has several causes here
    for (const row of rows) expect(row.reason).toBe(row.excludedBy === 'Invalid address' ? 'not a valid email address' : '');
  });

  it('"Resend to non-openers" makes a draft for those who did not open it, and sends it to them alone', async () => {
    // Five recipients open the message (its pixel, as a mail client loads it).
    const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
    const delivered = db
      .prepare("SELECT email FROM journal WHERE delivery_id = ? AND status = 'sent' ORDER BY id")
      .pluck()
      .all(deliveryId) as string[];
    const readers = delivered.slice(0, 5);
    for (const email of readers) {
      const raw = db.prepare('SELECT raw FROM mailbox WHERE envelope_to = ? ORDER BY id DESC').pluck().get(email) as Buffer;
      const html = String((await simpleParser(raw)).html);
      const pixel = /<img src="([^"]+\/t\/o\/[^"]+)"/.exec(html)![1];
      expect((await fetch(pixel.replace(/^https?:\/\/[^/]+/, server.url), { headers: { 'user-agent': CHROME } })).ok).toBe(true);
    }
    await expect.poll(() => number('Opens'), { timeout: 10_000 }).toBe(5);

    await button('Resend to non-openers…').click();
    const dialog = page.getByRole('dialog', { name: 'Resend to non-openers' });
    await expect.poll(() => dialog.getByLabel('Subject of the new delivery').inputValue()).not.toBe('');
    await dialog.getByLabel('Subject of the new delivery').fill('In case you missed it, {{ first_name | default: "there" }}');
    await dialog.getByRole('button', { name: 'Create the draft' }).click();
    await page.waitForURL((url) => !url.pathname.endsWith(deliveryId));
    const resendId = page.url().split('/').pop()!;
    // The audience names the sent delivery; the choice is there once the pull has brought its engagement.
    await expect.poll(() => page.getByLabel('Include, condition 1: field').inputValue()).toBe('delivery');
    await expect.poll(() => page.getByLabel('Include, condition 1: operator').inputValue()).toBe('notOpened');
    await expect
      .poll(() => page.getByLabel('Include, condition 1: value').locator('option:checked').textContent(), { timeout: 30_000 })
      .toMatch(/^Loyal in Gent \(/);
    expect(await page.getByLabel('Name', { exact: true }).inputValue()).toBe('Loyal in Gent — to non-openers');

    // Prepared offline: the engagement condition reads the replica, not the server.
    await page.context().setOffline(true);
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
    expect(await number('Targeted')).toBe(delivered.length - readers.length);
    await page.context().setOffline(false);
    await button('Send').click();
    await confirm('Yes, send').click();
    await expect
      .poll(() => db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck().get(resendId), { timeout: 60_000 })
      .toBe('completed');
    const resent = db.prepare('SELECT email FROM journal WHERE delivery_id = ? ORDER BY id').pluck().all(resendId) as string[];
    expect(new Set(resent)).toEqual(new Set(delivered.filter((email) => !readers.includes(email))));
    expect(db.prepare('SELECT subject FROM deliveries WHERE id = ?').pluck().get(resendId)).toMatch(/^In case you missed it/);
  });
});
