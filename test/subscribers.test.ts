/**
 * The subscriber's side end to end: the real server process with its built-in sink, the built
 * app in Chromium. The marketer sets up the pages and a Dutch sign-up form in the app and
 * takes its snippet; a page on another origin carries it; a person signs up there in Dutch,
 * is pending, gets the confirmation email (read back with mailparser) and confirms by its
 * link; a bot's post is refused; the marketer then finds the person's consent and erases
 * them, and the app's replica drops the profile at its next sync.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { simpleParser } from 'mailparser';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

let server: ServerProcess;
let chromium: TestBrowser;
let operator: Page;
let visitor: BrowserContext;
let db: Database.Database;
let shop: Server;
let shopUrl = '';
let snippet = '';

beforeAll(async () => {
  mkdirSync('/tmp/shots', { recursive: true });
  server = await startServer();
  db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
  chromium = await launchBrowser();
  operator = await (await chromium.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'en-GB' })).newPage();
  visitor = await chromium.browser.newContext({ viewport: { width: 390, height: 844 }, locale: 'nl-NL' });
  // Another site: a shop's page that carries the form's snippet.
  shop = createServer((_, response) => {
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    response.end(
      `<!doctype html><html lang="nl"><head><meta charset="utf-8"><title>Bakkerij</title></head><body><h1>Onze nieuwsbrief</h1>${snippet}</body></html>`,
    );
  });
  await new Promise<void>((ready) => shop.listen(0, '127.0.0.1', ready));
  shopUrl = `http://localhost:${(shop.address() as AddressInfo).port}`;
});

afterEach(async (test) => {
  if (test.task.result?.state === 'fail' && operator) {
    const file = join(tmpdir(), `mailroom-subscribers-${test.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`);
    await operator.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    console.error(`screenshot of the failed step: ${file}`);
  }
});

afterAll(async () => {
  await chromium?.close();
  db?.close();
  shop?.close();
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
});

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
const profile = (email: string) =>
  db.prepare('SELECT id, pending_since AS pending, first_name AS firstName, attributes FROM profiles WHERE email = ?').get(email) as
    { id: number; pending: string | null; firstName: string; attributes: string } | undefined;

describe('the subscriber side', () => {
  it('is set up in the app: the pages, a topic, a Dutch double opt-in form and its snippet', async () => {
    await operator.goto(server.url);
    await operator.waitForURL(/\/login/);
    await operator.getByLabel('Username').fill('admin');
    await operator.getByLabel('Password').fill(server.password);
    await button(operator, 'Sign in').click();
    await operator.getByText('10,000 profiles').first().waitFor({ timeout: 30_000 });
    await operator.getByRole('link', { name: 'Subscribers' }).click();
    await operator.getByLabel('Sender name').fill('Bakkerij Jansen');
    await operator.getByLabel('Sender address').fill('hallo@bakkerij.example.com');
    await button(operator, 'Add a topic').click();
    await operator.getByLabel('Tag of topic 1').fill('news');
    await operator.getByLabel('English label of topic 1').fill('News');
    await operator.getByLabel('Dutch label of topic 1').fill('Nieuws');
    await button(operator, 'Save the pages’ settings').click();
    await expect.poll(() => operator.getByRole('status').textContent()).toContain('saved');

    await operator.getByLabel("New form's name").fill('Nieuwsbrief');
    await button(operator, 'Create the form').click();
    await operator.getByText('Nieuwsbrief · double opt-in').click();
    await operator.getByLabel('Default language of Nieuwsbrief').selectOption('nl');
    await operator.getByRole('group', { name: 'Topics offered' }).getByLabel('News').check();
    await button(operator, 'Save Nieuwsbrief').click();
    await expect.poll(() => operator.getByRole('status').textContent()).toContain('is saved');
    await button(operator, 'Show the snippet of Nieuwsbrief').click();
    snippet = await operator.getByLabel(/Snippet of Nieuwsbrief/).inputValue();
    expect(snippet).toContain(`action="${server.url}/f/`);
    await operator.screenshot({ path: '/tmp/shots/subscribers-1400.png', fullPage: true });
  });

  it('signs a person up from a page on another origin: pending, a Dutch confirmation email, confirmed by its link', async () => {
    const page = await visitor.newPage();
    await page.goto(shopUrl);
    await page.getByLabel('E-mailadres').fill('anna@example.org');
    await page.getByLabel('Voornaam').fill('Anna');
    await page.getByLabel('Nieuws').check();
    await page.waitForTimeout(3_500); // a person takes a few seconds; a bot posting at once is refused
    await page.screenshot({ path: '/tmp/shots/signup-form-390.png', fullPage: true });
    await page.getByRole('button', { name: 'Inschrijven' }).click();
    await page.getByRole('heading', { name: 'Kijk in je inbox' }).waitFor();
    expect(page.url()).toContain(server.url);
    expect(profile('anna@example.org')).toMatchObject({ pending: expect.any(String), firstName: 'Anna' });
    expect(JSON.parse(profile('anna@example.org')!.attributes).topics).toEqual(['news']);

    await expect.poll(() => db.prepare("SELECT COUNT(*) FROM mailbox WHERE envelope_to = 'anna@example.org'").pluck().get()).toBe(1);
    const mail = await simpleParser(db.prepare("SELECT raw FROM mailbox WHERE envelope_to = 'anna@example.org'").pluck().get() as Buffer);
    expect(mail.subject).toBe('Bevestig je inschrijving');
    expect(mail.from?.text).toContain('Bakkerij Jansen');
    const link = /href="([^"]+\/f\/confirm\/[^"]+)"/.exec(String(mail.html))![1];
    expect(link.startsWith(server.url)).toBe(true);
    await page.goto(link);
    expect(profile('anna@example.org')!.pending).not.toBeNull(); // following the link alone confirms nothing
    await page.getByRole('button', { name: 'Ja, bevestigen' }).click();
    await page.getByRole('heading', { name: 'Inschrijving bevestigd' }).waitFor();
    await page.screenshot({ path: '/tmp/shots/confirmed-390.png', fullPage: true });
    expect(profile('anna@example.org')!.pending).toBeNull();
    expect(db.prepare("SELECT status FROM consents WHERE email = 'anna@example.org'").pluck().get()).toBe('confirmed');
  });

  it("previews content by language made on the delivery page: each recipient in their locale's translation, or the default", async () => {
    await operator.goto(server.url);
    await button(operator, 'New delivery').click();
    await operator.waitForURL(/\/deliveries\//);
    const id = operator.url().split('/').pop()!;
    await operator.getByLabel('Name', { exact: true }).fill('Two languages');
    await button(operator, 'Add a language').click();
    await operator.getByLabel('Locale of translation 1').fill('nl');
    await operator.getByLabel('Subject in nl').fill('Hallo {{ first_name }}, onze jassen');
    await operator.getByLabel('Locale of translation 1').fill('Dutch!');
    await operator.getByRole('alert').filter({ hasText: '"Dutch!" is not a locale' }).waitFor();
    await operator.getByLabel('Locale of translation 1').fill('nl');
    await button(operator, 'Prepare').click();
    await operator.getByRole('dialog').getByRole('button', { name: 'Yes, prepare', exact: true }).click();
    await expect.poll(() => operator.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
    await expect.poll(() => operator.getByTestId('last-log').textContent()).toMatch(/Targeted|Preparation/);
    // Each recipient's own: a Dutch profile's subject is the translation's, another's the default's.
    const preview = operator.getByRole('region', { name: 'Preview' });
    const localeOf = (email: string) => db.prepare('SELECT locale FROM profiles WHERE email = ?').pluck().get(email) as string;
    const seen = new Set<string>();
    for (let n = 1; n <= 12 && seen.size < 2; n++) {
      await preview.getByText(`Recipient ${n} of`).waitFor();
      const email = (await preview.getByTestId('preview-to').textContent())!;
      const subject = (await preview.getByTestId('preview-subject').textContent())!;
      const said = (await preview.getByTestId('preview-variant').textContent())!;
      if (localeOf(email) === 'nl') {
        expect(subject).toMatch(/^Hallo .*, onze jassen$/);
        expect(said).toContain("The nl translation: this recipient's");
      } else {
        expect(subject).not.toContain('onze jassen');
        expect(said).toContain('The default content');
      }
      seen.add(localeOf(email) === 'nl' ? 'nl' : 'other');
      await preview.getByRole('button', { name: 'Next recipient' }).click();
    }
    expect([...seen].sort()).toEqual(['nl', 'other']);
    await preview.getByLabel('Language').selectOption({ label: 'nl' });
    await expect.poll(() => preview.getByTestId('preview-subject').textContent()).toMatch(/^Hallo .*, onze jassen$/);
    await operator.screenshot({ path: '/tmp/shots/translations-1400.png', fullPage: true });
    expect(id).toBeTruthy();
  });

  it("refuses a bot's post: no time token", async () => {
    const formId = /\/f\/([^"/]+)"/.exec(snippet)![1];
    const response = await fetch(`${server.url}/f/${formId}`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin: shopUrl },
      body: new URLSearchParams({ email: 'bot@example.org', lang: 'en' }),
    });
    expect(response.status).toBe(400);
    expect(await response.text()).toContain('The form was sent too quickly');
    expect(profile('bot@example.org')).toBeUndefined();
  });

  it('finds the consent in the app, erases the person, and the replica drops the profile at its next sync', async () => {
    await operator.goto(`${server.url}/audience`);
    await operator.getByText('10,001 profiles').first().waitFor({ timeout: 30_000 });
    await operator.getByRole('link', { name: 'Subscribers' }).click();
    await operator.getByLabel('Email address').fill('anna@example.org');
    await button(operator, 'Look up').click();
    const consents = operator.getByRole('table', { name: 'Consents' });
    await expect.poll(() => consents.textContent()).toContain('confirmed');
    expect(await consents.textContent()).toContain('Nieuwsbrief');
    await button(operator, 'Erase anna@example.org…').click();
    await operator.getByRole('dialog').getByRole('button', { name: 'Erase for good' }).click();
    await expect.poll(() => operator.getByRole('status').first().textContent()).toContain('is erased');
    expect(profile('anna@example.org')).toBeUndefined();
    expect(db.prepare('SELECT COUNT(*) FROM erased_addresses').pluck().get()).toBe(1);
    expect(db.prepare("SELECT COUNT(*) FROM consents WHERE email = 'anna@example.org'").pluck().get()).toBe(0);
    await operator.setViewportSize({ width: 390, height: 844 });
    await operator.screenshot({ path: '/tmp/shots/subscribers-390.png', fullPage: true });
    expect(await operator.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)).toBeLessThanOrEqual(0);
    await operator.setViewportSize({ width: 1400, height: 900 });
    await operator.goto(`${server.url}/audience`);
    await operator.getByText('10,000 profiles').first().waitFor({ timeout: 30_000 });
  });
});
