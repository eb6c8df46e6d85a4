/**
 * The audience end to end: a CSV imported through the Audience page, its report of rejected
 * rows, the replica following imports, deletions and suppression in two tabs, and a profile
 * found offline.
 */

import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { goOffline, launchBrowser, type TestBrowser } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

let server: ServerProcess;
let chromium: TestBrowser;
let context: BrowserContext;
let page: Page;

beforeAll(async () => {
  server = await startServer({ MAILROOM_ADMIN_PASSWORD: 'audience-test-password' });
  chromium = await launchBrowser();
  context = await chromium.browser.newContext({ acceptDownloads: true });
  page = await context.newPage();
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Password').fill('audience-test-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('replica-count').filter({ hasText: '10,000 profiles' }).waitFor({ timeout: 30_000 });
});

afterAll(async () => {
  await chromium?.close();
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
});

const CSV = [
  'E-mail;Voornaam;Achternaam;Stad;Punten',
  'zoe.import@example.com;Zoë;"van Dam; jr";Zwolle;1200',
  'not-an-address;Bad;Row;Zwolle;1',
  'kees.import@example.com;Kees;Klaassen;Zwolle;lots',
  'ida.import@example.com;Ida;"Line\nBreak";Zwolle;7',
].join('\r\n');

describe('the audience, as a marketer uses it', () => {
  it('imports a CSV through the Audience page, with a mapping, and offers the report of rejected rows', async () => {
    await page.getByRole('link', { name: 'Audience' }).click();
    await page.getByRole('button', { name: 'Import CSV' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import profiles from CSV' });
    await dialog.getByLabel('CSV file').setInputFiles({ name: 'fair-visitors.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
    await expect.poll(() => dialog.getByLabel('Map column E-mail').inputValue()).toBe('field:email');
    expect(await dialog.getByLabel('Map column Voornaam').inputValue()).toBe('field:first_name');
    await dialog.getByLabel('Map column Stad').selectOption({ label: 'City' });
    await dialog.getByLabel('Map column Punten').selectOption({ label: 'Loyalty points' });
    await dialog.getByRole('button', { name: 'Import', exact: true }).click();
    await expect
      .poll(async () => (await dialog.getByRole('status').textContent())?.replace(/\s+/g, ' '))
      .toContain('Imported 4 rows: 2 new, 0 updated, 2 rejected.');
    const download = page.waitForEvent('download');
    await dialog.getByRole('link', { name: 'Download the report of rejected rows' }).click();
    const file = await download;
    expect(file.suggestedFilename()).toBe('fair-visitors-rejected.csv');
    const report = await (
      await fetch(`${server.url}/api/audience/imports/${(await file.url()).split('/').at(-2)}/report`, {
        headers: { cookie: await cookieHeader() },
      })
    ).text();
    expect(report).toBe(
      'line,email,reason\n3,not-an-address,"invalid address ""not-an-address"""\n4,kees.import@example.com,"not a number ""lots"" in ""loyalty_points"""\n',
    );
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.getByText('10,002 profiles').waitFor({ timeout: 30_000 });
  });

  it('keeps two tabs on one replica: one pulls, both show deletions and suppression', async () => {
    const other = await context.newPage();
    await other.goto(`${server.url}/audience`);
    await other.getByText('10,002 profiles').waitFor({ timeout: 30_000 });
    // Changes on the server: one profile deleted, one denylisted.
    const api = (path: string, method: string, body?: unknown) =>
      page.evaluate(
        async ([path, method, body]) =>
          (
            await fetch(path as string, {
              method: method as string,
              headers: { 'content-type': 'application/json' },
              body: body ? JSON.stringify(body) : undefined,
            })
          ).status,
        [path, method, body] as const,
      );
    const ida = await page.evaluate(async () => {
      const response = await fetch('/api/audience/changes?since=0&limit=20000');
      const page = (await response.json()) as { profiles: { id: number; email: string }[] };
      return page.profiles.find((p) => p.email === 'ida.import@example.com')!.id;
    });
    expect(await api(`/api/audience/profiles/${ida}`, 'DELETE')).toBe(200);
    // The marketer denylists a profile from its detail; the app then pulls the changes.
    await page.getByLabel('Find a profile by email or name').fill('zoe.imp');
    await page.getByRole('button', { name: /zoe\.import@example\.com/ }).click();
    const detail = page.getByRole('region', { name: 'Profile', exact: true });
    await detail.getByLabel('Reason for the denylist').fill('Asked at the fair');
    await detail.getByRole('button', { name: 'Add to denylist' }).click();
    await detail.getByRole('button', { name: 'Remove from denylist' }).waitFor();
    // The panel is drawn again once the pull brings the change: read it until it says so.
    await expect.poll(() => detail.textContent()).toMatch(/Denylist\s*yes: Asked at the fair/);
    // The other tab did not pull, yet shows the result.
    await other.getByText('10,001 profiles').waitFor({ timeout: 30_000 });
    await other.close();
  });

  it('finds an imported profile offline, with its attributes and suppression', async () => {
    await goOffline(page);
    await page.getByText('Offline — working from the local copy').waitFor();
    await page.getByLabel('Find a profile by email or name').fill('zoe.imp');
    await page.getByRole('button', { name: /zoe\.import@example\.com/ }).click();
    const profile = page.getByRole('region', { name: 'Profile', exact: true });
    await profile.getByRole('heading', { name: /Zoë van Dam; jr/ }).waitFor();
    const text = await profile.textContent();
    expect(text).toContain('Zwolle');
    expect(text).toContain('1200');
    expect(text).toMatch(/Denylist\s*yes/);
    expect(text).toContain('Offline: recent sends are known to the server only.');
    await page.getByLabel('Find a profile by email or name').fill('ida.import');
    await page.getByText('No profile in the local audience matches "ida.import".').waitFor();
    await context.setOffline(false);
  });
});

async function cookieHeader(): Promise<string> {
  return (await context.cookies()).map((c) => `${c.name}=${c.value}`).join('; ');
}
