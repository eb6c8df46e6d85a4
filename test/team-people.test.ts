/**
 * The team, end to end: the real server process, the built app in Chromium. The admin adds a
 * viewer and a marketer on the Operators page and reads the passwords shown once; makes an
 * API token, whose shown secret works over HTTP until it is revoked; each role then sees what
 * it may do (a viewer: Import disabled, no Operators link, settings read-only; a marketer:
 * Import enabled); the Audit page lists what was done, filtered by action in the address, and
 * pages newest first, and its CSV export answers with the same filter. Screenshots of the
 * Operators and Audit pages (and a viewer's Settings) at 1,400 and 390 px go to /tmp/shots-team/.
 */

import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

const SHOTS = '/tmp/shots-team';

let server: ServerProcess;
let chromium: TestBrowser;
let admin: Page;
/** The passwords the Operators page showed, by username. */
const passwords = new Map<string, string>();

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({ MAILROOM_DEMO: 'off' });
  chromium = await launchBrowser();
  admin = await signedIn(chromium.browser, 'admin', server.password);
});

afterEach(async (test) => {
  if (test.task.result?.state === 'fail' && admin) {
    const file = join(tmpdir(), `mailroom-team-${test.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`);
    await admin.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    console.error(`screenshot of the failed step: ${file}`);
  }
});

afterAll(async () => {
  await chromium?.close();
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
});

/** Returns a page of a fresh browser context (its own cookies and IndexedDB), signed in as `username`. */
async function signedIn(browser: Browser, username: string, password: string): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
  const page = await context.newPage();
  await page.goto(server.url);
  await page.waitForURL(/\/login/);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.waitForURL((url) => !url.pathname.startsWith('/login'));
  await page.getByRole('button', { name: 'Sign out' }).waitFor();
  return page;
}

const nav = (page: Page) => page.getByRole('navigation', { name: 'Main' });
const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });

/** Calls the API with an API token's secret; returns the status. */
const withToken = async (secret: string) =>
  (await fetch(`${server.url}/api/session`, { headers: { authorization: `Bearer ${secret}` } })).status;

async function shoot(page: Page, name: string) {
  for (const width of [1400, 390]) {
    await page.setViewportSize({ width, height: width === 390 ? 844 : 900 });
    await page.screenshot({ path: `${SHOTS}/${name}-${width}.png`, fullPage: true });
  }
  await page.setViewportSize({ width: 1400, height: 900 });
}

