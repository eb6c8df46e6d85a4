import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteAudienceStore } from './store/sqlite/audience';
import { openDatabase } from './store/sqlite/database';

const exec = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
let dir = '';

/** Runs the import command from source (what `npm run import` builds and runs), with MAILROOM_DATA_DIR in `dir`/data unless told. */
const run = (args: string[], env: Record<string, string> = {}) =>
  exec(join(ROOT, 'node_modules/.bin/tsx'), ['server/import-cli.ts', ...args], {
    cwd: ROOT,
    env: { ...process.env, MAILROOM_DATA_DIR: join(dir, 'data'), ...env },
  });
/** Runs it and returns how it ended: its exit code and what it printed. */
const outcome = (args: string[], env: Record<string, string> = {}) =>
  run(args, env).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (failure: { code: number; stdout: string; stderr: string }) => ({ code: failure.code, stdout: failure.stdout, stderr: failure.stderr }),
  );
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run import -- file.csv', () => {
  it('imports into the data directory and writes the rejected rows next to the file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-import-cli-'));
    const file = join(dir, 'visitors.csv');
    writeFileSync(file, 'email;first_name;city\nanna@example.com;Anna;Gent\nnope;Bad;Gent\n');
    const { stdout } = await run([file]);
    expect(stdout).toMatch(/Imported .*visitors\.csv in [\d.]+ s: 2 rows, 1 new, 0 updated, 1 rejected\./);
    expect(readFileSync(join(dir, 'visitors-rejected.csv'), 'utf8')).toBe('line,email,reason\n3,nope,"invalid address ""nope"""\n');
    // The command writes the SQLite file of the data directory: read that file itself.
    const db = await openDatabase(join(dir, 'data', 'mailroom.db'));
    expect(await sqliteAudienceStore(db).findByEmail('anna@example.com')).toMatchObject({
      firstName: 'Anna',
      attributes: { city: 'Gent' },
    });
    db.close();
  });

  it('says what is wrong with a file it refuses, and exits with an error', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-import-cli-'));
    const file = join(dir, 'names.csv');
    writeFileSync(file, 'name\nAnna\n');
    const failure = await outcome([file]);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain('The import stopped: No column is mapped to Email');
    expect(existsSync(join(dir, 'names-rejected.csv'))).toBe(false);
  });

  it('prints its usage, with the exit statuses, for --help and exits 0 without opening anything', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-import-cli-'));
    const help = await outcome(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toMatch(/^Usage: npm run import -- \[--help\] FILE\.csv/);
    expect(help.stdout).toMatch(/Exit status:\n {2}0 .*\n {2}1 .*\n {2}2 .*\n {2}3 /);
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it.each([
    [[], 'Say which file to import.'],
    [['a.csv', 'b.csv'], 'Too many arguments: a.csv b.csv'],
    [['--mapping=auto', 'a.csv'], 'Unknown option --mapping=auto.'],
  ])('exits 2 with the usage on a wrong command line: %j', async (args, sentence) => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-import-cli-'));
    const failure = await outcome(args);
    expect(failure.code).toBe(2);
    expect(failure.stderr).toContain(sentence);
    expect(failure.stderr).toContain('Usage: npm run import');
    expect(existsSync(join(dir, 'data'))).toBe(false);
  });

  it('exits 1 for a file that is not there', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-import-cli-'));
    const failure = await outcome([join(dir, 'missing.csv')]);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain(`The import stopped: There is no file ${join(dir, 'missing.csv')}.`);
  });

  it('exits 3 when the data directory cannot be made or its database is not one', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-import-cli-'));
    const file = join(dir, 'visitors.csv');
    writeFileSync(file, 'email\nanna@example.com\n');
    writeFileSync(join(dir, 'a-file'), 'not a folder');
    const notAFolder = await outcome([file], { MAILROOM_DATA_DIR: join(dir, 'a-file') });
    expect(notAFolder.code).toBe(3);
    expect(notAFolder.stderr).toContain(`The import stopped: Cannot open the database ${join(dir, 'a-file', 'mailroom.db')}`);
    expect(notAFolder.stderr).toContain('Check that MAILROOM_DATA_DIR names a folder this user can write to');

    mkdirSync(join(dir, 'garbage'));
    writeFileSync(join(dir, 'garbage', 'mailroom.db'), 'this is not a SQLite database, whatever its name says'.repeat(100));
    const notADatabase = await outcome([file], { MAILROOM_DATA_DIR: join(dir, 'garbage') });
    expect(notADatabase.code).toBe(3);
    expect(notADatabase.stderr).toMatch(/Cannot open the database .*garbage\/mailroom\.db \(file is not a database\)/);
  });
});
