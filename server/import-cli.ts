/**
 * `npm run import -- file.csv`: imports a CSV file into the audience of record of the data
 * directory (MAILROOM_DATA_DIR, default ./data), with the mapping Mailroom proposes from
 * the header. Rejected rows are written next to the file as FILE-rejected.csv.
 */

import { createReadStream, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { importCsv } from './audience/importer';
import { readConfig } from './config';
import { sqliteAudienceStore } from './store/audience-store';
import { openDatabase } from './store/database';

async function main() {
  const file = process.argv[2];
  if (!file) throw new Error('Say which file to import: npm run import -- path/to/audience.csv');
  if (!existsSync(file)) throw new Error(`There is no file ${file}.`);
  const { dataDir } = readConfig();
  mkdirSync(dataDir, { recursive: true });
  const db = openDatabase(join(dataDir, 'mailroom.db'));
  const audience = sqliteAudienceStore(db);
  const started = Date.now();
  const outcome = await importCsv(createReadStream(file), audience, {
    fileName: basename(file),
    onProgress: (rows) => process.stdout.write(`\r${rows.toLocaleString('en-US')} rows read`),
  });
  process.stdout.write('\n');
  if (!outcome.ok) throw new Error(outcome.message);
  const { rows, inserted, updated, rejected, repeated } = outcome.summary;
  const now = new Date().toISOString();
  audience.saveImport({ ...outcome.summary, startedAt: new Date(started).toISOString(), finishedAt: now, report: outcome.report });
  console.log(
    `Imported ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${rows} rows, ${inserted} new, ${updated} updated, ${rejected} rejected.`,
  );
  if (repeated) console.log(`${repeated} rows repeated an address seen earlier in the file; the later row won.`);
  if (rejected) {
    const report = file.replace(/\.csv$/i, '') + '-rejected.csv';
    writeFileSync(report, outcome.report);
    console.log(`The rejected rows, with their line numbers and reasons, are in ${report}.`);
  }
  db.close();
}

main().catch((error: Error) => {
  console.error(`The import stopped: ${error.message}`);
  process.exit(1);
});
