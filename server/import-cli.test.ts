import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { sqliteAudienceStore } from './store/audience-store';
import { openDatabase } from './store/database';

const run = promisify(execFile);
const ROOT = resolve(import.meta.dirname, '..');
let dir = '';
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('npm run import -- file.csv', () => {
  it('imports into the data directory and writes the rejected rows next to the file', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-import-cli-'));
    const file = join(dir, 'visitors.csv');
    writeFileSync(file, 'email;first_name;city\nanna@example.com;Anna;Gent\nnope;Bad;Gent\n');
    const { stdout } = await run(join(ROOT, 'node_modules/.bin/tsx'), ['server/import-cli.ts', file], {
      cwd: ROOT,
      env: { ...process.env, MAILROOM_DATA_DIR: join(dir, 'data') },
    });
    expect(stdout).toMatch(/Imported .*visitors\.csv in [\d.]+ s: 2 rows, 1 new, 0 updated, 1 rejected\./);
    expect(readFileSync(join(dir, 'visitors-rejected.csv'), 'utf8')).toBe('line,email,reason\n3,nope,"invalid address ""nope"""\n');
    const db = openDatabase(join(dir, 'data', 'mailroom.db'));
    expect(sqliteAudienceStore(db).findByEmail('anna@example.com')).toMatchObject({ firstName: 'Anna', attributes: { city: 'Gent' } });
    db.close();
  });

  it('says what is wrong with a file it refuses, and exits with an error', async () => {
    dir = mkdtempSync(join(tmpdir(), 'mailroom-import-cli-'));
    const file = join(dir, 'names.csv');
    writeFileSync(file, 'name\nAnna\n');
    const failure = await run(join(ROOT, 'node_modules/.bin/tsx'), ['server/import-cli.ts', file], {
      cwd: ROOT,
      env: { ...process.env, MAILROOM_DATA_DIR: join(dir, 'data') },
    }).catch((e) => e);
    expect(failure.code).toBe(1);
    expect(failure.stderr).toContain('The import stopped: No column is mapped to Email');
    expect(existsSync(join(dir, 'names-rejected.csv'))).toBe(false);
  });
});
