/**
 * Mailroom end to end, as a marketer uses it: the real server process (as `npm start` runs
 * it, with its built-in SMTP sink), the built app in Debian's Chromium, real IndexedDB, real
 * HTTP and SMTP. Controls are found by role and accessible name; the numbers are checked
 * against the seeded audience in the SQLite file.
 */

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { simpleParser } from 'mailparser';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { isValidEmail, normalizeEmail } from '../shared/email-address';
import { goOffline, launchBrowser, type TestBrowser, codeText, fillCode } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

let server: ServerProcess;
let chromium: TestBrowser;
let context: BrowserContext;
let page: Page;
let db: Database.Database;

beforeAll(async () => {
  // A send rate low enough to watch Pause and Resume take effect.
  server = await startServer({ MAILROOM_SEND_RATE: '150' });
  db = new Database(join(server.dataDir, 'mailroom.db'), { readonly: true });
  chromium = await launchBrowser();
  context = await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
});

// A failing step leaves a screenshot behind, for whoever reads the CI log.
afterEach(async (test) => {
  if (test.task.result?.state === 'fail' && page) {
    const file = join(tmpdir(), `mailroom-e2e-${test.task.name.replace(/\W+/g, '-').slice(0, 60)}.png`);
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

/**
 * The expected preparation of the demo audience for one city, computed from the database
 * itself with the rules as the README states them: unsubscribed, denylisted, quarantined,
 * invalid address, then a second address of a mailbox already kept (case, "+tag", and
 * dots in Gmail addresses do not make another mailbox).
 */
function expectedFor(city: string, without: 'unsubscribed' | 'denylisted' | null = null, fewerPointsThan: number | null = null) {
  const rows = db
    .prepare(
      `SELECT p.email, p.status, d.email IS NOT NULL AS denylisted, q.email IS NOT NULL AS quarantined,
         json_extract(p.attributes, '$.loyalty_points') AS points
       FROM profiles p LEFT JOIN denylist d ON d.email = p.email LEFT JOIN quarantine q ON q.email = p.email
       WHERE lower(json_extract(p.attributes, '$.city')) = lower(?) ORDER BY p.id`,
    )
    .all(city) as { email: string; status: string; denylisted: number; quarantined: number; points: number | null }[];
  const mailbox = (address: string) => {
    const [user, domain] = address.split('@');
    const local = user.split('+')[0];
    return domain === 'gmail.com' ? `${local.replaceAll('.', '')}@gmail.com` : `${local}@${domain}`;
  };
  const seen = new Set<string>();
  const counts = { unsubscribed: 0, denylisted: 0, quarantined: 0, invalid: 0, fewPoints: 0, duplicates: 0 };
  for (const row of rows) {
    const address = normalizeEmail(row.email);
    if (row.status === 'unsubscribed' && without !== 'unsubscribed') counts.unsubscribed++;
    else if (row.denylisted && without !== 'denylisted') counts.denylisted++;
    else if (row.quarantined) counts.quarantined++;
    else if (!isValidEmail(address)) counts.invalid++;
    else if (fewerPointsThan !== null && row.points !== null && row.points < fewerPointsThan) counts.fewPoints++;
    else if (seen.has(mailbox(address))) counts.duplicates++;
    else seen.add(mailbox(address));
  }
  const excluded = Object.values(counts).reduce((a, b) => a + b, 0);
  return { targeted: rows.length, toDeliver: seen.size, excluded, ...counts };
}

// The app's IndexedDB, read and written in the page. (Functions, not strings: the app's
// Content-Security-Policy forbids evaluating strings in the page.)

/** Returns how many profiles the replica's blocks hold. */
const storedProfiles = () =>
  page.evaluate(async () => {
    const db = await new Promise<IDBDatabase>(
      (done) => (indexedDB.open('mailroom').onsuccess = (e) => done((e.target as IDBOpenDBRequest).result)),
    );
    try {
      const all = await new Promise<{ ids: ArrayLike<number> }[]>(
        (done) => (db.transaction('blocks').objectStore('blocks').getAll().onsuccess = (e) => done((e.target as IDBRequest).result)),
      );
      return all.reduce((n, block) => n + block.ids.length, 0);
    } finally {
      db.close();
    }
  });

/**
 * Gives the local replica 1,000,000 more profiles (outside the audience) so a preparation is
 * still scanning when Stop is clicked; `remove` takes them out again. Written in the
 * replica's stored block format (replica-blocks.ts).
 */
const filler = (remove: boolean) =>
  page.evaluate(async (remove) => {
    const db = await new Promise<IDBDatabase>(
      (done) => (indexedDB.open('mailroom').onsuccess = (e) => done((e.target as IDBOpenDBRequest).result)),
    );
    try {
      const tx = db.transaction('blocks', 'readwrite');
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
      db.close();
    }
  }, remove);

const kpi = (name: string) => page.getByRole('group', { name, exact: true }).locator('output');
const number = async (name: string) => Number((await kpi(name).textContent())!.replace(/,/g, ''));
const button = (name: string) => page.getByRole('button', { name, exact: true });
const confirm = (name: string) => page.getByRole('dialog').getByRole('button', { name, exact: true });
const serverStatus = (id: string) =>
  (db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck().get(id) as string | undefined) ?? null;
/** Messages the sink received for recipients (proofs go to proof@example.com). */
const sinkCount = () => db.prepare("SELECT COUNT(*) FROM mailbox WHERE envelope_to <> 'proof@example.com'").pluck().get() as number;

async function waitForNumber(name: string, predicate: (n: number) => boolean, timeout = 30_000) {
  await expect.poll(() => number(name), { timeout, interval: 100 }).toSatisfy(predicate);
}

describe('Mailroom, walked through as a marketer', () => {
  let deliveryUrl = '';
  let deliveryId = '';
  const utrecht = () => expectedFor('Utrecht');

  it('1. starts with a SQLite file in WAL mode, a seeded demo audience, and says how to sign in', async () => {
    expect(server.output()).toContain('demo audience of 10,000 profiles seeded');
    expect(server.password).toMatch(/^[\w-]{12,}$/);
    expect(server.mailboxUrl).toBe(`${server.url}/mailbox`);
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT COUNT(*) FROM profiles').pluck().get()).toBe(10_000);
    const hash = db.prepare("SELECT password_hash FROM users WHERE username = 'admin'").pluck().get() as string;
    expect(hash).toMatch(/^scrypt\$/);
    expect(hash).not.toContain(server.password);
  });

  it('2. refuses the API without a session, and signs in through the form', async () => {
    expect((await fetch(`${server.url}/api/deliveries`)).status).toBe(401);
    await page.goto(server.url);
    await page.waitForURL(/\/login/);
    await page.getByLabel('Username').fill('admin');
    await page.getByLabel('Password').fill('wrong');
    await button('Sign in').click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('The username or password is wrong.');
    await page.getByLabel('Password').fill(server.password);
    await button('Sign in').click();
    await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
    const cookie = (await context.cookies()).find((c) => c.name === 'mailroom_session')!;
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict' });
  });

  it('3. pulls the audience into IndexedDB and says how fresh it is', async () => {
    await page.getByText('10,000 profiles').waitFor({ timeout: 30_000 });
    await expect.poll(() => page.getByRole('region', { name: 'Local audience' }).textContent()).toMatch(/as of .*\d/);
    // The replica is packed in blocks of profiles: count what they hold.
    expect(await storedProfiles()).toBe(10_000);
  });

  it('4. creates a delivery with personalization, an unsubscribe link and an audience condition', async () => {
    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    deliveryUrl = page.url();
    deliveryId = deliveryUrl.split('/').pop()!;
    await page.getByLabel('Name', { exact: true }).fill('Autumn in Utrecht');
    await page.getByLabel('From name').fill('Mailroom Shop');
    await page.getByLabel('From address').fill('news@shop.example.com');
    await fillCode(page, 'Subject', 'Hello {{ first_name | default: "there" }}, autumn is here');
    await expect.poll(() => codeText(page, 'HTML body')).toContain('{{ unsubscribe_url }}');
    await page.getByRole('group', { name: 'Include', exact: true }).getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'City' });
    await page.getByLabel('Include, condition 1: operator').selectOption({ label: 'equals' });
    await page.getByLabel('Include, condition 1: value').fill('Utrecht');
    // The summary reads as a sentence, with the field's label.
    await page.getByText('City equals "Utrecht"', { exact: true }).waitFor();
    // The builder counts the local audience as it is edited.
    await expect
      .poll(() => page.getByRole('status', { name: 'Live count' }).textContent())
      .toBe(`${utrecht().targeted.toLocaleString('en-US')} profiles in the local audience match`);
  });

  it('5. prepares (with a confirm) and shows Targeted, To deliver, Excluded by cause and the logs', async () => {
    const expected = utrecht();
    await button('Prepare').click();
    await page.getByRole('dialog', { name: 'Prepare this delivery?' }).waitFor();
    await confirm('Yes, prepare').click();
    await page.getByTestId('last-log').waitFor({ timeout: 30_000 });
    expect(await number('Targeted')).toBe(expected.targeted);
    expect(await number('To deliver')).toBe(expected.toDeliver);
    expect(await number('Excluded')).toBe(expected.excluded);
    expect(expected.targeted).toBe(expected.toDeliver + expected.excluded);
    const chart = page.getByRole('figure', { name: 'Excluded by rule' });
    for (const [label, count] of [
      ['Unsubscribed', expected.unsubscribed],
      ['Denylisted', expected.denylisted],
      ['Quarantined', expected.quarantined],
      ['Invalid address', expected.invalid],
      ['Duplicate address', expected.duplicates],
    ] as const) {
      if (count > 0) await expect.poll(() => chart.getByRole('listitem').filter({ hasText: label }).textContent()).toContain(String(count));
    }
    expect(await page.getByTestId('delivery-status').textContent()).toBe('Prepared');
    // What-if: switching the Unsubscribed rule off changes the figures at once, and only there.
    const whatIf = page.getByRole('region', { name: 'What-if' });
    const row = (label: string) => whatIf.getByRole('row', { name: new RegExp(`^\\s*${label}`) });
    await expect.poll(() => row('To deliver').textContent()).toContain('same');
    await whatIf.getByRole('checkbox', { name: 'Unsubscribed' }).uncheck();
    const withoutRule = expectedFor('Utrecht', 'unsubscribed');
    await expect
      .poll(() => row('To deliver').textContent())
      .toBe(
        `To deliver${withoutRule.toDeliver.toLocaleString('en-US')}${expected.toDeliver.toLocaleString('en-US')}+${(withoutRule.toDeliver - expected.toDeliver).toLocaleString('en-US')}`,
      );
    expect(await number('To deliver')).toBe(expected.toDeliver);
    await whatIf.getByRole('checkbox', { name: 'Unsubscribed' }).check();
    await expect.poll(() => row('To deliver').textContent()).toContain('same');
    // Why: an excluded profile, and one outside the audience, each with its reason.
    const why = page.getByRole('region', { name: 'Why is this person in or out?' });
    const unsubscribed = db
      .prepare("SELECT email FROM profiles WHERE status = 'unsubscribed' AND json_extract(attributes, '$.city') = 'Utrecht' LIMIT 1")
      .pluck()
      .get() as string;
    await why.getByLabel('Email of the person').fill(unsubscribed);
    await why.getByRole('button', { name: 'Explain' }).click();
    await expect.poll(() => why.getByRole('status').textContent()).toBe(`${unsubscribed}: Excluded by the rule "Unsubscribed".`);
    const elsewhere = db
      .prepare("SELECT email FROM profiles WHERE json_extract(attributes, '$.city') = 'Gent' LIMIT 1")
      .pluck()
      .get() as string;
    await why.getByLabel('Email of the person').fill(elsewhere);
    await why.getByRole('button', { name: 'Explain' }).click();
    await expect.poll(() => why.getByRole('status').textContent()).toBe(`${elsewhere}: Not targeted: the profile is not in the audience.`);
    expect(await why.getByRole('listitem').filter({ hasText: 'city equals "Utrecht"' }).textContent()).toContain('(value: Gent)');
    await button('Logs').click();
    const logs = page.getByRole('dialog', { name: 'Preparation logs' });
    // (The "Links reachable" control rule may warn about the server's public address.)
    expect(await logs.getByRole('listitem').last().textContent()).toMatch(/Preparation finished: 0 errors, (0 warnings|1 warning)\.$/);
    await logs.getByRole('button', { name: 'Close' }).click();
  });

  it("5. a typology of the marketer's own: a condition rule added, a rule off, picked for the delivery, its what-if and why", async () => {
    await page.getByRole('link', { name: 'Manage typologies' }).click();
    await page.getByRole('button', { name: 'Default', exact: true }).click();
    expect(await page.getByRole('checkbox', { name: 'Denylisted: on' }).isDisabled()).toBe(true); // read-only
    await button('Make a copy').click();
    await page.getByText('Copy made: edit it and save.').waitFor();
    await page.getByLabel('Typology name').fill('Loyal only');
    await button('Add condition rule').click();
    await page.getByLabel('Rule My condition, condition 1: field').selectOption({ label: 'Loyalty points' });
    await page.getByLabel('Rule My condition, condition 1: operator').selectOption({ label: 'is less than' });
    await page.getByLabel('Rule My condition, condition 1: value').fill('100');
    await page.getByLabel('Name of rule My condition').fill('Few points');
    await page.getByRole('checkbox', { name: 'Denylisted: on' }).uncheck();
    await button('Save typology').click();
    await page.getByText('Typology "Loyal only" saved.').waitFor();

    await page.goto(deliveryUrl);
    await page.getByLabel('Typology').selectOption({ label: 'Loyal only' });
    await page.getByText('prepare it again before sending').waitFor();
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
    const mine = expectedFor('Utrecht', 'denylisted', 100);
    expect(mine.fewPoints).toBeGreaterThan(0);
    expect(await number('To deliver')).toBe(mine.toDeliver);
    const chart = page.getByRole('figure', { name: 'Excluded by rule' });
    await expect.poll(() => chart.getByRole('listitem').filter({ hasText: 'Few points' }).textContent()).toContain(String(mine.fewPoints));
    expect(await chart.getByRole('listitem').filter({ hasText: 'Denylisted' }).count()).toBe(0);

    // What-if on the marketer's rule: off, the profiles it held back come in.
    const whatIf = page.getByRole('region', { name: 'What-if' });
    const row = (label: string) => whatIf.getByRole('row', { name: new RegExp(`^\\s*${label}`) });
    await whatIf.getByRole('checkbox', { name: 'Few points' }).uncheck();
    const without = expectedFor('Utrecht', 'denylisted');
    await expect.poll(() => row('To deliver').textContent()).toContain(`+${(without.toDeliver - mine.toDeliver).toLocaleString('en-US')}`);
    // Why names the rule for a profile it excluded.
    const why = page.getByRole('region', { name: 'Why is this person in or out?' });
    const few = db
      .prepare(
        `SELECT p.email FROM profiles p WHERE json_extract(p.attributes, '$.city') = 'Utrecht' AND p.status = 'subscribed'
           AND json_extract(p.attributes, '$.loyalty_points') < 100 AND p.email NOT IN (SELECT email FROM quarantine)
           AND p.email LIKE '%@%.%' AND p.email NOT LIKE '%+%' LIMIT 1`,
      )
      .pluck()
      .get() as string;
    await why.getByLabel('Email of the person').fill(few);
    await why.getByRole('button', { name: 'Explain' }).click();
    await expect.poll(() => why.getByRole('status').textContent()).toBe(`${few}: Excluded by the rule "Few points".`);

    // Back to the default typology: stale again, and prepared as before.
    await page.getByLabel('Typology').selectOption({ label: 'Default' });
    await page.getByText('prepare it again before sending').waitFor();
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
    expect(await number('To deliver')).toBe(utrecht().toDeliver);
  });

  it('5. Stop preparation cancels and leaves the delivery as it was; an edit asks for a new preparation', async () => {
    const before = await number('To deliver');
    await fillCode(page, 'Subject', 'Hello {{ first_name | default: "there" }}, autumn has arrived');
    await page.getByText('prepare it again before sending').waitFor();
    expect(await button('Send').isDisabled()).toBe(true);
    // Ten thousand profiles prepare in a blink: give the local replica 1,000,000 more (outside
    // the audience) so the preparation is still scanning when Stop is clicked.
    await filler(false);
    try {
      await button('Prepare').click();
      await confirm('Yes, prepare').click();
      await page.getByRole('progressbar', { name: 'Preparation progress' }).waitFor();
      // No wait for the button to sit still: the page re-renders progress while it scans.
      await button('Stop preparation').click({ force: true });
      await page.getByText('Preparation stopped; the delivery is as it was.').waitFor();
    } finally {
      await filler(true); // the later steps count the real audience
    }
    expect(await page.getByTestId('delivery-status').textContent()).toBe('Needs a new preparation');
    expect(await button('Send').isDisabled()).toBe(true);
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
    expect(await number('To deliver')).toBe(before);
  });

  it('5. a template error fails the preparation, with line and column in the logs', async () => {
    const html = await codeText(page, 'HTML body');
    await fillCode(page, 'HTML body', html.replace('{{ city }}', '{{ city '));
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Preparation failed');
    expect(await page.getByTestId('last-log').textContent()).toMatch(/^Preparation failed: 1 error, (0 warnings|1 warning)\.$/);
    // The KPI area says why and where, and still counts the target.
    expect(await page.getByRole('alert').filter({ hasText: 'Preparation failed:' }).textContent()).toMatch(
      /^\s*Preparation failed: Template error in the HTML body at line \d+, column \d+: /,
    );
    await expect.poll(() => kpi('Targeted').textContent()).toBe(utrecht().targeted.toLocaleString('en-US'));
    expect(await kpi('To deliver').textContent()).toBe('—');
    await button('Logs').click();
    await page
      .getByRole('dialog', { name: 'Preparation logs' })
      .getByText(/Template error in the HTML body at line \d+, column \d+/)
      .waitFor();
    await page.getByRole('dialog', { name: 'Preparation logs' }).getByRole('button', { name: 'Close' }).click();
    expect(await button('Send').isDisabled()).toBe(true);
    await fillCode(page, 'HTML body', html);
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
  });

  it('6. previews a recipient in a sandboxed iframe', async () => {
    const preview = page.getByRole('region', { name: 'Message preview' });
    await preview.getByRole('button', { name: 'Next recipient' }).click();
    await preview.getByText(/^Recipient 2 of/).waitFor();
    const email = (await page.getByTestId('preview-to').textContent())!;
    const profile = db.prepare('SELECT first_name AS firstName FROM profiles WHERE email = ?').get(email) as { firstName: string };
    const greeting = `Hello ${profile.firstName || 'there'},`;
    const frame = page.frameLocator('iframe[title="Message preview"]');
    await expect.poll(() => frame.locator('h1').textContent()).toBe(greeting);
    expect(await page.locator('iframe[title="Message preview"]').getAttribute('sandbox')).toBe('');
    expect(await page.getByTestId('preview-subject').textContent()).toBe(`Hello ${profile.firstName || 'there'}, autumn has arrived`);
    // A proof of this recipient's message, to a test address.
    await preview.getByLabel('Proof to (test addresses)').fill('proof@example.com');
    await preview.getByRole('button', { name: 'Send proof' }).click();
    await expect.poll(() => preview.getByRole('status', { name: 'Proof' }).textContent()).toBe('1 proof sent to proof@example.com.');
    const proof = await simpleParser(db.prepare("SELECT raw FROM mailbox WHERE envelope_to = 'proof@example.com'").pluck().get() as Buffer);
    expect(proof.subject).toBe(`[Proof] Hello ${profile.firstName || 'there'}, autumn has arrived`);
  });

  it('7. sends (with a confirm); Delivered rises live; Pause holds it; Resume finishes it', async () => {
    const toDeliver = await number('To deliver');
    await button('Send').click();
    await page.getByRole('dialog', { name: 'Send this delivery?' }).waitFor();
    await confirm('Yes, send').click();
    await waitForNumber('Delivered', (n) => n > 0);
    await button('Pause').click();
    await expect.poll(() => serverStatus(deliveryId)).toBe('paused');
    const atPause = sinkCount();
    await page.waitForTimeout(500); // messages already in flight finish
    const held = sinkCount();
    expect(held - atPause).toBeLessThanOrEqual(10); // at most what the pool had in flight
    await page.waitForTimeout(1000);
    expect(sinkCount()).toBe(held);
    expect(held).toBeLessThan(toDeliver);
    await waitForNumber('Delivered', (n) => n === held);
    await button('Resume').click();
    await waitForNumber('Delivered', (n) => n === toDeliver, 60_000);
    expect(sinkCount()).toBe(toDeliver);
    await expect.poll(() => page.getByTestId('delivery-status').textContent()).toBe('Sent');
    expect(await page.getByRole('group', { name: 'Delivered' }).textContent()).toContain(
      '100% of Targeted'.replace('100', String(Math.round((toDeliver / utrecht().targeted) * 1000) / 10)),
    );
  });

  it('8. opening a message in the mailbox and clicking its link raise Opens and Clicks within a second', async () => {
    // The recipient's side: signed in (the mailbox page needs it), but not the app's tab, so
    // the app's service worker does not handle its requests.
    const reader = await chromium.browser.newContext({ storageState: await context.storageState(), serviceWorkers: 'block' });
    // A person reads the newest message a while after it arrived: a click within a second of
    // delivery is a link scanner's mark (tracking/classify.ts), and this browser is fast.
    await page.waitForTimeout(1_500);
    const mailbox = await reader.newPage();
    await mailbox.goto(server.mailboxUrl);
    await mailbox
      .getByRole('link', { name: /autumn has arrived/ })
      .first()
      .click();
    const message = mailbox.frameLocator('iframe[title="Message"]');
    await message.locator('h1').waitFor();
    await waitForNumber('Opens', (n) => n === 1, 2_000);
    const popup = mailbox.waitForEvent('popup');
    await message.getByRole('link', { name: 'See the collection' }).click();
    const opened = await popup;
    await opened.waitForURL(/shop\.example\.com\/autumn/).catch(() => undefined);
    await waitForNumber('Clicks', (n) => n === 1, 2_000);
    expect(await page.getByRole('group', { name: 'Opens' }).textContent()).toMatch(/% of Delivered/);
    await reader.close();
    // The reports: the chart, the top link, and the clicker in the delivery log.
    const reports = page.getByRole('region', { name: 'Reports' });
    await expect
      .poll(() => reports.getByRole('table', { name: 'Top links' }).textContent(), { timeout: 10_000 })
      .toContain('https://shop.example.com/autumn');
    expect(await reports.getByRole('img').getAttribute('aria-label')).toMatch(/^1 opens and 1 clicks by minute/);
    expect(await reports.getByTestId('machine-activity').textContent()).toContain('0 opens by privacy proxies, 0 clicks by link scanners');
    await reports.getByLabel('Show').selectOption('clicked');
    const log = reports.getByRole('table', { name: 'Delivery log' });
    await expect.poll(() => log.getByRole('row').count()).toBe(2);
    expect(await log.getByRole('row').nth(1).textContent()).toMatch(/sent.*yes.*yes/);
    const download = page.waitForEvent('download');
    await reports.getByRole('link', { name: 'Export CSV' }).click();
    const csv = await (await download).createReadStream();
    let text = '';
    for await (const chunk of csv) text += chunk;
    expect(text.split('\r\n')[0]).toBe('seq,email,status,smtp_reply,attempts,opened,clicked,updated_at,rule,cause');
    expect(text.trim().split('\r\n')).toHaveLength(2);
  });

  it('7. a scheduled delivery starts by itself; Stop ends it for good', async () => {
    await page.goto(server.url);
    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    const id = page.url().split('/').pop()!;
    await page.getByLabel('Name', { exact: true }).fill('Scheduled for everyone');
    // Far enough ahead to prepare and click Schedule before the time comes, on a busy machine too.
    const at = new Date(Date.now() + 20_000);
    const local = await page.evaluate((ms) => {
      const d = new Date(ms);
      return new Date(ms - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 19);
    }, at.getTime());
    await page.getByLabel(/^Send at/).fill(local);
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
    // With a Send at, the one button to press is Schedule; the server does not know the delivery yet.
    expect(await button('Send').count()).toBe(0);
    expect(serverStatus(id)).toBeNull();
    await button('Schedule').click();
    await page.getByRole('dialog', { name: 'Schedule this delivery?' }).waitFor();
    await confirm('Yes, schedule').click();
    // On a busy machine the hand-over may finish after the scheduled time; either way the
    // delivery must not start before it.
    await expect.poll(() => serverStatus(id), { timeout: 30_000 }).toMatch(/^(scheduled|sending)$/);
    await expect.poll(() => serverStatus(id), { timeout: 30_000 }).toBe('sending');
    const times = db.prepare('SELECT scheduled_at AS scheduledAt, started_at AS startedAt FROM deliveries WHERE id = ?').get(id) as {
      scheduledAt: string;
      startedAt: string;
    };
    expect(Date.parse(times.startedAt)).toBeGreaterThanOrEqual(Date.parse(times.scheduledAt));
    await waitForNumber('Delivered', (n) => n > 0);
    await button('Stop').click();
    await page.getByRole('dialog', { name: 'Stop this delivery for good?' }).waitFor();
    await confirm('Yes, stop').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent()).toBe('Stopped');
    expect(await button('Resume').isDisabled()).toBe(true);
    expect(await button('Pause').isDisabled()).toBe(true);
    const resume = await page.evaluate(
      async (deliveryId) => (await fetch(`/api/deliveries/${deliveryId}/resume`, { method: 'POST' })).status,
      id,
    );
    expect(resume).toBe(409);
  });

  it('settings: Test connection reaches the built-in sink; a relay that is not SMTP is refused with the reason', async () => {
    await page.getByRole('link', { name: 'Settings' }).click();
    await button('Test connection').click();
    await expect
      .poll(() => page.getByRole('status', { name: 'Connection test' }).textContent())
      .toBe('Connected to the built-in sink: ready to send.');
    await page.getByRole('radio', { name: 'An SMTP relay' }).check();
    await page.getByLabel('Relay URL').fill('http://relay.example.com');
    await button('Save settings').click();
    // (The page may also warn about the public address tracking links use: another alert.)
    await page.getByRole('alert').filter({ hasText: 'the relay must look like smtp://' }).waitFor();
    await page.getByRole('radio', { name: /The built-in sink/ }).check();
    await page.getByLabel('Connections').fill('4');
    await button('Save settings').click();
    await page.getByText('Settings saved: new messages go out with them now.').waitFor();
    await page.reload();
    await expect.poll(() => page.getByLabel('Connections').inputValue()).toBe('4');
  });

  it('9. offline, the app still loads, and a delivery can be edited, prepared and previewed', async () => {
    await page.goto(server.url);
    await goOffline(page);
    await page.getByText('Offline — working from the local copy').waitFor();
    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    await page.getByLabel('Name', { exact: true }).fill('Prepared offline');
    await page.getByRole('group', { name: 'Include', exact: true }).getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'City' });
    await page.getByLabel('Include, condition 1: value').fill('Gent');
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 30_000 }).toBe('Prepared');
    expect(await number('Targeted')).toBe(expectedFor('Gent').targeted);
    expect(await number('To deliver')).toBe(expectedFor('Gent').toDeliver);
    const frame = page.frameLocator('iframe[title="Message preview"]');
    await expect.poll(() => frame.locator('h1').textContent()).toMatch(/^Hello .+,$/);
    // Send waits in the outbox and says so.
    await button('Send').click();
    expect(await page.getByRole('dialog', { name: 'Send this delivery?' }).textContent()).toContain(
      'will be sent when the device is back online',
    );
    await confirm('Yes, send').click();
    await page.getByText('the delivery will be sent when the device is back online').waitFor();
    const id = page.url().split('/').pop()!;
    expect(serverStatus(id)).toBeNull();
    // Back online, the outbox hands the batch over by itself and the delivery is sent.
    await context.setOffline(false);
    await expect.poll(() => page.getByTestId('delivery-status').textContent(), { timeout: 60_000 }).toBe('Sent');
    expect(serverStatus(id)).toBe('completed');
    expect(await number('Delivered')).toBe(expectedFor('Gent').toDeliver);
  });
});
