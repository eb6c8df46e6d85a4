/**
 * Shared by the browser benchmarks: a server process over a generated audience, and Chromium
 * signed in to it. The audience is written into the SQLite file of the server's data directory
 * before the server starts (the server process then opens that file).
 */

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { DEMO_SCHEMA, seededRandom } from '../server/seed';
import type { AudienceStore, ProfileInput } from '../server/store/audience';
import { Operators } from '../server/store/operators';
import { sqliteAudienceStore } from '../server/store/sqlite/audience';
import { openDatabase, type Db } from '../server/store/sqlite/database';
import { sqliteOperatorStore } from '../server/store/sqlite/operators';
import { launchBrowser, type TestBrowser } from '../test/support/browser';
import { removeDataDir, startServer, type ServerProcess } from '../test/support/server';

const PASSWORD = 'bench-password';
const CITIES = ['Amsterdam', 'Gent', 'Utrecht', 'Leiden', 'Antwerpen'];

/** Returns `count` generated profiles starting at number `from`. */
export function generateProfiles(from: number, count: number, random: () => number): ProfileInput[] {
  return Array.from({ length: count }, (_, k) => {
    const i = from + k;
    return {
      email: `person.${i}@example.com`,
      firstName: `First${i % 1000}`,
      lastName: `Last${i % 977}`,
      locale: i % 3 ? 'nl' : 'en',
      timeZone: 'Europe/Amsterdam',
      status: i % 47 === 0 ? 'unsubscribed' : 'subscribed',
      attributes: {
        city: CITIES[i % CITIES.length],
        loyalty_points: Math.floor(random() * 5000),
        vip: i % 10 === 0,
        birth_date: `${1950 + (i % 55)}-0${1 + (i % 9)}-1${i % 10}`,
        interests: i % 4 ? ['shoes'] : ['shoes', 'sale'],
      },
    };
  });
}

export interface BenchSetup {
  /** The server's SQLite file, open in this process too (for writes the benchmark makes directly). */
  db: Db;
  audience: AudienceStore;
  server: ServerProcess;
  chromium: TestBrowser;
  page: Page;
  random: () => number;
  close(): Promise<void>;
}

/** Starts a server over `profiles` generated profiles and opens the app in Chromium, at the sign-in form. */
export async function startBench(profiles: number): Promise<BenchSetup> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mailroom-bench-'));
  const db = await openDatabase(join(dataDir, 'mailroom.db'));
  const audience = sqliteAudienceStore(db);
  for (const attribute of DEMO_SCHEMA) await audience.declareAttribute(attribute);
  const random = seededRandom(11);
  for (let i = 0; i < profiles; i += 20_000)
    await audience.upsertMany(generateProfiles(i, Math.min(20_000, profiles - i), random), 'bench', new Date());
  await new Operators(sqliteOperatorStore(db)).setPassword('admin', PASSWORD);
  const server = await startServer({ MAILROOM_ADMIN_PASSWORD: PASSWORD }, dataDir);
  const chromium = await launchBrowser();
  const page = await (await chromium.browser.newContext({ viewport: { width: 1280, height: 900 } })).newPage();
  await page.goto(`${server.url}/login`);
  await page.getByLabel('Password').fill(PASSWORD);
  return {
    db,
    audience,
    server,
    chromium,
    page,
    random,
    async close() {
      await chromium.close();
      await server.stop();
      db.close();
      removeDataDir(dataDir);
    },
  };
}
