/**
 * `npm run bench:import`: a CSV file of 1,000,000 generated rows (quoted fields, six
 * columns, a few bad rows) imported into a fresh SQLite audience by the same streaming
 * importer the upload uses. Prints the time, the rate and the peak memory of the process.
 */

import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { importCsv } from '../server/audience/importer';
import { sqliteAudienceStore } from '../server/store/sqlite/audience';
import { openDatabase } from '../server/store/sqlite/database';
import { seededRandom } from '../server/seed';
import { couldNotRun, figure, machineLine, mustHold } from './machine';

const ROWS = Number(process.env.ROWS ?? 1_000_000);
const dir = mkdtempSync(join(tmpdir(), 'mailroom-bench-import-'));
const file = join(dir, 'audience.csv');

async function writeCsv() {
  const random = seededRandom(7);
  const out = createWriteStream(file);
  out.write('email,first_name,last_name,city,loyalty_points,interests\n');
  const cities = ['Amsterdam', 'Gent', 'Utrecht', '"Den Haag, Centrum"'];
  for (let i = 0; i < ROWS; i++) {
    const email = i % 1000 === 999 ? `broken-${i}` : `person.${i}@example.com`;
    const line = `${email},Person ${i},"Family, ${i % 97}",${cities[i % cities.length]},${Math.floor(random() * 5000)},shoes|sale\n`;
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

async function main() {
  await writeCsv();
  const db = await openDatabase(join(dir, 'mailroom.db'));
  const audience = sqliteAudienceStore(db);
  await audience.declareAttribute({ name: 'city', label: 'City', type: 'text' });
  await audience.declareAttribute({ name: 'loyalty_points', label: 'Loyalty points', type: 'number' });
  await audience.declareAttribute({ name: 'interests', label: 'Interests', type: 'tags' });
  let peak = process.memoryUsage().rss;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
  const started = performance.now();
  const outcome = await importCsv(createReadStream(file), audience, { fileName: 'audience.csv' });
  const seconds = (performance.now() - started) / 1000;
  clearInterval(sampler);
  peak = Math.max(peak, process.memoryUsage().rss);
  if (!outcome.ok) throw new Error(outcome.message);
  // Every 1,000th generated address is broken (i % 1000 === 999): the others are all new.
  const broken = Math.floor(ROWS / 1000);
  mustHold(
    outcome.summary.inserted === ROWS - broken && outcome.summary.rejected === broken,
    `the import kept ${outcome.summary.inserted} and rejected ${outcome.summary.rejected} of ${ROWS} rows, not ${ROWS - broken} and ${broken}`,
  );

  console.log(machineLine());
  console.log(
    `file: ${ROWS.toLocaleString('en-US')} rows, ${(statSync(file).size / 2 ** 20).toFixed(0)} MiB; imported ${outcome.summary.inserted.toLocaleString('en-US')}, rejected ${outcome.summary.rejected.toLocaleString('en-US')}`,
  );
  figure('import time', seconds, 's', '≤ 30 s for 1,000,000 rows');
  figure('import rate', ROWS / seconds, 'rows/s', '≥ 33,333 rows/s');
  figure('import peak memory', peak / 2 ** 20, 'MiB RSS', 'bounded: independent of the file size');
  db.close();
  rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  rmSync(dir, { recursive: true, force: true });
  couldNotRun(error);
});
