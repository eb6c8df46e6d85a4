/**
 * Experiments and control, end to end: the real server process with its built-in sink, the
 * built app in Chromium. A typology of the marketer's own holds out a control group; the
 * delivery prepared with it counts the group apart, the what-if and the why know it, nobody
 * in it is mailed, and the report compares it with the recipients. An A/B test splits its
 * test population evenly, the preview and the proofs show each variant, the dashboard states
 * the confidence from real clicks, and the variant the operator picks is what the rest gets.
 */

import { mkdirSync } from 'node:fs';
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
    await page.getByLabel('Control group: hold out').fill('10');
    // A share that would be most of the delivery is refused with what to do.
    await page.getByLabel('Control group: hold out').fill('60');
    await button('Save typology').click();
    await page.getByText('"Control group": hold out between 0.1 % and 50 % of the recipients.').waitFor();
    await page.getByLabel('Control group: hold out').fill('10');
    await page.getByLabel('Seed addresses of the typology').fill('team@shop.example.com');
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
    await whatIf.getByLabel('Control group: hold out').fill('20');
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
    // The typology's seed got its copy; it is no recipient.
    await expect.poll(() => db.prepare("SELECT COUNT(*) FROM mailbox WHERE envelope_to = 'team@shop.example.com'").pluck().get()).toBe(1);
    const mailed = db.prepare("SELECT envelope_to FROM mailbox WHERE envelope_to <> 'team@shop.example.com'").pluck().all() as string[];
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