describe('the team: operators, API tokens, the audit log and what each role sees', () => {
  it('the admin adds a viewer and a marketer and reads each password shown once', async () => {
    await expect.poll(() => admin.locator('header .user').textContent()).toBe('admin · Admin');
    await nav(admin).getByRole('link', { name: 'Operators' }).click();
    await admin.waitForURL(/\/operators$/);
    const form = admin.getByRole('form', { name: 'Add an operator' });
    for (const [username, role] of [
      ['vera', 'viewer'],
      ['mark', 'marketer'],
    ] as const) {
      await form.getByLabel('Username').fill(username);
      await form.getByLabel('Role').selectOption(role);
      await button(admin, 'Add operator').click();
      const shown = admin.getByRole('textbox', { name: `Password of ${username}`, exact: true });
      await shown.waitFor();
      passwords.set(username, await shown.inputValue());
      await expect.poll(() => admin.getByRole('combobox', { name: `Role of ${username}` }).inputValue()).toBe(role);
    }
    expect(passwords.get('vera')!.length).toBeGreaterThanOrEqual(12);
    expect(passwords.get('mark')).not.toBe(passwords.get('vera'));
    await admin.getByText('it will not be shown again').waitFor();
  });

  it('the admin creates an API token whose shown secret works until it is revoked', async () => {
    const form = admin.getByRole('form', { name: 'Create a token' });
    await form.getByLabel('Name').fill('CRM export');
    await form.getByLabel('Role').selectOption('marketer');
    await button(admin, 'Create token').click();
    const shown = admin.getByRole('textbox', { name: 'Secret of CRM export', exact: true });
    await shown.waitFor();
    const secret = await shown.inputValue();
    expect(await withToken(secret)).toBe(200);

    await button(admin, 'Revoke CRM export').click();
    await admin.getByRole('dialog').getByRole('button', { name: 'Revoke token', exact: true }).click();
    await admin.getByRole('status').filter({ hasText: 'CRM export is revoked.' }).waitFor();
    const row = admin.getByRole('table', { name: 'API tokens' }).getByRole('row').filter({ hasText: 'CRM export' });
    await expect.poll(() => row.textContent()).toContain('Revoked');
    expect(await button(admin, 'Revoke CRM export').count()).toBe(0);
    expect(await withToken(secret)).toBe(401);
    await shoot(admin, 'operators');
  });

  it('a viewer reads but may not change: Import disabled, settings read-only, no Operators link', async () => {
    const viewer = await signedIn(chromium.browser, 'vera', passwords.get('vera')!);
    try {
      await expect.poll(() => viewer.locator('header .user').textContent()).toBe('vera · Viewer');
      expect(await nav(viewer).getByRole('link', { name: 'Operators' }).count()).toBe(0);
      expect(await nav(viewer).getByRole('link', { name: 'Audit' }).count()).toBe(1);

      await nav(viewer).getByRole('link', { name: 'Audience' }).click();
      const importButton = button(viewer, 'Import CSV');
      await importButton.waitFor();
      expect(await importButton.isDisabled()).toBe(true);
      expect(await importButton.getAttribute('title')).toMatch(/signed in as viewer/);

      await nav(viewer).getByRole('link', { name: 'Settings' }).click();
      await button(viewer, 'Save settings').waitFor();
      expect(await button(viewer, 'Save settings').isDisabled()).toBe(true);
      expect(await button(viewer, 'Test connection').isDisabled()).toBe(true);
      expect(await button(viewer, 'Save the bounce policy').isDisabled()).toBe(true);
      await viewer.getByText('Only an admin changes the settings').waitFor();

      await shoot(viewer, 'viewer-settings');

      await viewer.goto(`${server.url}/operators`);
      await viewer.getByText('Only admins manage operators and API tokens').waitFor();
      expect(await button(viewer, 'Add operator').count()).toBe(0);
    } finally {
      await viewer.context().close();
    }
  });

  it('a marketer may import, and has no Operators link either', async () => {
    const marketer = await signedIn(chromium.browser, 'mark', passwords.get('mark')!);
    try {
      await expect.poll(() => marketer.locator('header .user').textContent()).toBe('mark · Marketer');
      expect(await nav(marketer).getByRole('link', { name: 'Operators' }).count()).toBe(0);
      await nav(marketer).getByRole('link', { name: 'Audience' }).click();
      await button(marketer, 'Import CSV').waitFor();
      expect(await button(marketer, 'Import CSV').isDisabled()).toBe(false);
    } finally {
      await marketer.context().close();
    }
  });

  it('a disabled operator cannot sign in', async () => {
    await nav(admin).getByRole('link', { name: 'Operators' }).click();
    await button(admin, 'Disable mark').click();
    await admin.getByRole('dialog').getByRole('button', { name: 'Disable', exact: true }).click();
    await button(admin, 'Enable mark').waitFor();
    const login = await fetch(`${server.url}/api/session`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ username: 'mark', password: passwords.get('mark') }),
    });
    expect(login.status).toBe(403);
  });

  it('the audit log pages newest first, filters by action in the address, and exports the same as CSV', async () => {
    // 50 more entries than the tests above made (5): more than a page of the log (50).
    const made = await admin.evaluate(async () => {
      let ok = 0;
      for (let i = 1; i <= 50; i++) {
        const body = JSON.stringify({ name: `Batch ${i}`, role: 'viewer', expiresAt: null });
        const response = await fetch('/api/tokens', { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        if (response.status === 201) ok++;
      }
      return ok;
    });
    expect(made).toBe(50);
    await nav(admin).getByRole('link', { name: 'Audit' }).click();
    await admin.waitForURL(/\/audit$/);
    const log = admin.getByRole('table', { name: 'Audit log' });
    await log.waitFor();
    await expect.poll(() => log.locator('tbody tr').count()).toBe(50);
    await button(admin, 'Load more').click();
    await expect.poll(() => log.locator('tbody tr').count()).toBe(55);
    expect(await button(admin, 'Load more').count()).toBe(0);
    // Newest first, each entry once: the last token made on top, then the tests' actions in the reverse of their order.
    const column = (n: number) => log.locator(`tbody tr td:nth-child(${n})`).allTextContents();
    const [actions, objects] = [await column(3), await column(4)];
    expect(actions.slice(0, 50).every((action) => action === 'Created an API token')).toBe(true);
    expect(objects.slice(0, 50)).toEqual(Array.from({ length: 50 }, (_, i) => `API token Batch ${50 - i}`));
    expect(actions.slice(50)).toEqual([
      'Changed an operator',
      'Revoked an API token',
      'Created an API token',
      'Added an operator',
      'Added an operator',
    ]);
    expect(objects.slice(50)).toEqual(['Operator mark', 'API token CRM export', 'API token CRM export', 'Operator mark', 'Operator vera']);

    await admin.getByLabel('Action').selectOption({ label: 'Added an operator' });
    await admin.waitForURL(/[?&]action=operator-created/);
    await expect.poll(() => log.locator('tbody tr').count()).toBe(2);
    const rows = await log.locator('tbody tr').allTextContents();
    expect(rows.every((row) => row.includes('Added an operator') && row.includes('admin'))).toBe(true);
    expect(rows.join('\n')).toContain('mark');
    expect(rows.join('\n')).toContain('vera');

    const exportLink = admin.getByRole('link', { name: 'Export CSV' });
    expect(await exportLink.getAttribute('href')).toBe('/api/audit/export.csv?action=operator-created');
    const csv = await admin.evaluate(
      async (href) => {
        const response = await fetch(href!);
        return { status: response.status, type: response.headers.get('content-type'), text: await response.text() };
      },
      await exportLink.getAttribute('href'),
    );
    expect(csv.status).toBe(200);
    expect(csv.type).toMatch(/^text\/csv/);
    const lines = csv.text.trim().split('\r\n');
    expect(lines[0]).toBe('at,actor,action,object_kind,object_id,object_name,detail');
    expect(lines.slice(1).map((line) => line.split(',')[2])).toEqual(['operator-created', 'operator-created']);

    await admin.getByRole('link', { name: 'Clear filters' }).click();
    await expect.poll(() => log.locator('tbody tr').count()).toBe(50);
    await shoot(admin, 'audit');
  });
});
