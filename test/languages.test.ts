/**
 * Mailroom in Dutch, end to end: a browser whose language is Dutch (nl-NL, Amsterdam time)
 * walks the seed's flow by the Dutch names of its controls — Aanmelden, Nieuwe levering,
 * Voorbereiden with its confirm, the KPIs Gericht / Om te leveren / Uitgesloten in Dutch
 * numbers, Logboeken, Verzenden, Pauzeren, Hervatten, Geleverd — against the real server
 * process and its SMTP sink; then the top bar's switch turns the app English and back with
 * no reload, the choice kept on the device.
 */

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

let server: ServerProcess;
let chromium: TestBrowser;
let context: BrowserContext;
let page: Page;
let db: Database.Database;

beforeAll(async () => {
  // Slow enough to pause while it sends.
  server = await startServer({ MAILROOM_SEND_RATE: '100' });
  db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
  chromium = await launchBrowser();
  context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'nl-NL', timezoneId: 'Europe/Amsterdam' });
  page = await context.newPage();
});

afterEach(async (test) => {
  if (test.task.result?.state === 'fail' && page) {
    const file = join(tmpdir(), `mailroom-languages-${test.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`);
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
/** A KPI's figure as Dutch writes it (12.345), read back as a number. */
const figure = async (name: string) => {
  const text = (await kpi(name).textContent())!;
  expect(text).toMatch(/^\d{1,3}(\.\d{3})*$/);
  return Number(text.replace(/\./g, ''));
};
const button = (name: string) => page.getByRole('button', { name, exact: true });
const confirm = (name: string) => page.getByRole('dialog').getByRole('button', { name, exact: true });
const status = () => page.getByTestId('delivery-status').textContent();
const serverStatus = (id: string) =>
  (db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck().get(id) as string | undefined) ?? null;
const sinkCount = () => db.prepare('SELECT COUNT(*) FROM mailbox').pluck().get() as number;
const inGent = () => db.prepare("SELECT COUNT(*) FROM profiles WHERE json_extract(attributes, '$.city') = 'Gent'").pluck().get() as number;

describe('Mailroom in Dutch', () => {
  let deliveryId = '';

  it('signs in on a Dutch page and pulls the audience, its count and date written the Dutch way', async () => {
    await page.goto(server.url);
    await page.waitForURL(/\/login/);
    await page.getByRole('heading', { name: 'Aanmelden bij Mailroom' }).waitFor();
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('nl');
    expect(await page.getByRole('combobox', { name: 'Taal' }).inputValue()).toBe('nl');
    await page.getByLabel('Gebruikersnaam').fill('admin');
    await page.getByLabel('Wachtwoord').fill(server.password);
    await button('Aanmelden').click();
    await page.getByRole('heading', { name: 'Leveringen' }).waitFor();
    const nav = page.getByRole('navigation', { name: 'Hoofdmenu' });
    for (const link of ['Leveringen', 'Doelgroep', 'Typologieën', 'Abonnees', 'Instellingen']) {
      await nav.getByRole('link', { name: link, exact: true }).waitFor();
    }
    await page.getByText('10.000 profielen').waitFor({ timeout: 30_000 });
    // Day-month-year, as nl-NL writes a date.
    await expect
      .poll(() => page.getByRole('region', { name: 'Lokale doelgroep' }).textContent())
      .toMatch(/stand van \d{1,2}-\d{1,2}-\d{4}/);
  });

  it('prepares with Voorbereiden and its confirm: Gericht, Om te leveren and Uitgesloten, the logs in Dutch', async () => {
    await button('Nieuwe levering').click();
    await page.waitForURL(/\/deliveries\//);
    deliveryId = page.url().split('/').pop()!;
    await page.getByLabel('Naam', { exact: true }).fill('Herfst in Gent');
    await page.getByRole('group', { name: 'Opnemen', exact: true }).getByRole('button', { name: 'Voorwaarde toevoegen' }).click();
    await page.getByLabel('Opnemen, voorwaarde 1: veld').selectOption({ label: 'City' });
    await page.getByLabel('Opnemen, voorwaarde 1: operator').selectOption({ label: 'is gelijk aan' });
    await page.getByLabel('Opnemen, voorwaarde 1: waarde').fill('Gent');
    await button('Voorbereiden').click();
    await page.getByRole('dialog', { name: 'Deze levering voorbereiden?' }).waitFor();
    await confirm('Ja, voorbereiden').click();
    await expect.poll(status, { timeout: 30_000 }).toBe('Voorbereid');
    const targeted = await figure('Gericht');
    expect(targeted).toBe(inGent());
    const toDeliver = await figure('Om te leveren');
    expect(toDeliver).toBeGreaterThan(0);
    expect(toDeliver + (await figure('Uitgesloten'))).toBe(targeted);
    await page.getByRole('figure', { name: 'Uitgesloten per regel' }).waitFor();
    // The shipped rules by their Dutch names (a name is data: shown translated while it is the shipped one).
    await page.getByRole('region', { name: 'Wat als' }).getByRole('checkbox', { name: 'Afgemeld', exact: true }).waitFor();
    // The audience reads as a Dutch sentence; Why explains a profile in Dutch.
    await page.getByText('City is gelijk aan "Gent"', { exact: true }).waitFor();
    const why = page.getByRole('region', { name: 'Waarom zit deze persoon er wel of niet in?' });
    const elsewhere = db
      .prepare("SELECT email FROM profiles WHERE json_extract(attributes, '$.city') = 'Utrecht' LIMIT 1")
      .pluck()
      .get() as string;
    await why.getByLabel('E-mailadres van de persoon').fill(elsewhere);
    await why.getByRole('button', { name: 'Uitleggen' }).click();
    await expect
      .poll(() => why.getByRole('status').textContent())
      .toBe(`${elsewhere}: Niet in het doel: het profiel zit niet in de doelgroep.`);
    expect(await why.getByRole('listitem').filter({ hasText: 'city is gelijk aan "Gent"' }).textContent()).toContain('(waarde: Utrecht)');
    await button('Logboeken').click();
    const logs = page.getByRole('dialog', { name: 'Logboeken van de voorbereiding' });
    expect(await logs.getByRole('listitem').first().textContent()).toContain('Voorbereiding van "Herfst in Gent"');
    expect(await logs.getByRole('listitem').last().textContent()).toMatch(
      /Voorbereiding voltooid: 0 fouten, (0 waarschuwingen|1 waarschuwing)\.$/,
    );
    await logs.getByRole('button', { name: 'Sluiten' }).click();
  });

  it('sends with Verzenden and its confirm; Pauzeren holds it, Hervatten finishes it; Geleverd counts every message', async () => {
    const toDeliver = await figure('Om te leveren');
    await button('Verzenden').click();
    await page.getByRole('dialog', { name: 'Deze levering verzenden?' }).waitFor();
    await confirm('Ja, verzenden').click();
    await expect.poll(() => serverStatus(deliveryId), { timeout: 30_000 }).toBe('sending');
    await button('Pauzeren').click();
    await expect.poll(() => serverStatus(deliveryId)).toBe('paused');
    await expect.poll(status).toBe('Gepauzeerd');
    await button('Hervatten').click();
    await expect.poll(() => figure('Geleverd'), { timeout: 60_000 }).toBe(toDeliver);
    await expect.poll(status).toBe('Verzonden');
    expect(sinkCount()).toBe(toDeliver);
    expect(await page.getByRole('group', { name: 'Geleverd' }).textContent()).toContain('van Gericht');
    await page.getByRole('group', { name: 'Openen', exact: true }).waitFor();
    await page.getByRole('group', { name: 'Klikken', exact: true }).waitFor();
  });

  it('switches to English in the top bar with no reload, keeps the choice on this device, and switches back', async () => {
    await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
    await page.getByRole('combobox', { name: 'Taal' }).selectOption({ label: 'English' });
    await button('Send').waitFor({ state: 'attached' });
    await page.getByRole('group', { name: 'Delivered', exact: true }).waitFor();
    expect(await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Deliveries' }).count()).toBe(1);
    expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    // English numbers: 1,234.
    expect(await kpi('Targeted').textContent()).toMatch(/^\d{1,3}(,\d{3})*$/);
    await page.reload();
    await page.getByRole('group', { name: 'To deliver', exact: true }).waitFor();
    await page.getByRole('combobox', { name: 'Language' }).selectOption({ label: 'Nederlands' });
    await page.getByRole('group', { name: 'Om te leveren', exact: true }).waitFor();
    await page.reload();
    await page.getByRole('group', { name: 'Gericht', exact: true }).waitFor();
  });
});
