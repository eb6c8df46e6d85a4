import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { testStores } from '../test-kit';
import type { AudienceStore } from './audience';
import { openDatabase } from './sqlite/database';
import { sqliteAudienceStore } from './sqlite/audience';
import type { Stores } from './stores';

let stores: Stores;
let audience: AudienceStore;
const now = new Date('2026-11-28T10:00:00Z');

beforeEach(async () => {
  stores = await testStores();
  audience = stores.audience;
  await audience.upsertMany(
    ['a', 'b', 'c', 'd'].map((n) => ({ email: `${n}@example.com` })),
    'test',
    now,
  );
});
afterEach(() => stores.close());

/** Pulls every change after `cursor` in pages of `size`, as a replica does. */
async function pullAll(cursor: number, size: number) {
  const pages = [];
  for (;;) {
    const page = await audience.changesSince(cursor, size);
    pages.push(page);
    cursor = page.cursor;
    if (!page.hasMore) return { pages, cursor };
  }
}

describe('the change log', () => {
  it('pages through every change in order; the cursor covers exactly what was returned', async () => {
    const { pages } = await pullAll(0, 3);
    expect(pages.map((p) => p.profiles.map((x) => x.email))).toEqual([
      ['a@example.com', 'b@example.com', 'c@example.com'],
      ['d@example.com'],
    ]);
    expect(pages[0].hasMore).toBe(true);
    expect(await audience.changesSince(pages[1].cursor, 10)).toMatchObject({ profiles: [], deleted: [], hasMore: false });
  });

  it('carries deletions, in order with other changes', async () => {
    const { cursor } = await pullAll(0, 100);
    const b = (await audience.findByEmail('b@example.com'))!;
    await audience.upsertMany([{ email: 'a@example.com', firstName: 'Anna' }], 'test', now);
    expect(await audience.delete(b.id)).toBe(true);
    expect(await audience.delete(b.id)).toBe(false);
    await audience.upsertMany([{ email: 'e@example.com' }], 'test', now);
    const first = await audience.changesSince(cursor, 2);
    expect(first.profiles.map((p) => p.email)).toEqual(['a@example.com']);
    expect(first.deleted).toEqual([b.id]);
    const second = await audience.changesSince(first.cursor, 2);
    expect(second.profiles.map((p) => p.email)).toEqual(['e@example.com']);
    expect(second.hasMore).toBe(false);
  });

  it('carries suppression: denylist, its removal, and quarantine stamp the profile', async () => {
    let { cursor } = await pullAll(0, 100);
    await audience.denylist(' C@Example.com ', 'asked by phone', 'admin', now);
    let page = await audience.changesSince(cursor, 10);
    expect(page.profiles.map((p) => [p.email, p.denylisted])).toEqual([['c@example.com', true]]);
    expect((await audience.suppression('c@example.com')).denylist).toEqual({
      reason: 'asked by phone',
      addedAt: now.toISOString(),
      addedBy: 'admin',
    });
    cursor = page.cursor;
    expect(await audience.undeny('c@example.com')).toBe(true);
    await audience.quarantine('d@example.com', 'hard-bounce', '550 5.1.1 User unknown', 'delivery-1', now);
    page = await audience.changesSince(cursor, 10);
    expect(page.profiles.map((p) => [p.email, p.denylisted, p.quarantined])).toEqual([
      ['c@example.com', false, false],
      ['d@example.com', false, true],
    ]);
  });

  it('takes no change number for an unsubscribe that changes nothing', async () => {
    const { cursor } = await pullAll(0, 100);
    const a = (await audience.findByEmail('a@example.com'))!;
    expect(await audience.unsubscribe(a.id, 'link', now)).toBe(true);
    expect(await audience.unsubscribe(a.id, 'link', now)).toBe(false);
    expect((await audience.changesSince(cursor, 10)).profiles).toHaveLength(1);
    expect(await audience.get(a.id)).toMatchObject({ status: 'unsubscribed', statusSource: 'link', statusChangedAt: now.toISOString() });
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
      CREATE TABLE deliveries (id TEXT PRIMARY KEY, version INTEGER NOT NULL, content_hash TEXT NOT NULL, name TEXT NOT NULL,
        from_name TEXT NOT NULL, from_address TEXT NOT NULL, subject TEXT NOT NULL, html TEXT NOT NULL, status TEXT NOT NULL,
        status_reason TEXT, scheduled_at TEXT, targeted INTEGER NOT NULL, to_deliver INTEGER NOT NULL, excluded INTEGER NOT NULL,
        excluded_by_cause TEXT NOT NULL, chunk_count INTEGER NOT NULL, committed INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL, started_at TEXT, finished_at TEXT);
      CREATE TABLE batch_chunks (delivery_id TEXT NOT NULL, content_hash TEXT NOT NULL, seq INTEGER NOT NULL, recipients TEXT NOT NULL,
        PRIMARY KEY (delivery_id, content_hash, seq));
      CREATE TABLE journal (id INTEGER PRIMARY KEY, delivery_id TEXT NOT NULL, seq INTEGER NOT NULL, profile_id INTEGER NOT NULL,
        email TEXT NOT NULL, subject TEXT NOT NULL, vals TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER, smtp_reply TEXT, updated_at TEXT NOT NULL);
      CREATE INDEX journal_delivery_status ON journal (delivery_id, status, id);
      CREATE TABLE links (id INTEGER PRIMARY KEY, delivery_id TEXT NOT NULL, url TEXT NOT NULL, UNIQUE (delivery_id, url));
      CREATE TABLE tracking_events (id INTEGER PRIMARY KEY, delivery_id TEXT NOT NULL, journal_id INTEGER NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('open', 'click', 'unsubscribe')), link_id INTEGER, at TEXT NOT NULL, user_agent TEXT);
      CREATE INDEX tracking_events_delivery ON tracking_events (delivery_id, kind, journal_id);
      CREATE TABLE mailbox (id INTEGER PRIMARY KEY, received_at TEXT NOT NULL, envelope_from TEXT NOT NULL, envelope_to TEXT NOT NULL,
        raw BLOB NOT NULL);
      INSERT INTO profiles (email, city, created_at, updated_at, change_seq) VALUES
        ('Anna@Example.com', 'Gent', 'x', 'x', 1), (' anna@example.com', 'Leiden', 'x', 'x', 2), ('bram@example.com', '', 'x', 'x', 3);
      PRAGMA user_version = 1;
    `);
    legacy.close();
    // SQLite's own migration path, from a file an older Mailroom left: PostgreSQL's is tested apart.
    const db = await openDatabase(file);
    const migrated = sqliteAudienceStore(db);
    expect(await migrated.count()).toBe(2);
    expect(await migrated.findByEmail('anna@example.com')).toMatchObject({ id: 1, attributes: { city: 'Gent' } });
    expect((await migrated.findByEmail('bram@example.com'))?.attributes).toEqual({});
    expect(await migrated.schema()).toEqual([{ name: 'city', label: 'City', type: 'text' }]);
    db.close();
    rmSync(dirname(file), { recursive: true, force: true });
  });
});