describe('an A/B test', () => {
  let abUrl = '';
  let abId = '';
  /** The messages of the A/B test's delivery the sink received, in order. */
  const mailed = async () =>
    (
      await Promise.all((db.prepare('SELECT raw FROM mailbox ORDER BY id').all() as { raw: Buffer }[]).map((row) => simpleParser(row.raw)))
    ).filter((m) => m.headers.get('x-mailroom-delivery') === abId && m.headers.get('x-mailroom-seed') === undefined);

  it('is made on the delivery page: variant B changes the subject; the preview and the proofs show each variant', async () => {
    await page.goto(server.url);
    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    abUrl = page.url();
    abId = abUrl.split('/').pop()!;
    await page.getByLabel('Name', { exact: true }).fill('Coats, two subjects');
    const include = page.getByRole('group', { name: 'Include', exact: true });
    await include.getByRole('button', { name: 'Add condition' }).click();
    await page.getByLabel('Include, condition 1: field').selectOption({ label: 'City' });
    await page.getByLabel('Include, condition 1: operator').selectOption({ label: 'is one of' });
    await page.getByLabel('Include, condition 1: value').fill('Gent');
    await page.getByLabel('Try variants on a test population first, then send the winner to the rest').check();
    await page.getByRole('alert').filter({ hasText: 'Variant B changes nothing' }).waitFor();
    await page.getByLabel('Variant B subject').fill('B: new coats for {{ first_name | default: "you" }}');
    await page.getByLabel('Size of the test population').fill('40');
    await page.getByLabel('Winner by').selectOption({ label: 'unique clicks' });
    await page.getByLabel('Hours before the winner is chosen').fill('24');
    await page.getByLabel('Seed addresses of the delivery').fill('Seeds@Shop.example.com');
    await prepare();
    const toDeliver = await figure('To deliver');
    const test = Math.round(toDeliver * 0.4);
    const split = page.getByTestId('experiment-split');
    await expect
      .poll(() => split.textContent())
      .toMatch(
        new RegExp(
          `A/B test: ${test.toLocaleString('en-US')} of those to deliver in the test population \\(A ${Math.ceil(test / 2)}, B ${Math.floor(test / 2)}\\)`,
        ),
      );

    // The what-if knows the split: with the denylist rule off, more are to deliver, and 40 % of them are tested.
    const whatIf = page.getByRole('region', { name: 'What-if' });
    const row = (label: string) => whatIf.getByRole('row', { name: new RegExp(`^\\s*${label}`) });
    await expect.poll(() => row('In the A/B test population').textContent()).toContain(test.toLocaleString('en-US'));
    await whatIf.getByRole('checkbox', { name: 'Denylisted' }).uncheck();
    const more = Number((await row('To deliver').locator('td').first().textContent())!.replace(/,/g, ''));
    expect(more).toBeGreaterThan(toDeliver);
    await expect
      .poll(() => row('In the A/B test population').locator('td').first().textContent())
      .toBe(Math.round(more * 0.4).toLocaleString('en-US'));
    await whatIf.getByRole('checkbox', { name: 'Denylisted' }).check();
    const preview = page.getByRole('region', { name: 'Message preview' });
    await preview.getByLabel('Variant').selectOption({ label: 'B' });
    await expect.poll(() => preview.getByTestId('preview-subject').textContent()).toMatch(/^B: new coats for /);
    await preview.getByLabel('Variant').selectOption({ label: 'A' });
    await expect.poll(() => preview.getByTestId('preview-subject').textContent()).toMatch(/^Hello /);
    const before = db.prepare('SELECT COUNT(*) FROM mailbox').pluck().get() as number;
    await preview.getByLabel('Proof to (test addresses)').fill('me@shop.example.com');
    await preview.getByRole('button', { name: 'Send proof' }).click();
    await expect.poll(() => preview.getByRole('status', { name: 'Proof' }).textContent()).toMatch(/^Variants A to B: 1 proof sent/);
    const proofs = db.prepare('SELECT raw FROM mailbox ORDER BY id').all().slice(before) as { raw: Buffer }[];
    const subjects = await Promise.all(proofs.map(async (p) => (await simpleParser(p.raw)).subject));
    expect(subjects.sort()).toEqual([
      expect.stringMatching(/^\[Proof\] \[A\] Hello /),
      expect.stringMatching(/^\[Proof\] \[B\] B: new coats for /),
    ]);
    await page.screenshot({ path: '/tmp/shots/ab-editor.png', fullPage: true });
  });

  it('sends the test population, shows the confidence from real clicks, and the rest gets the variant the operator picks', async () => {
    await button('Send').click();
    await confirm('Yes, send').click();
    const counts = () =>
      Object.fromEntries(
        (
          db.prepare('SELECT status, COUNT(*) AS n FROM journal WHERE delivery_id = ? GROUP BY status').all(abId) as {
            status: string;
            n: number;
          }[]
        ).map((r) => [r.status, r.n]),
      );
    await expect.poll(() => counts().held ?? 0, { timeout: 30_000 }).toBeGreaterThan(0);
    await expect
      .poll(() => counts().sent ?? 0, { timeout: 30_000 })
      .toBe(Number(db.prepare('SELECT COUNT(*) FROM journal WHERE delivery_id = ? AND variant IS NOT NULL').pluck().get(abId)));
    // The sink may keep the last of them a moment after the journal heard its reply.
    const tested = Number(db.prepare('SELECT COUNT(*) FROM journal WHERE delivery_id = ? AND variant IS NOT NULL').pluck().get(abId));
    await expect.poll(async () => (await mailed()).length, { timeout: 10_000 }).toBe(tested);
    const messages = await mailed();
    const a = messages.filter((m) => m.subject!.startsWith('Hello'));
    const b = messages.filter((m) => m.subject!.startsWith('B: new coats'));
    expect(Math.abs(a.length - b.length)).toBeLessThanOrEqual(1);
    // People click (a second after delivery: not taken for a link scanner): 60 of B's, 15 of A's.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const click = async (m: (typeof messages)[number]) => {
      const link = /href="([^"]*\/t\/c\/[^"]+)"/.exec(String(m.html))![1];
      const response = await fetch(link, {
        redirect: 'manual',
        headers: { 'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/124.0 Safari/537.36' },
      });
      expect(response.status).toBe(302);
    };
    // The seed got a copy of each variant, marked, and in no figure.
    const seedCopies = (
      await Promise.all(
        (db.prepare('SELECT raw FROM mailbox WHERE envelope_to = ?').all('seeds@shop.example.com') as { raw: Buffer }[]).map((r) =>
          simpleParser(r.raw),
        ),
      )
    ).filter((m) => m.headers.get('x-mailroom-delivery') === abId);
    expect(seedCopies.map((m) => m.headers.get('x-mailroom-seed'))).toEqual(['yes', 'yes']);
    expect(seedCopies.map((m) => m.subject!.slice(0, 5)).sort()).toEqual(['B: ne', 'Hello']);
    const seeds = page.getByRole('table', { name: 'Seed copies' });
    await expect.poll(() => seeds.getByRole('row').count(), { timeout: 15_000 }).toBe(3);
    for (const m of b.slice(0, 60)) await click(m);
    for (const m of a.slice(0, 15)) await click(m);

    const panel = page.getByRole('region', { name: 'A/B test' });
    await expect
      .poll(() => panel.getByTestId('experiment-standing').textContent(), { timeout: 15_000 })
      .toMatch(/^B beats A with \d+ % confidence/);
    const variants = panel.getByRole('table', { name: 'Variants' });
    await expect.poll(() => variants.getByRole('row', { name: /^B/ }).textContent()).toContain('60');
    await page.screenshot({ path: '/tmp/shots/ab-dashboard.png', fullPage: false });
    await panel.screenshot({ path: '/tmp/shots/ab-panel.png' });

    await panel.getByRole('button', { name: 'Send B to the rest…' }).click();
    await confirm('Yes, send B').click();
    await expect
      .poll(() => db.prepare('SELECT status FROM deliveries WHERE id = ?').pluck().get(abId), { timeout: 60_000 })
      .toBe('completed');
    const all = await mailed();
    const rest = all.slice(messages.length);
    expect(rest.length).toBe(Number(counts().sent) - messages.length);
    expect(rest.length).toBeGreaterThan(0);
    expect(rest.filter((m) => !m.subject!.startsWith('B: new coats for ')).map((m) => m.subject)).toEqual([]);
    await expect
      .poll(() => panel.getByTestId('experiment-standing').textContent())
      .toMatch(/^B chosen by admin before the wait was over\./);
    await expect.poll(() => variants.getByRole('row', { name: /^B \(winner\)/ }).count()).toBe(1);
    await panel.screenshot({ path: '/tmp/shots/ab-panel-done.png' });
  });
});

