/**
 * `npm run bench:replica`: the browser replica at a million profiles, in headless Chromium
 * against a real server process.
 *   1. initial pull of 1,000,000 profiles into IndexedDB (from sign-in to the count shown),
 *   2. incremental pull of 10,000 changed profiles ("Sync now" to the cursor caught up),
 *   3. full scan of the replica in the app's worker (a search that matches nobody).
 */

import { generateProfiles, startBench } from './audience-server';
import { couldNotRun, figure, machineLine, mustHold } from './machine';

const PROFILES = Number(process.env.PROFILES ?? 1_000_000);
const CHANGES = 10_000;
async function main() {
  const { db, audience, page, chromium, random, close } = await startBench(PROFILES);
  try {
    const cursorNow = () => page.evaluate(() => readMeta('replica.cursor'));
    await page.addInitScript(() => {
      (globalThis as unknown as { readMeta: (key: string) => Promise<unknown> }).readMeta = (key: string) =>
        new Promise((done) => {
          const open = indexedDB.open('mailroom');
          open.onsuccess = () => {
            const db = open.result;
            if (!db.objectStoreNames.contains('meta')) return (done(null), db.close());
            const get = db.transaction('meta').objectStore('meta').get(key);
            get.onsuccess = () => (done(get.result?.value ?? null), db.close());
          };
        });
    });

    let started = performance.now();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText(`${PROFILES.toLocaleString('en-US')} profiles`).waitFor({ timeout: 600_000 });
    const initial = (performance.now() - started) / 1000;

    const changed = generateProfiles(0, CHANGES, random).map((p, k) => ({
      ...p,
      email: `person.${k * Math.floor(PROFILES / CHANGES)}@example.com`,
      firstName: 'Changed',
    }));
    await audience.upsertMany(changed, 'bench', new Date());
    // The server's SQLite file keeps the last change number in meta.
    const target = (db.prepare("SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'change_seq'").pluck().get() as number) ?? 0;
    started = performance.now();
    await page.getByRole('button', { name: 'Sync now' }).click();
    while ((await cursorNow()) !== target) await page.waitForTimeout(20);
    const incremental = (performance.now() - started) / 1000;

    // A full scan through the app itself: a search that matches nobody makes the
    // worker decode and visit every profile of the replica.
    await page.getByRole('link', { name: 'Audience' }).click();
    await page.getByLabel('Find a profile by email or name').waitFor();
    started = performance.now();
    await page.getByLabel('Find a profile by email or name').fill('zz-nobody');
    await page.getByText('No profile in the local audience matches').waitFor({ timeout: 120_000 });
    const scan = (performance.now() - started) / 1000;
    const blocks = await page.evaluate(
      () =>
        new Promise<number>((done) => {
          const open = indexedDB.open('mailroom');
          open.onsuccess = () => {
            const count = open.result.transaction('blocks').objectStore('blocks').count();
            count.onsuccess = () => done(count.result);
          };
        }),
    );

    mustHold(blocks > 0, 'the replica holds no block after the pull');
    console.log(machineLine());
    console.log(
      `replica: ${PROFILES.toLocaleString('en-US')} profiles in ${blocks} blocks; headless Chromium ${chromium.browser.version()}`,
    );
    figure('initial pull', initial, 's', `≤ 20 s for ${PROFILES.toLocaleString('en-US')} profiles, sign-in to count shown`);
    figure('incremental pull', incremental, 's', `≤ 1 s for ${CHANGES.toLocaleString('en-US')} changes`);
    figure('full scan from a worker', scan, 's', '≤ 1 s; a search matching nobody: email and names of every profile read and compared');
  } finally {
    await close();
  }
}

declare function readMeta(key: string): Promise<unknown>;

main().catch(couldNotRun);
