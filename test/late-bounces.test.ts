/**
 * Bounces and complaints reported later, end to end: the real server process with a bounce
 * domain, its bounce port and a bounce mailbox read over IMAP (a real IMAP server), the
 * built app in Chromium. A delivery is sent; a Postfix bounce to one message's return path
 * reaches the bounce port over SMTP, an ARF complaint about another lies in the mailbox. The
 * delivery log shows both under the relay's replies, the report counts them by kind and
 * domain, and the Audience page's list health charts them by day and domain.
 */

import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import nodemailer from 'nodemailer';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from './support/browser';
import { startImapServer, type ImapServer } from './support/imap';
import { arfComplaint, postfixBounce } from './support/reports';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

let server: ServerProcess;
let imap: ImapServer;
let chromium: TestBrowser;
let page: Page;
let db: Database.Database;
let bouncePort = 0;

beforeAll(async () => {
  mkdirSync('/tmp/shots', { recursive: true });
  imap = await startImapServer('bounces', 's3cret');
  server = await startServer({
    MAILROOM_BOUNCE_DOMAIN: 'bounces.example.com',
    MAILROOM_BOUNCE_PORT: '0',
    MAILROOM_BOUNCE_IMAP_URL: `imap://bounces:s3cret@127.0.0.1:${imap.port}/INBOX`,
    MAILROOM_BOUNCE_IMAP_EVERY: '5',
  });
  bouncePort = Number(/received on port (\d+)/.exec(server.output())![1]);
  expect(server.output()).toContain(`Bounce mailbox 127.0.0.1:${imap.port}/INBOX read over IMAP every 5 s.`);
  db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
  chromium = await launchBrowser();
  const context = await chromium.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'en-GB' });
  page = await context.newPage();
});

afterEach(async (test) => {
  if (test.task.result?.state === 'fail' && page) {
    const file = join(tmpdir(), `mailroom-late-${test.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    console.error(`screenshot of the failed step: ${file}`);
  }
});

afterAll(async () => {
  await chromium?.close();
  db?.close();
  await server?.stop();
  await imap?.stop();
  if (server) removeDataDir(server.dataDir);
});

const button = (name: string) => page.getByRole('button', { name, exact: true });
const confirm = (name: string) => page.getByRole('dialog').getByRole('button', { name, exact: true });
const log = () => page.getByRole('region', { name: 'Reports' }).getByRole('table', { name: 'Delivery log' });
const replies = () =>
  log().evaluate((table: HTMLTableElement) =>
    Object.fromEntries(
      [...table.tBodies[0].rows].filter((row) => row.cells.length > 1).map((row) => [row.cells[1].textContent!, row.cells[4].textContent!]),
    ),
  );
let deliveryId = '';
let bounced = { to: '', returnPath: '', messageId: '' };
let complained = { to: '', returnPath: '', messageId: '' };

describe('bounces and complaints reported later, in the app', () => {
  it('sends a delivery, each message from its own return path on the bounce domain', async () => {
    await page.goto(server.url);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(server.password);
    await button('Sign in').click();
    await page.getByText('10,000 profiles').first().waitFor({ timeout: 30_000 });
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
    await button('Send').click();
    await confirm('Yes, send').click();
    await expect
      .poll(() => db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck().get(deliveryId), { timeout: 60_000 })
      .toBe('completed');
    // What the sink received: the envelope sender is each message's signed return path.
    const sent = db
      .prepare(
        `SELECT m.envelope_from AS returnPath, j.email AS "to", j.id || '.' || j.delivery_id AS id FROM journal j
         JOIN mailbox m ON m.envelope_to = j.email WHERE j.delivery_id = ? AND j.status = 'sent' ORDER BY j.id LIMIT 2`,
      )
      .all(deliveryId) as { returnPath: string; to: string; id: string }[];
    expect(sent).toHaveLength(2);
    for (const s of sent) expect(s.returnPath).toMatch(/^bounce-[0-9a-z]+-[0-9a-f]{12}@bounces\.example\.com$/);
    [bounced, complained] = sent.map((s) => ({ to: s.to, returnPath: s.returnPath, messageId: `<${s.id}@shop.example.com>` }));
  });

  it('a bounce to the bounce port and a complaint in the bounce mailbox show in the delivery log and its report', async () => {
    const mta = nodemailer.createTransport({ host: '127.0.0.1', port: bouncePort, secure: false, ignoreTLS: true });
    await mta.sendMail({
      envelope: { from: '', to: bounced.returnPath },
      raw: postfixBounce(bounced, '5.1.1', `550 5.1.1 <${bounced.to}>: Recipient address rejected: User unknown`),
    });
    mta.close();
    imap.deliver(arfComplaint(complained));
    // The mailbox is read every 5 s: the complaint is marked read once it is kept.
    await expect.poll(() => imap.messages().every((m) => m.seen), { timeout: 20_000 }).toBe(true);

    await page.reload();
    await expect.poll(async () => (await replies())[bounced.to], { timeout: 15_000 }).toMatch(/bounced later: 5\.1\.1 .*User unknown/);
    expect((await replies())[complained.to]).toMatch(/complained later \(abuse\)/);
    const report = page.getByRole('region', { name: 'Reports' });
    await expect.poll(() => report.getByText('Reported later, by kind and domain').count()).toBeGreaterThan(0);
    await page.screenshot({ path: '/tmp/shots/late-delivery-1400.png', fullPage: true });
  });

  it('the Audience page charts them by day and lists them by domain; the addresses are quarantined and denylisted', async () => {
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audience' }).click();
    const health = page.getByRole('region', { name: 'List health' });
    await health.getByRole('img', { name: /^Bounces and complaints in the last 30 days:/ }).waitFor();
    const chart = await health.getByRole('img', { name: /^Bounces and complaints in the last 30 days:/ }).getAttribute('aria-label');
    expect(chart).toContain('1 hard bounces later');
    expect(chart).toContain('1 complaints');
    const domains = health.getByRole('table', { name: 'Bounces and complaints by domain' });
    const domainOf = (email: string) => email.split('@')[1];
    await expect.poll(() => domains.getByRole('rowheader', { name: domainOf(bounced.to) }).count()).toBe(1);
    expect(db.prepare('SELECT reason FROM quarantine WHERE email = ?').pluck().get(bounced.to)).toBe('hard-bounce');
    expect(db.prepare('SELECT COUNT(*) FROM denylist WHERE email = ?').pluck().get(complained.to)).toBe(1);
    await page.screenshot({ path: '/tmp/shots/late-audience-1400.png', fullPage: true });
  });
});