describe('send times', () => {
  it('are set on the delivery page: waves and a local time, each checked and said by the preparation', async () => {
    await page.goto(server.url);
    await button('New delivery').click();
    await page.waitForURL(/\/deliveries\//);
    await page.getByLabel('Name', { exact: true }).fill('In waves');
    await page.getByLabel('In waves').check();
    await page.getByLabel('Wave sizes').fill('1000, 2000');
    await page.getByLabel('Hours between waves').fill('12');
    await prepare();
    const toDeliver = await figure('To deliver');
    const logLines = async () => {
      await button('Logs').click();
      const logs = page.getByRole('dialog', { name: 'Preparation logs' });
      const lines = await logs.getByRole('listitem').allTextContents();
      await logs.getByRole('button', { name: 'Close' }).click();
      return lines.join('\n');
    };
    const waves = 1 + Math.ceil((toDeliver - 1000) / 2000);
    expect(await logLines()).toContain(`Waves: ${toDeliver} messages in ${waves} waves, one every 12 h from the start.`);
    await page.getByLabel('In waves').uncheck();
    await page.getByLabel("At a time of day in each recipient's own time zone").check();
    await page.getByLabel('Local send time').fill('08:30');
    await page.getByLabel('Time zone for those without one').fill('Europe/Amsterdam');
    await page.getByText('prepare it again before sending').waitFor();
    // A local hour counts from a Send at: without one, the preparation says to set it.
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(status, { timeout: 30_000 }).toBe('Preparation failed');
    await expect.poll(() => page.getByTestId('failure').textContent()).toContain("A local send time counts from the delivery's Send at");
    await page.getByLabel(/^Send at/).fill('2030-01-15T07:00:00');
    await page.getByLabel('Sending window in hours after it (empty: no limit)').fill('3');
    await prepare();
    expect(await logLines()).toMatch(
      /Local time: each message is due at its recipient's local time, from \d{4}-\d\d-\d\d \d\d:\d\d to .* UTC; one that misses its 3 h window waits for the same time the next day\./,
    );
    await page.getByLabel('Time zone for those without one').fill('Amsterdam');
    await button('Prepare').click();
    await confirm('Yes, prepare').click();
    await expect.poll(status, { timeout: 30_000 }).toBe('Preparation failed');
    await expect
      .poll(() => page.getByTestId('failure').textContent())
      .toContain('"Amsterdam" is no time zone: give an IANA name (Europe/Amsterdam) for those without one.');
  });
});
