/**
 * A new user's audience, end to end (the real server, Chromium, the built app): a Dutch file
 * imported through the dialog — types, samples and conventions guessed, the opt-in column's
 * "no" warned about and imported as unsubscribed, a stray quote rejected with its line —,
 * search anywhere in a name, a profile's sends by delivery name, deleting one profile and
 * all matching a search, and removing the demo audience, each reaching another device's
 * replica; and the mailbox page with the app's navigation, search and pages, at 1,400 and
 * 390 px. Screenshots go to /tmp/shots-audience/.
 */

import { mkdirSync } from 'node:fs';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoAudience } from '../server/seed';
import { prepareAndSend, signIn, type Api } from './support/api';
import { launchBrowser, type TestBrowser } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

const PASSWORD = 'audience-journey-password';
const SHOTS = '/tmp/shots-audience';
const WIDE = { width: 1400, height: 900 };
const PHONE = { width: 390, height: 844 };

let server: ServerProcess;
let chromium: TestBrowser;
let api: Api;
/** The marketer's laptop, and another device with its own replica. */
let laptop: { context: BrowserContext; page: Page };
let other: { context: BrowserContext; page: Page };

async function signedIn(): Promise<{ context: BrowserContext; page: Page }> {
  const context = await chromium.browser.newContext({ viewport: WIDE, locale: 'en-GB', timezoneId: 'Europe/Amsterdam' });
  const page = await context.newPage();
  await page.goto(`${server.url}/login?next=/audience`);
  await page.getByLabel('Password').fill(PASSWORD);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Audience' }).waitFor();
  await page.getByTestId('replica-count').filter({ hasText: '10,000 profiles' }).waitFor({ timeout: 30_000 });
  return { context, page };
}

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  server = await startServer({ MAILROOM_ADMIN_PASSWORD: PASSWORD });
  chromium = await launchBrowser();
  api = await signIn(server.url, PASSWORD);
  laptop = await signedIn();
  other = await signedIn();
});

afterAll(async () => {
  await chromium?.close();
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
});

/** A demo profile with a valid address, to delete from the audience. */
const demoProfile = demoAudience().profiles.find((p) => p.email.endsWith('@example.org') && p.firstName)!;

