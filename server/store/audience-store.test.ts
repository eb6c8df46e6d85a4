import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { sqliteAudienceStore, type AudienceStore } from './audience-store';
import { openDatabase, type Db } from './database';

let db: Db;
let audience: AudienceStore;
const now = new Date('2026-11-28T10:00:00Z');

beforeEach(() => {
  db = openDatabase(':memory:');
  audience = sqliteAudienceStore(db);
  audience.upsertMany(
    ['a', 'b', 'c', 'd'].map((n) => ({ email: `${n}@example.com` })),
    'test',
    now,
  );
});
afterEach(() => db.close());

/** Pulls every change after `cursor` in pages of `size`, as a replica does. */
function pullAll(cursor: number, size: number) {
  const pages = [];
  for (;;) {
    const page = audience.changesSince(cursor, size);
    pages.push(page);
    cursor = page.cursor;
    if (!page.hasMore) return { pages, cursor };
  }
}

describe('the change log', () => {
  it('pages through every change in order; the cursor covers exactly what was returned', () => {
    const { pages } = pullAll(0, 3);
    expect(pages.map((p) => p.profiles.map((x) => x.email))).toEqual([
      ['a@example.com', 'b@example.com', 'c@example.com'],
      ['d@example.com'],
    ]);
    expect(pages[0].hasMore).toBe(true);
    expect(audience.changesSince(pages[1].cursor, 10)).toMatchObject({ profiles: [], deleted: [], hasMore: false });
  });

  it('carries deletions, in order with other changes', () => {
    const { cursor } = pullAll(0, 100);
    const b = audience.findByEmail('b@example.com')!;
    audience.upsertMany([{ email: 'a@example.com', firstName: 'Anna' }], 'test', now);
    expect(audience.delete(b.id)).toBe(true);
    expect(audience.delete(b.id)).toBe(false);
    audience.upsertMany([{ email: 'e@example.com' }], 'test', now);
    const first = audience.changesSince(cursor, 2);
    expect(first.profiles.map((p) => p.email)).toEqual(['a@example.com']);
    expect(first.deleted).toEqual([b.id]);
    const second = audience.changesSince(first.cursor, 2);
    expect(second.profiles.map((p) => p.email)).toEqual(['e@example.com']);
    expect(second.hasMore).toBe(false);
  });

  it('carries suppression: denylist, its removal, and quarantine stamp the profile', () => {
    let { cursor } = pullAll(0, 100);
    audience.denylist(' C@Example.com ', 'asked by phone', 'admin', now);
    let page = audience.changesSince(cursor, 10);
    expect(page.profiles.map((p) => [p.email, p.denylisted])).toEqual([['c@example.com', true]]);
    expect(audience.suppression('c@example.com').denylist).toEqual({
      reason: 'asked by phone',
      addedAt: now.toISOString(),
      addedBy: 'admin',
    });
    cursor = page.cursor;
    expect(audience.undeny('c@example.com')).toBe(true);
    audience.quarantine('d@example.com', 'hard-bounce', '550 5.1.1 User unknown', 'delivery-1', now);
    page = audience.changesSince(cursor, 10);
    expect(page.profiles.map((p) => [p.email, p.denylisted, p.quarantined])).toEqual([
      ['c@example.com', false, false],
      ['d@example.com', false, true],
    ]);
  });

  it('takes no change number for an unsubscribe that changes nothing', () => {
    const { cursor } = pullAll(0, 100);
    const a = audience.findByEmail('a@example.com')!;
    expect(audience.unsubscribe(a.id, 'link', now)).toBe(true);
    expect(audience.unsubscribe(a.id, 'link', now)).toBe(false);
    expect(audience.changesSince(cursor, 10).profiles).toHaveLength(1);
    expect(audience.get(a.id)).toMatchObject({ status: 'unsubscribed', statusSource: 'link', statusChangedAt: now.toISOString() });
  });
});

describe('migration of an existing database', () => {
  it('normalizes addresses, merges duplicates into the oldest and moves city into the attributes', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'mailroom-migration-')), 'mailroom.db');
    // A database as the first version of Mailroom left it (schema version 1).
    const legacy = new Database(file);
    legacy.exec(`
      CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE profiles (id INTEGER PRIMARY KEY, email TEXT NOT NULL, first_name TEXT NOT NULL DEFAULT '', last_name TEXT NOT NULL DEFAULT '',
        locale TEXT NOT NULL DEFAULT '', city TEXT NOT NULL DEFAULT '', status TEXT NOT NULL DEFAULT 'subscribed', status_changed_at TEXT, status_source TEXT,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL, change_seq INTEGER NOT NULL);
      CREATE INDEX profiles_change_seq ON profiles (change_seq);
      CREATE INDEX profiles_email ON profiles (email);
      CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL);
      CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, expires_at INTEGER NOT NULL);
      CREATE TABLE deliveries (id TEXT PRIMARY KEY);
      CREATE TABLE batch_chunks (delivery_id TEXT);
      CREATE TABLE journal (id INTEGER PRIMARY KEY, delivery_id TEXT, seq INTEGER, status TEXT, updated_at TEXT);
      CREATE TABLE links (id INTEGER PRIMARY KEY);
      CREATE TABLE tracking_events (id INTEGER PRIMARY KEY, delivery_id TEXT, journal_id INTEGER, kind TEXT, at TEXT);
      CREATE TABLE mailbox (id INTEGER PRIMARY KEY);
      INSERT INTO profiles (email, city, created_at, updated_at, change_seq) VALUES
        ('Anna@Example.com', 'Gent', 'x', 'x', 1), (' anna@example.com', 'Leiden', 'x', 'x', 2), ('bram@example.com', '', 'x', 'x', 3);
      PRAGMA user_version = 1;
    `);
    legacy.close();
    const migrated = sqliteAudienceStore(openDatabase(file));
    expect(migrated.count()).toBe(2);
    expect(migrated.findByEmail('anna@example.com')).toMatchObject({ id: 1, attributes: { city: 'Gent' } });
    expect(migrated.findByEmail('bram@example.com')?.attributes).toEqual({});
    expect(migrated.schema()).toEqual([{ name: 'city', label: 'City', type: 'text' }]);
    rmSync(dirname(file), { recursive: true, force: true });
  });
});
