/**
 * A database of the previous version, with a batch half handed over in the old staging
 * tables and a profile and a message to backfill, migrated to the latest schema — on the
 * run's engine (SQLite here, PostgreSQL in the unit-pg project): nothing is lost, the staged
 * batch becomes staged rows, the backfills fill their columns.
 */

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import postgres from 'postgres';
import { afterAll, describe, expect, it } from 'vitest';
import { testDatabaseUrl, testEngine } from '../test-kit';
import { MIGRATIONS } from './migrations';
import { openStores, type Stores } from './stores';

/** A database from before the staged hand-off: the last fourteen steps are taken (the hand-off, team work, the preheader and text part, images, late outcomes, webhooks, a delivery's relay, A/B tests, seeds, send times, the due-time index, seed retries, the subscriber side, translations). */
const PREVIOUS = MIGRATIONS.length - 14;
const dirs: string[] = [];
afterAll(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

/** The rows a database of the previous version held, in SQL both engines read. */
const OLD_ROWS = [
  `INSERT INTO profiles (id, email, first_name, last_name, status, created_at, updated_at, change_seq, attributes)
     VALUES (7, 'zoe@example.com', 'Zoë', 'de Jong', 'subscribed', '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z', 3, '{}')`,
  `INSERT INTO meta (key, value) VALUES ('change_seq', '3')`,
  `INSERT INTO quarantine (email, reason, smtp_reply, delivery_id, at) VALUES ('gone@example.com', 'hard-bounce', '550 5.1.1', 'half', '2026-11-01T00:00:00Z')`,
  `INSERT INTO users (username, password_hash) VALUES ('admin', 'scrypt$c2FsdA$aGFzaA')`,
  `INSERT INTO deliveries (id, version, content_hash, name, from_name, from_address, subject, html, status, targeted, to_deliver,
     excluded, excluded_by_cause, chunk_count, exclusion_chunk_count, committed, created_at, updated_at)
     VALUES ('half', 1, 'abcdef01', 'Half', 'Shop', 'news@shop.example.com', 'Hi', '<p>Hi</p>', 'prepared', 2, 1, 1,
       '{"unsubscribed":1}', 1, 1, 0, '2026-11-01T00:00:00Z', '2026-11-01T00:00:00Z')`,
  `INSERT INTO batch_chunks (delivery_id, content_hash, seq, recipients) VALUES ('half', 'abcdef01', 1,
     '[{"seq":1,"profileId":7,"email":"zoe@example.com","subject":"Hi","values":{"first_name":"Zoë","vip":true}}]')`,
  `INSERT INTO batch_exclusions (delivery_id, content_hash, seq, exclusions) VALUES ('half', 'abcdef01', 2,
     '[{"profileId":8,"email":"gone@example.com","rule":"Unsubscribed","cause":"unsubscribed"}]')`,
];

async function previousVersion(): Promise<{ stores: () => Promise<Stores>; insertMail(raw: Buffer): Promise<void> }> {
  if (testEngine() === 'sqlite') {
    const dir = mkdtempSync(join(tmpdir(), 'mailroom-migrate-'));
    dirs.push(dir);
    const file = join(dir, 'mailroom.db');
    const db = new Database(file);
    for (const step of MIGRATIONS.slice(0, PREVIOUS)) db.exec(step.sqlite);
    db.pragma(`user_version = ${PREVIOUS}`);
    for (const row of OLD_ROWS) db.exec(row);
    return {
      async insertMail(raw) {
        db.prepare(
          "INSERT INTO mailbox (received_at, envelope_from, envelope_to, raw) VALUES ('2026-11-01T00:00:00Z', 'a@x.example', 'b@y.example', ?)",
        ).run(raw);
        db.close();
      },
      stores: () => openStores({ file, nodeId: 'migrate' }),
    };
  }
  const url = await testDatabaseUrl();
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  await sql.unsafe('CREATE TABLE schema_version (version INTEGER NOT NULL)');
  for (const step of MIGRATIONS.slice(0, PREVIOUS)) await sql.unsafe(step.postgres);
  await sql.unsafe(`INSERT INTO schema_version (version) VALUES (${PREVIOUS})`);
  for (const row of OLD_ROWS) await sql.unsafe(row);
  return {
    async insertMail(raw) {
      await sql`INSERT INTO mailbox (received_at, envelope_from, envelope_to, raw) VALUES ('2026-11-01T00:00:00Z', 'a@x.example', 'b@y.example', ${raw})`;
      await sql.end();
    },
    stores: () => openStores({ databaseUrl: url, nodeId: 'migrate' }),
  };
}

describe(`migrating a database of the previous version (${testEngine()})`, () => {
  it('keeps every row, turns the staged batch into staged rows, and fills the new columns', async () => {
    const old = await previousVersion();
    await old.insertMail(Buffer.from('Subject: =?utf-8?B?SMOpbGxv?=\r\nFrom: Shop <news@shop.example.com>\r\n\r\nHi'));
    const stores = await old.stores();
    try {
      expect(stores.created).toBe(false);
      // The one operator of a database from before roles is its admin, enabled.
      expect(await stores.query('SELECT username, role, disabled FROM users')).toEqual([{ username: 'admin', role: 'admin', disabled: 0 }]);
      expect(await stores.query('SELECT count(*) AS n FROM work_docs')).toEqual([{ n: 0 }]);
      expect(await stores.assets.list(10)).toEqual([]);
      // The quarantine, rebuilt for its new reasons, keeps its rows; nothing of it is to be lifted.
      expect(await stores.query('SELECT email, reason, smtp_reply AS reply, lift_at AS "liftAt" FROM quarantine')).toEqual([
        { email: 'gone@example.com', reason: 'hard-bounce', reply: '550 5.1.1', liftAt: null },
      ]);
      expect(await stores.query('SELECT count(*) AS n FROM late_outcomes')).toEqual([{ n: 0 }]);
      // A delivery from before its preheader and written text part has neither: its text part is derived.
      expect(await stores.deliveries.get('half')).toMatchObject({ preheader: '', text: '', html: '<p>Hi</p>' });
      expect(await stores.query(`SELECT seq, profile_id AS "profileId", status, vals FROM journal WHERE delivery_id = 'half'`)).toEqual([
        { seq: 1, profileId: 7, status: 'staged', vals: expect.stringContaining('"vip":true') },
      ]);
      expect(await stores.query(`SELECT seq, email, staged FROM exclusions WHERE delivery_id = 'half'`)).toEqual([
        { seq: -200001, email: 'gone@example.com', staged: 1 },
      ]);
      expect((await stores.query(`SELECT seq FROM batch_parts WHERE delivery_id = 'half' ORDER BY seq`)).map((r) => r.seq)).toEqual([1, 2]);
      // The search reads the folded names the backfill wrote; the mailbox its decoded subject.
      expect((await stores.audience.search('zoe jong', 10)).profiles.map((p) => p.id)).toEqual([7]);
      expect((await stores.mailbox.page({ search: 'héllo', limit: 10 })).messages.map((m) => m.subject)).toEqual(['Héllo']);
      // Change numbers and new ids go on from where the old database was.
      await stores.audience.upsertMany([{ email: 'new@example.com' }], 'test', new Date());
      const added = await stores.audience.findByEmail('new@example.com');
      expect(added!.id).toBeGreaterThan(7);
      expect((await stores.audience.changesSince(3, 10)).profiles.map((p) => p.email)).toEqual(['new@example.com']);
      // The batch the old server had half is finished and committed as any other.
      expect(await stores.deliveries.commitBatch('half', 'abcdef01', new Date())).toEqual({ ok: true, recipients: 1 });
      expect(await stores.query(`SELECT seq, status FROM journal WHERE delivery_id = 'half'`)).toEqual([{ seq: 1, status: 'queued' }]);
      expect(await stores.query(`SELECT seq, staged FROM exclusions WHERE delivery_id = 'half'`)).toEqual([{ seq: 2, staged: 0 }]);
    } finally {
      await stores.close();
    }
  });
});
