/**
 * `npm run import -- file.csv`: imports a CSV file into the audience of record of the data
 * directory (MAILROOM_DATA_DIR, default ./data), with the mapping Mailroom proposes from
 * the header. Rejected rows are written next to the file as FILE-rejected.csv.
 */

import { createReadStream, existsSync, statSync, writeFileSync } from 'node:fs';
import { basename } from 'node:path';
import { importCsv } from './audience/importer';
import { DataDirectoryError, dataDirectory, EXIT, openData, readCommandLine } from './config';

const USAGE = `Usage: npm run import -- [--help] FILE.csv
       node dist/server/import-cli.js [--help] FILE.csv

Imports FILE.csv into the audience of the data directory (MAILROOM_DATA_DIR, default
./data; the database is created when there is none): rows are upserted by address, with
the mapping of columns to fields Mailroom proposes from the header (Audience page: Import
CSV shows it). Rejected rows are listed, with their line numbers and reasons, in
FILE-rejected.csv beside the file; the good rows are kept.

Exit status:
  0  imported (rejected rows, if any, are in FILE-rejected.csv)
  1  the file is refused (missing, unreadable, empty, not CSV, no column mapped to Email)
  2  usage error: no file named, more than one, or an unknown option
  3  the data directory or its database cannot be opened`;

/** A failure this command ends with, and its exit status. */
class Stop extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

async function main() {
  const command = readCommandLine(process.argv.slice(2), { min: 1, max: 1, name: 'file to import' });
  if (command.kind === 'help') return console.log(USAGE);
  if (command.kind === 'usage-error') throw new Stop(`${command.message}\n\n${USAGE}`, EXIT.usage);
  const [file] = command.operands;
  if (!existsSync(file)) throw new Stop(`There is no file ${file}.`, EXIT.failed);
  if (statSync(file).isDirectory()) throw new Stop(`${file} is a folder, not a CSV file.`, EXIT.failed);
  const stores = await openData({ dataDir: dataDirectory(), databaseUrl: process.env.DATABASE_URL || null, nodeId: 'import' });
  try {
    const audience = stores.audience;
    const started = Date.now();
    const outcome = await importCsv(createReadStream(file), audience, {
      fileName: basename(file),
      onProgress: (rows) => process.stdout.write(`\r${rows.toLocaleString('en-US')} rows read`),
    });
    process.stdout.write('\n');
    if (!outcome.ok) throw new Stop(outcome.message, EXIT.failed);
    const { rows, inserted, updated, rejected, repeated } = outcome.summary;
    const now = new Date().toISOString();
    await audience.saveImport({ ...outcome.summary, startedAt: new Date(started).toISOString(), finishedAt: now, report: outcome.report });
    console.log(
      `Imported ${file} in ${((Date.now() - started) / 1000).toFixed(1)} s: ${rows} rows, ${inserted} new, ${updated} updated, ${rejected} rejected.`,
    );
    if (repeated) console.log(`${repeated} rows repeated an address seen earlier in the file; the later row won.`);
    if (outcome.summary.erased)
      console.log(`${outcome.summary.erased} were at addresses erased at their owners' request and were not imported.`);
    if (outcome.summary.keptUnsubscribed)
      console.log(`${outcome.summary.keptUnsubscribed} had unsubscribed themselves through a message and stay unsubscribed.`);
    if (rejected) {
      const report = file.replace(/\.csv$/i, '') + '-rejected.csv';
      writeFileSync(report, outcome.report);
      console.log(`The rejected rows, with their line numbers and reasons, are in ${report}.`);
    }
  } finally {
    await stores.close();
  }
}

main().catch((error: Error) => {
  console.error(`The import stopped: ${error.message}`);
  process.exit(error instanceof Stop ? error.status : error instanceof DataDirectoryError ? EXIT.dataDir : EXIT.failed);
});
