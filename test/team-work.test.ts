/**
 * A team on one delivery, end to end: the real server process, the built app in three
 * Chromium contexts signed in as three operators (an admin, a marketer, a viewer), each with
 * its own IndexedDB. Edits of different fields made offline and online both arrive; two edits
 * of one field keep the later and give the other operator theirs back; a typology changed on
 * one device makes a draft prepared on another stale; an approval by another operator than
 * the preparer lets Send go, and a new preparation asks for a new one; a viewer reads and
 * cannot send.
 */

import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { WorkDoc } from '../shared/work';
import { codeText, fillCode, launchBrowser, type TestBrowser } from './support/browser';
import { removeDataDir, startServer, type ServerProcess } from './support/server';

const PASSWORD = 'team password 2026';

let server: ServerProcess;
let chromium: TestBrowser;
let admin: string;
const contexts: BrowserContext[] = [];
let ana: Page; // the admin
let bea: Page; // a marketer
let vic: Page; // a viewer
let deliveryId = '';

/** Calls the API as the admin, from outside the browsers. */
async function api(path: string, init: { method?: string; json?: unknown } = {}) {
  return fetch(`${server.url}${path}`, {
    method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
    headers: { cookie: admin, ...(init.json === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
}

/** The delivery's document as the server holds it. */
async function doc(id: string): Promise<WorkDoc | undefined> {
  const page = (await (await api('/api/work/changes?since=0&limit=500')).json()) as { docs: WorkDoc[] };
  return page.docs.find((d) => d.id === id);
}

async function signIn(username: string, password: string): Promise<Page> {
  const context = await chromium.browser.newContext({ viewport: { width: 1400, height: 900 }, locale: 'en-GB' });
  contexts.push(context);
  const page = await context.newPage();
  page.on('pageerror', (error) => console.error(`${username} page error: ${error.message}`));
  page.on('console', (message) => message.type() === 'error' && console.error(`${username} console: ${message.text()}`));
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Username').fill(username);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in', exact: true }).click();
  await page.getByRole('heading', { name: 'Deliveries' }).waitFor();
  // The audience replica is what preparations read.
  await page
    .getByText(/10,000 profiles/)
    .first()
    .waitFor({ timeout: 60_000 });
  return page;
}

const button = (page: Page, name: string) => page.getByRole('button', { name, exact: true });
const confirm = (page: Page, name: string) => page.getByRole('dialog').getByRole('button', { name, exact: true });
const status = (page: Page) => page.getByTestId('delivery-status').textContent();
const field = (page: Page, label: string) => page.getByLabel(label, { exact: true });

/** The content hash a page shows for approval (the preparation its device knows of), or null. */
const shownForApproval = (page: Page) =>
  page
    .getByTestId('approval')
    .getAttribute('data-content-hash', { timeout: 1_000 })
    .catch(() => null);

/**
 * Waits until the preparer's latest preparation has reached the server and the approver's page
 * shows it, then approves it there.
 */
async function approveOn(page: Page, preparer: Page) {
  const latest = async () => ((await doc(deliveryId))?.fields.preparation as { contentHash: string } | null)?.contentHash;
  await expect
    .poll(
      async () => {
        const prepared = await shownForApproval(preparer);
        return prepared !== null && prepared === (await latest()) && prepared === (await shownForApproval(page));
      },
      { timeout: 20_000 },
    )
    .toBe(true);
  await button(page, 'Approve').click();
}

async function prepare(page: Page) {
  await button(page, 'Prepare').click();
  await confirm(page, 'Yes, prepare').click();
  await expect.poll(() => status(page), { timeout: 30_000 }).toBe('Prepared');
}

beforeAll(async () => {
  server = await startServer();
  const login = await fetch(`${server.url}/api/session`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username: 'admin', password: server.password }),
  });
  admin = login.headers.get('set-cookie')!.split(';')[0];
  for (const [username, role] of [
    ['bea', 'marketer'],
    ['vic', 'viewer'],
  ]) {
    const created = await api('/api/operators', { json: { username, role, password: PASSWORD } });
    expect(created.status).toBe(201);
  }
  chromium = await launchBrowser();
  ana = await signIn('admin', server.password);
  bea = await signIn('bea', PASSWORD);
}, 180_000);

afterEach(async (test) => {
  if (test.task.result?.state !== 'fail') return;
  for (const [name, page] of Object.entries({ ana, bea, vic })) {
    if (!page) continue;
    const file = join(tmpdir(), `mailroom-team-${name}-${test.task.name.replace(/\W+/g, '-').slice(0, 50)}.png`);
    await page.screenshot({ path: file, fullPage: true }).catch(() => undefined);
    console.error(`screenshot of ${name}'s page at the failed step: ${file}`);
  }
});

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => undefined);
  await chromium?.close();
  await server?.stop();
  if (server) removeDataDir(server.dataDir);
});

