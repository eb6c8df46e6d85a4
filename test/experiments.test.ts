/**
 * Experiments and control, end to end: the real server process with its built-in sink, the
 * built app in Chromium. A typology of the marketer's own holds out a control group; the
 * delivery prepared with it counts the group apart, the what-if and the why know it, nobody
 * in it is mailed, and the report compares it with the recipients.
 */

import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

let server: ServerProcess;
let chromium: TestBrowser;
let page: Page;
let db: Database.Database;

beforeAll(async () => {
  mkdirSync('/tmp/shots', { recursive: true });
  server = await startServer();
  db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
  chromium = await launchBrowser();
  const context = await chromium.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'en-GB' });
  page = await context.newPage();
});

afterEach(async (test) => {
  if (test.task.result?.state === 'fail' && page) {
    const file = join(tmpdir(), `mailroom-experiments-${test.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`);
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
const status = () => page.getByTestId('delivery-status').textContent();
let deliveryId = '';
let deliveryUrl = '';

async function prepare() {
  await button('Prepare').click();
  await confirm('Yes, prepare').click();
  await expect.poll(status, { timeout: 30_000 }).toBe('Prepared');
}

const figure = async (name: string) =>
  Number(
    (await page
      .getByRole('region', { name: 'Preparation' })
      .getByRole('group', { name, exact: true })
      .locator('output')
      .textContent())!.replace(/,/g, ''),
  );

describe('a control group', () => {
  it('is made in a typology of the marketer’s own', async () => {
    await page.goto(server.url);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill(server.password);
    await button('Sign in').click();
    await page.getByText('10,000 profiles').first().waitFor({ timeout: 30_000 });
    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    deliveryUrl = page.url();
    deliveryId = deliveryUrl.split('/').pop()!;
    await page.getByLabel('Name', { exact: true }).fill('Loyal in Gent');
    const include = page.getByRole('group', { name: 'Include', exact: true });
    await include.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'City' });
    await page.getByLabel('Include, condition 1: operator').selectOption({ label: 'is one of' });
    await page.getByLabel('Include, condition 1: value').fill('Gent');

    await page.getByRole('link', { name: 'Manage typologies' }).click();
    await page.getByRole('button', { name: 'Default', exact: true }).click();
    await button('Make a copy').click();
    await page.getByText('Copy made: edit it and save.').waitFor();
    await page.getByLabel('Typology name').fill('Held out');
    await button('Add control group').click();
    await page.getByLabel('Share of Control group').fill('10');
    // A share that would be most of the delivery is refused with what to do.
    await page.getByLabel('Share of Control group').fill('60');
    await button('Save typology').click();
    await page.getByText('"Control group": hold out between 0.1 % and 50 % of the recipients.').waitFor();
    await page.getByLabel('Share of Control group').fill('10');
    await button('Save typology').click();
    await page.getByText('Typology "Held out" saved.').waitFor();
    await page.screenshot({ path: '/tmp/shots/control-group-typology.png', fullPage: true });
  });

  it('holds out its share of those who would be mailed, and the what-if and the why know it', async () => {
    await page.goto(deliveryUrl);
    await prepare();
    const before = { toDeliver: await figure('To deliver'), excluded: await figure('Excluded') };
    await page.getByLabel('Typology').selectOption({ label: 'Held out' });
    await page.getByText('prepare it again before sending').waitFor();
    await prepare();
    const held = Math.round(before.toDeliver * 0.1);
    expect(held).toBeGreaterThan(10);
    expect(await figure('To deliver')).toBe(before.toDeliver - held);
    expect(await figure('Excluded')).toBe(before.excluded + held);
    const chart = page.getByRole('figure', { name: 'Excluded by rule' });
    await expect.poll(() => chart.getByRole('listitem').filter({ hasText: 'Control group' }).textContent()).toContain(String(held));

    const whatIf = page.getByRole('region', { name: 'What-if' });
    const row = (label: string) => whatIf.getByRole('row', { name: new RegExp(`^\\s*${label}`) });
    await whatIf.getByLabel('Share of Control group').fill('20');
    await expect.poll(() => row('Control group').textContent()).toContain(String(Math.round(before.toDeliver * 0.2)));
    await whatIf.getByRole('checkbox', { name: 'Control group' }).uncheck();
    await expect.poll(() => row('To deliver').textContent()).toContain(`+${held.toLocaleString('en-US')}`);
    await page.getByRole('region', { name: 'Preparation' }).screenshot({ path: '/tmp/shots/control-group-prepared.png' });
  });

  it('is never mailed; the why names it and the report compares it with the recipients', async () => {
    await button('Send').click();
    await confirm('Yes, send').click();
    await expect
      .poll(() => db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck().get(deliveryId), { timeout: 60_000 })
      .toBe('completed');
    const control = db
      .prepare("SELECT email FROM exclusions WHERE delivery_id = ? AND cause = 'control-group' ORDER BY seq")
      .pluck()
      .all(deliveryId) as string[];
    const toDeliver = Number(db.prepare('SELECT to_deliver FROM deliveries WHERE id = ?').pluck().get(deliveryId));
    expect(control.length).toBe(Math.round((toDeliver + control.length) * 0.1));
    const mailed = db.prepare('SELECT envelope_to FROM mailbox').pluck().all() as string[];
    expect(mailed.length).toBeGreaterThan(0);
    expect(mailed.filter((to) => control.includes(to))).toEqual([]);

    const why = page.getByRole('region', { name: 'Why is this person in or out?' });
    await why.getByLabel('Email of the person').fill(control[0]);
    await why.getByRole('button', { name: 'Explain' }).click();
    await expect.poll(() => why.getByRole('status').textContent()).toBe(`${control[0]}: Excluded by the rule "Control group".`);

    const report = page.getByRole('region', { name: 'Control group' });
    await report.waitFor({ timeout: 15_000 });
    await expect
      .poll(() => report.textContent(), { timeout: 20_000 })
      .toContain(`${control.length} people were held out at random and not mailed; ${mailed.length} received the message.`);
    const rows = report.getByRole('table', { name: 'Control group against recipients' });
    await expect
      .poll(() => rows.getByRole('row', { name: /Unsubscribed since/ }).textContent())
      .toContain('too few yet to tell them apart');
    await report.screenshot({ path: '/tmp/shots/control-group-report.png' });
  });
});