/** The user's file: 40 rows as a Dutch spreadsheet saves them (";", decimal commas, day-month-year). */
const HEADER = 'E-mailadres;Voornaam;Achternaam;Woonplaats;Nieuwsbrief;Bedrag;Geboortedatum;Interesses';
const PEOPLE: string[][] = [
  ['sanne.dejong@klant.example', 'Sanne', 'de Jong', 'Zwolle', 'ja', '12,50', '31-12-1990', 'sport, reizen'],
  ['piet.jongbloed@klant.example', 'Piet', 'Jongbloed', 'Zwolle', 'ja', '1.234,56', '05-04-1985', 'koken'],
  ['mia.jongbloed@klant.example', 'Mia', 'Jongbloed', 'Zwolle', 'nee', '7,25', '17-08-1979', ''],
  ['tom.jongbloed@klant.example', 'Tom', 'Jongbloed', 'Zwolle', 'ja', '99', '01-02-2001', 'reizen'],
  ['kees@klant.example', 'Kees "KJ"', 'Klaassen', 'Zwolle', 'ja', '5', '01-01-1980', ''],
  ...Array.from({ length: 33 }, (_, i) => [
    `klant${i}@klant.example`,
    ['Anna', 'Bram', 'Fenna', 'Joris', 'Lieke', 'Ruben'][i % 6],
    ['Visser', 'van Dijk', 'Bakker', 'Smit', 'Mulder'][i % 5],
    'Zwolle',
    i < 6 ? 'nee' : 'ja',
    `${10 + i},${i % 10}0`,
    `${String(1 + (i % 28)).padStart(2, '0')}-${String(1 + (i % 12)).padStart(2, '0')}-19${60 + i}`,
    i % 2 ? 'sport' : 'koken, tuin',
  ]),
  // Two addresses again, the later row winning.
  ['klant0@klant.example', 'Anna', 'Visser-Jansen', 'Zwolle', 'nee', '10,00', '01-01-1960', 'koken'],
  ['klant1@klant.example', 'Bram', 'van Dijk', 'Zwolle', 'ja', '11,10', '02-02-1961', 'sport'],
];
const CSV = [
  HEADER,
  ...PEOPLE.map((row) => row.map((cell) => (/[;"]/.test(cell) && !cell.includes('"KJ"') ? `"${cell}"` : cell)).join(';')),
].join('\r\n');
/** Rows saying "nee": Mia, klant0 to klant5, and klant0 again. */
const SAID_NO = 8;
/** Profiles unsubscribed in the end: klant1 said "ja" in its later row. */
const UNSUBSCRIBED = 6;

/** Returns the texts of the overlay records of a page's replica: the profiles and deletions pulled after its first pull. */
const overlayOf = (page: Page) =>
  page.evaluate(
    () =>
      new Promise<{ emails: string[]; deleted: number[] }>((resolve, reject) => {
        const open = indexedDB.open('mailroom');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const all = open.result.transaction('overlay').objectStore('overlay').getAll();
          all.onsuccess = () => {
            const records = all.result as { profiles: { email: string }[]; deleted: number[] }[];
            resolve({ emails: records.flatMap((r) => r.profiles.map((p) => p.email)), deleted: records.flatMap((r) => r.deleted) });
            open.result.close();
          };
        };
      }),
  );

const findProfile = async (page: Page, query: string) => {
  await page.getByLabel('Find a profile by email or name').fill(query);
  return page.getByRole('list', { name: 'Matching profiles' });
};

describe("a new user's audience", () => {
  it('imports a Dutch file: types, samples and conventions guessed, the opt-in column warned about, a stray quote rejected', async () => {
    const { page } = laptop;
    await page.getByRole('button', { name: 'Import CSV' }).click();
    const dialog = page.getByRole('dialog', { name: 'Import profiles from CSV' });
    await dialog.getByLabel('CSV file').setInputFiles({ name: 'klanten.csv', mimeType: 'text/csv', buffer: Buffer.from(CSV) });
    await expect.poll(() => dialog.getByLabel('Map column E-mailadres').inputValue()).toBe('field:email');
    expect(await dialog.getByTestId('file-facts').textContent()).toMatch(
      /40 rows\s*· separated by\s*";"\s*· UTF-8\s*· 1 row has a stray quote and will be rejected/,
    );
    // Guessed from the values, with a few of them shown.
    expect(await dialog.getByLabel('Map column Nieuwsbrief').inputValue()).toBe('field:status');
    expect(await dialog.getByLabel('Type of the new attribute for Bedrag').inputValue()).toBe('number');
    expect(await dialog.getByLabel('Decimal mark of Bedrag').inputValue()).toBe(',');
    expect(await dialog.getByRole('row', { name: /^Bedrag/ }).textContent()).toContain('12,50 · 1.234,56 · 7,25');
    await dialog.getByText('Read as numbers with a decimal comma (1.234,56), as its values show.').waitFor();
    expect(await dialog.getByLabel('Type of the new attribute for Geboortedatum').inputValue()).toBe('date');
    expect(await dialog.getByLabel('Date order of Geboortedatum').inputValue()).toBe('dmy');
    await dialog.getByText('Read as dates written day-month-year (31-12-1990), as its values show.').waitFor();
    expect(await dialog.getByLabel('Type of the new attribute for Interesses').inputValue()).toBe('tags');
    expect(await dialog.getByRole('row', { name: /^Nieuwsbrief/ }).textContent()).toContain('ja · nee');
    // Who said no is imported as unsubscribed, and the dialog says so before anything is sent.
    await dialog.getByText(`${SAID_NO} profiles in this file said no: they will be imported as unsubscribed.`).waitFor();
    // Mapped otherwise, the dialog warns plainly and Import waits for an explicit choice.
    await dialog.getByLabel('Map column Nieuwsbrief').selectOption({ label: 'Do not import' });
    expect(await dialog.getByRole('alert').textContent()).toMatch(
      /"Nieuwsbrief" says no for 8\s+profiles\s+in this file, but it is not mapped to Subscription status: they would be imported as subscribed, and could be mailed\./,
    );
    const importButton = dialog.getByRole('button', { name: 'Import', exact: true });
    expect(await importButton.isDisabled()).toBe(true);
    await importButton.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/import-dialog-warning-1400.png` });
    await dialog.getByLabel('Import them as subscribed anyway').check();
    expect(await importButton.isDisabled()).toBe(false);
    await dialog.getByLabel('Map column Nieuwsbrief').selectOption({ label: 'Subscription status' });
    expect(await dialog.getByRole('alert').count()).toBe(0);
    await dialog.getByLabel('Map column Woonplaats').selectOption({ label: 'City' });
    await page.screenshot({ path: `${SHOTS}/import-dialog-1400.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/import-dialog-390.png`, fullPage: true });
    await importButton.scrollIntoViewIfNeeded();
    await page.screenshot({ path: `${SHOTS}/import-dialog-390-end.png` });
    expect(await dialog.evaluate((d) => d.scrollWidth <= d.clientWidth + 1)).toBe(true);
    await page.setViewportSize(WIDE);

    await importButton.click();
    const outcome = dialog.getByText(/^Imported 40 rows/);
    await outcome.waitFor({ timeout: 30_000 });
    expect(await outcome.textContent()).toBe(
      'Imported 40 rows: 37 new, 2 updated, 1 rejected. 8 said no and were imported as unsubscribed. 2 rows repeated an address seen earlier in the file; the later row won. Read "Bedrag" as numbers with a decimal comma (1.234,56); "Geboortedatum" as dates written day-month-year (31-12-1990).',
    );
    await page.screenshot({ path: `${SHOTS}/import-dialog-done-1400.png`, fullPage: true });
    const reportHref = await dialog.getByRole('link', { name: 'Download the report of rejected rows' }).getAttribute('href');
    const report = await page.evaluate(async (href) => (await fetch(href!)).text(), reportHref);
    expect(report).toBe(
      'line,email,reason\n6,kees@klant.example,"stray quote in column ""Voornaam"": a value holding a quote must be quoted, with the quote doubled ("""")"\n',
    );
    await dialog.getByRole('button', { name: 'Close' }).click();
    await page.getByText('10,037 profiles').waitFor({ timeout: 30_000 });

    // On the server: the values as the file meant them, and "nee" as unsubscribed by this import.
    const { profiles } = await api<{ profiles: { email: string; status: string; statusSource: string; attributes: object }[] }>(
      '/api/audience/changes?since=0&limit=20000',
    );
    const byEmail = (email: string) => profiles.find((p) => p.email === email)!;
    expect(byEmail('piet.jongbloed@klant.example').attributes).toEqual({
      city: 'Zwolle',
      bedrag: 1234.56,
      geboortedatum: '1985-04-05',
      interesses: ['koken'],
    });
    expect(byEmail('mia.jongbloed@klant.example')).toMatchObject({ status: 'unsubscribed', statusSource: 'import of klanten.csv' });
    expect(byEmail('klant0@klant.example')).toMatchObject({ status: 'unsubscribed', attributes: { bedrag: 10 } });
    expect(profiles.filter((p) => p.email.endsWith('@klant.example') && p.status === 'unsubscribed')).toHaveLength(UNSUBSCRIBED);
  });

  it('finds a word anywhere in a name or an address, in the local replica', async () => {
    const { page } = laptop;
    const results = await findProfile(page, 'jong');
    await results.getByRole('button', { name: /sanne\.dejong@klant\.example/ }).waitFor();
    // "de Jong" of the demo too, and "Jongbloed": the word is found inside the name, not only at its start.
    expect(await results.getByRole('button', { name: /de Jong$/ }).count()).toBeGreaterThan(1);
    expect(await page.getByText('The first 25 matches.').count()).toBe(1);
    const bloed = await findProfile(page, 'BLOED');
    await expect.poll(() => bloed.getByRole('button').count()).toBe(3);
    const named = await findProfile(page, 'sanne klant');
    await expect.poll(() => named.getByRole('button').allTextContents()).toEqual([expect.stringContaining('sanne.dejong@klant.example')]);
  });

  it("names the deliveries of a profile's recent sends", async () => {
    await prepareAndSend(api, 'journey-1', 'Zwolle,Haarlem');
    await expect
      .poll(async () => (await api<{ status: string }>('/api/deliveries/journey-1')).status, { timeout: 60_000 })
      .toBe('completed');
    const { page } = laptop;
    const results = await findProfile(page, 'sanne.dejong');
    await results.getByRole('button', { name: /sanne\.dejong@klant\.example/ }).click();
    const profile = page.getByRole('region', { name: 'Profile', exact: true });
    await expect.poll(() => profile.getByRole('list', { name: 'Recent sends' }).textContent()).toMatch(/ — Delivery journey-1\s*$/);
    await page.screenshot({ path: `${SHOTS}/audience-1400.png`, fullPage: true });
    await page.setViewportSize(PHONE);
    await page.screenshot({ path: `${SHOTS}/audience-390.png`, fullPage: true });
    await page.screenshot({ path: `${SHOTS}/audience-390-first-screen.png` });
    // The page's own content fits (the app's top bar is the layout's).
    expect(await page.evaluate(() => document.querySelector('main')!.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await page.setViewportSize(WIDE);
  });

  it("deletes one profile, or all matching a search, with a confirm saying how many; another device's replica follows, overlay included", async () => {
    // The other device pulled the import after its first pull: the imported profiles are in its overlay.
    await other.page.getByRole('button', { name: 'Sync now' }).click();
    await other.page.getByText('10,037 profiles').waitFor({ timeout: 30_000 });
    expect((await overlayOf(other.page)).emails).toContain('piet.jongbloed@klant.example');
    const { page } = laptop;
    const profile = page.getByRole('region', { name: 'Profile', exact: true });
    await profile.getByRole('button', { name: 'Delete profile' }).click();
    const confirmOne = page.getByRole('dialog', { name: 'Delete Sanne de Jong?' });
    expect(await confirmOne.textContent()).toContain('sanne.dejong@klant.example is removed from the audience of record');
    await confirmOne.getByRole('button', { name: 'Delete profile' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted sanne.dejong@klant.example.' }).waitFor();
    await profile.getByText('This profile is no longer in the audience.').waitFor();

    const matching = await findProfile(page, 'jongbloed');
    await expect.poll(() => matching.getByRole('button').count()).toBe(3);
    await page.getByRole('button', { name: 'Delete all matching…' }).click();
    const confirmAll = page.getByRole('dialog', { name: 'Delete 3 profiles?' });
    expect(await confirmAll.textContent()).toContain('All 3 profiles matching "jongbloed" are removed from the audience of record');
    await confirmAll.getByRole('button', { name: 'Delete 3 profiles' }).click();
    await page.getByRole('status').filter({ hasText: 'Deleted 3 profiles matching "jongbloed".' }).waitFor();
    await page.getByText('No profile in the local audience matches "jongbloed".').waitFor();

    // A profile of the demo, which the other device holds in its blocks.
    const demo = await findProfile(page, demoProfile.email);
    await demo.getByRole('button', { name: new RegExp(demoProfile.email.replace(/[.+]/g, '\\$&')) }).click();
    await profile.getByRole('button', { name: 'Delete profile' }).click();
    await page.getByRole('dialog').getByRole('button', { name: 'Delete profile' }).click();
    await page
      .getByRole('status')
      .filter({ hasText: `Deleted ${demoProfile.email}.` })
      .waitFor();
    await page.getByText('10,032 profiles').waitFor({ timeout: 30_000 });

    await other.page.getByRole('button', { name: 'Sync now' }).click();
    await other.page.getByText('10,032 profiles').waitFor({ timeout: 30_000 });
    for (const gone of ['sanne.dejong@klant', 'jongbloed', demoProfile.email]) {
      await findProfile(other.page, gone);
      await other.page.getByText(`No profile in the local audience matches "${gone}".`).waitFor();
    }
    expect((await overlayOf(other.page)).deleted).toHaveLength(5);
  });

  it('removes the demo audience in one action, with its fields; every replica learns the schema change', async () => {
    const { page } = laptop;
    const demo = page.getByRole('region', { name: 'Demo audience' });
    expect(await demo.textContent()).toContain("9,999 profiles of this audience are the demo's");
    await demo.getByRole('button', { name: 'Remove the demo audience' }).click();
    const confirm = page.getByRole('dialog', { name: 'Remove the demo audience?' });
    expect(await confirm.textContent()).toContain('9,999 generated profiles of the demo are deleted');
    await confirm.getByRole('button', { name: 'Remove the demo audience' }).click();
    await page
      .getByRole('status')
      .filter({
        hasText:
          'Removed 9,999 demo profiles. Removed the fields Loyalty points, VIP, Birth date, Interests. Kept the fields City: profiles of yours have values for them.',
      })
      .waitFor({ timeout: 30_000 });
    await page.getByText('33 profiles', { exact: true }).waitFor({ timeout: 30_000 });
    expect(await demo.count()).toBe(0);

    await other.page.getByRole('button', { name: 'Sync now' }).click();
    await other.page.getByText('33 profiles', { exact: true }).waitFor({ timeout: 30_000 });
    const results = await findProfile(other.page, 'klant');
    await expect.poll(() => results.getByRole('button').count()).toBe(25);
    await results.getByRole('button', { name: /klant5@klant\.example/ }).click();
    const detail = other.page.getByRole('region', { name: 'Profile', exact: true });
    await detail.getByText('Bedrag').waitFor();
    const fields = await detail.locator('dt').allTextContents();
    expect(fields).toContain('City');
    expect(fields).not.toContain('Loyalty points');
    expect(fields).not.toContain('Interests');
  });

  it("the mailbox page has the app's navigation, search and pages, also at 390 px, without a script", async () => {
    const { page } = laptop;
    await page.goto(`${server.url}/mailbox`);
    const nav = page.getByRole('navigation', { name: 'Main' });
    expect(await nav.getByRole('link').allTextContents()).toEqual(['Deliveries', 'Audience', 'Typologies', 'Settings', 'Mailbox']);
    const total = await page.getByRole('status').textContent();
    expect(total).toMatch(/^[\d,]+ messages received by the built-in SMTP sink; showing 1–50 of [\d,]+, newest first\.$/);
    await page.getByRole('link', { name: 'Older →' }).first().click();
    expect(await page.getByRole('status').textContent()).toMatch(/showing 51–100 of/);
    await page.getByRole('link', { name: '← Newer' }).first().click();
    expect(await page.getByRole('status').textContent()).toMatch(/showing 1–50 of/);
    await page.screenshot({ path: `${SHOTS}/mailbox-1400.png`, fullPage: true });

    await page.getByLabel('Search by recipient, sender or subject').fill('klant7@klant.example');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByText(/^1 of [\d,]+ messages match “klant7@klant\.example”; showing 1–1 of 1, newest first\./).waitFor();
    expect(await page.getByRole('row').count()).toBe(2);
    await page.getByLabel('Search by recipient, sender or subject').fill('hello bram');
    await page.getByRole('button', { name: 'Search' }).click();
    const bram = await page.getByRole('status').textContent();
    expect(Number(/^([\d,]+) of/.exec(bram!)![1].replace(/,/g, ''))).toBeGreaterThan(0);

    await page.setViewportSize(PHONE);
    await page.goto(`${server.url}/mailbox`);
    await page.screenshot({ path: `${SHOTS}/mailbox-390.png`, fullPage: true });
    await page.screenshot({ path: `${SHOTS}/mailbox-390-first-screen.png` });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    expect(await page.locator('script').count()).toBe(0);
    await page
      .getByRole('link', { name: /./ })
      .filter({ hasText: /^Hello/ })
      .first()
      .click();
    await page.getByRole('link', { name: 'Back to the mailbox' }).waitFor();
    await page.screenshot({ path: `${SHOTS}/mailbox-message-390.png`, fullPage: true });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await page.setViewportSize(WIDE);
    await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Audience' }).click();
    await page.getByRole('heading', { name: 'Audience' }).waitFor();
  });
});