describe('a team on one delivery', () => {
  it('shows a draft made on one device on the other, with who made it', async () => {
    await button(ana, 'New delivery').click();
    await ana.waitForURL(/\/deliveries\//);
    deliveryId = ana.url().split('/').pop()!;
    await field(ana, 'Name').fill('Team autumn');
    await expect.poll(async () => (await doc(deliveryId))?.fields.name, { timeout: 15_000 }).toBe('Team autumn');

    const row = bea.getByRole('row').filter({ hasText: 'Team autumn' });
    await expect.poll(() => row.count(), { timeout: 15_000 }).toBe(1);
    await expect.poll(() => row.textContent()).toMatch(/admin/);
  });

  it('merges an edit made offline with another field edited online, on both devices', async () => {
    await bea.goto(`${server.url}/deliveries/${deliveryId}`);
    await field(bea, 'Subject').waitFor();
    await ana.context().setOffline(true);
    await fillCode(ana, 'Subject', 'Made on the train');
    await field(bea, 'From name').fill('Bea’s shop');
    await expect.poll(async () => (await doc(deliveryId))?.fields.fromName, { timeout: 15_000 }).toBe('Bea’s shop');
    // Offline, Ana's edit is kept on her device only.
    expect((await doc(deliveryId))?.fields.subject).not.toBe('Made on the train');
    await expect.poll(() => ana.getByTestId('delivery-authors').textContent()).toMatch(/not yet shared/);

    await ana.context().setOffline(false);
    await expect.poll(async () => (await doc(deliveryId))?.fields.subject, { timeout: 20_000 }).toBe('Made on the train');
    for (const page of [ana, bea]) {
      await expect.poll(() => codeText(page, 'Subject'), { timeout: 20_000 }).toBe('Made on the train');
      await expect.poll(() => field(page, 'From name').inputValue(), { timeout: 20_000 }).toBe('Bea’s shop');
    }
  });

  it('keeps the later of two edits of the subject and gives the other theirs back', async () => {
    await bea.context().setOffline(true);
    await fillCode(ana, 'Subject', 'Ana’s subject');
    await expect.poll(async () => (await doc(deliveryId))?.fields.subject, { timeout: 15_000 }).toBe('Ana’s subject');
    // Bea, offline, had not seen Ana's edit, and writes later.
    await fillCode(bea, 'Subject', 'Bea’s subject');
    await bea.waitForTimeout(500); // saved on her device
    await bea.context().setOffline(false);
    await expect.poll(async () => (await doc(deliveryId))?.fields.subject, { timeout: 20_000 }).toBe('Bea’s subject');

    const replaced = ana.getByRole('alert', { name: 'Your edit of the subject was replaced' });
    await replaced.waitFor({ timeout: 20_000 });
    expect(await replaced.textContent()).toMatch(/replaced by bea.s[\s\S]*Ana’s subject/);
    await expect.poll(() => codeText(ana, 'Subject')).toBe('Bea’s subject');
    expect(await bea.getByRole('alert', { name: /was replaced/ }).count()).toBe(0);

    await replaced.getByRole('button', { name: 'Take mine back' }).click();
    await expect.poll(async () => (await doc(deliveryId))?.fields.subject, { timeout: 15_000 }).toBe('Ana’s subject');
    await expect.poll(() => codeText(bea, 'Subject'), { timeout: 20_000 }).toBe('Ana’s subject');
    await expect.poll(() => replaced.count()).toBe(0);
  });

  it('makes a draft prepared on one device stale when another edits its typology', async () => {
    // Bea makes the team's typology, asking for approval.
    await bea.goto(`${server.url}/typologies`);
    await button(bea, 'Make a copy').click();
    await bea.getByLabel('Typology name').fill('Team rules');
    await bea.getByLabel(/Deliveries need approval/).check();
    await button(bea, 'Save typology').click();
    await expect
      .poll(
        async () => {
          const page = (await (await api('/api/work/changes?since=0&limit=500')).json()) as { docs: WorkDoc[] };
          return page.docs.some((d) => d.kind === 'typology' && d.fields.name === 'Team rules' && d.fields.requiresApproval === true);
        },
        { timeout: 15_000 },
      )
      .toBe(true);

    // Ana picks it and prepares.
    const typology = ana.getByLabel('Typology');
    await expect.poll(() => typology.locator('option', { hasText: 'Team rules' }).count(), { timeout: 20_000 }).toBe(1);
    await typology.selectOption({ label: 'Team rules' });
    await expect.poll(async () => (await doc(deliveryId))?.fields.typologyId, { timeout: 15_000 }).not.toBe('default');
    await prepare(ana);

    // Bea switches a rule off: Ana's preparation no longer stands.
    await bea.getByRole('checkbox', { name: 'Duplicate address: on' }).uncheck();
    await button(bea, 'Save typology').click();
    await expect.poll(() => status(ana), { timeout: 20_000 }).toBe('Needs a new preparation');
  });

  it('sends only after another operator approved this preparation, and asks again after an edit', async () => {
    await prepare(ana);
    await expect.poll(() => ana.getByTestId('approval').textContent(), { timeout: 15_000 }).toMatch(/another operator than admin/);
    expect(await button(ana, 'Send').isDisabled()).toBe(true);
    expect(await button(ana, 'Approve').count()).toBe(0); // the preparer does not approve

    await bea.goto(`${server.url}/deliveries/${deliveryId}`);
    await approveOn(bea, ana);
    await expect.poll(() => ana.getByTestId('approval').textContent(), { timeout: 20_000 }).toMatch(/Approved by bea/);
    await expect.poll(() => button(ana, 'Send').isDisabled()).toBe(false);

    // An edit and a new preparation: the approval was of the earlier one.
    await fillCode(ana, 'Subject', 'Ana’s subject, final');
    await expect.poll(() => status(ana), { timeout: 10_000 }).toBe('Needs a new preparation');
    await prepare(ana);
    await expect.poll(() => ana.getByTestId('approval').textContent(), { timeout: 15_000 }).toMatch(/approved an earlier preparation/);
    expect(await button(ana, 'Send').isDisabled()).toBe(true);

    await approveOn(bea, ana);
    await expect.poll(() => button(ana, 'Send').isDisabled(), { timeout: 20_000 }).toBe(false);
    await button(ana, 'Send').click();
    await confirm(ana, 'Yes, send').click();
    await expect.poll(() => status(ana), { timeout: 60_000 }).toMatch(/Sending|Sent/);

    // The delivery's history says who did what.
    const history = ana.getByRole('region', { name: 'History' });
    await expect.poll(() => history.textContent(), { timeout: 15_000 }).toMatch(/bea/);
    const entries = (await (await api(`/api/audit?object=${deliveryId}`)).json()) as { entries: { action: string; actor: string }[] };
    const actions = entries.entries.map((e) => `${e.action}:${e.actor}`);
    expect(actions).toEqual(expect.arrayContaining(['created:admin', 'prepared:admin', 'approved:bea', 'sent:admin']));
  });

  it('saves a delivery’s message as the team’s template on one device, and the other starts a delivery from it', async () => {
    await ana.goto(`${server.url}/deliveries/${deliveryId}`);
    const subject = await codeText(ana, 'Subject');
    await button(ana, 'Save as template…').click();
    const dialog = ana.getByRole('dialog', { name: 'Save as template' });
    await dialog.getByLabel('Template name').fill('Team letter');
    await dialog.getByLabel(/^Description/).fill('Our monthly letter');
    await dialog.getByRole('button', { name: 'Save template' }).click();
    await ana.getByRole('status').filter({ hasText: 'Saved as the team’s template “Team letter”' }).waitFor();

    await bea.getByRole('link', { name: 'Deliveries', exact: true }).first().click();
    await button(bea, 'New from a template').click();
    const gallery = bea.getByRole('dialog', { name: 'Start from a template' });
    const team = gallery.getByRole('region', { name: 'The team’s templates' });
    await team.getByRole('button', { name: 'Use Team letter' }).waitFor({ timeout: 20_000 });
    expect(await team.getByText('Our monthly letter').count()).toBe(1);
    await team.getByRole('button', { name: 'Use Team letter' }).click();
    await bea.waitForURL(/\/deliveries\//);
    await expect.poll(() => field(bea, 'Name').inputValue()).toBe('Team letter (new)');
    await expect.poll(() => codeText(bea, 'Subject')).toBe(subject);
    await bea.goto(`${server.url}/deliveries/${deliveryId}`);
  });

  it('lets a viewer read the delivery and not send it: the button is disabled, the API answers 403', async () => {
    vic = await signIn('vic', PASSWORD);
    await vic.goto(`${server.url}/deliveries/${deliveryId}`);
    await expect.poll(() => codeText(vic, 'Subject'), { timeout: 20_000 }).toBe('Ana’s subject, final');
    await expect.poll(() => field(vic, 'Subject').getAttribute('aria-readonly')).toBe('true');
    expect(await button(vic, 'Prepare').isDisabled()).toBe(true);
    expect(await button(vic, 'Pause').isDisabled()).toBe(true);
    const refused = await vic.evaluate(async (id) => {
      const response = await fetch(`/api/deliveries/${id}/pause`, { method: 'POST' });
      return { status: response.status, body: (await response.json()) as { message: string } };
    }, deliveryId);
    expect(refused.status).toBe(403);
    expect(refused.body.message).toMatch(/viewer/);
  });
});
