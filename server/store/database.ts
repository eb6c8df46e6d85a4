/** The SQLite file of record: opened in WAL mode and migrated forward by `user_version`. */

import Database from 'better-sqlite3';

export type Db = Database.Database;

const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE profiles (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    first_name TEXT NOT NULL DEFAULT '',
    last_name TEXT NOT NULL DEFAULT '',
    locale TEXT NOT NULL DEFAULT '',
    city TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'subscribed' CHECK (status IN ('subscribed', 'unsubscribed')),
    status_changed_at TEXT,
    status_source TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    change_seq INTEGER NOT NULL
  );
  CREATE INDEX profiles_change_seq ON profiles (change_seq);
  CREATE INDEX profiles_email ON profiles (email);
  CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL);
  CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, expires_at INTEGER NOT NULL);
  CREATE TABLE deliveries (
    id TEXT PRIMARY KEY,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    name TEXT NOT NULL,
    from_name TEXT NOT NULL,
    from_address TEXT NOT NULL,
    subject TEXT NOT NULL,
    html TEXT NOT NULL,
    status TEXT NOT NULL,
    status_reason TEXT,
    scheduled_at TEXT,
    targeted INTEGER NOT NULL,
    to_deliver INTEGER NOT NULL,
    excluded INTEGER NOT NULL,
    excluded_by_cause TEXT NOT NULL,
    chunk_count INTEGER NOT NULL,
    committed INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
  );
  CREATE TABLE batch_chunks (
    delivery_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    seq INTEGER NOT NULL,
    recipients TEXT NOT NULL,
    PRIMARY KEY (delivery_id, content_hash, seq)
  );
  CREATE TABLE journal (
    id INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    profile_id INTEGER NOT NULL,
    email TEXT NOT NULL,
    subject TEXT NOT NULL,
    vals TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER,
    smtp_reply TEXT,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX journal_delivery_status ON journal (delivery_id, status, id);
  CREATE TABLE links (
    id INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    url TEXT NOT NULL,
    UNIQUE (delivery_id, url)
  );
  CREATE TABLE tracking_events (
    id INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    journal_id INTEGER NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('open', 'click', 'unsubscribe')),
    link_id INTEGER,
    at TEXT NOT NULL,
    user_agent TEXT
  );
  CREATE INDEX tracking_events_delivery ON tracking_events (delivery_id, kind, journal_id);
  CREATE TABLE mailbox (
    id INTEGER PRIMARY KEY,
    received_at TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    envelope_to TEXT NOT NULL,
    raw BLOB NOT NULL
  );
  `,
  // The audience of record: unique normalized addresses, typed custom attributes (city
  // becomes one), suppression of record, recent sends, and tombstones for deleted profiles.
  // Profiles sharing an address after normalization are merged into the oldest.
  `
  ALTER TABLE profiles ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
  ALTER TABLE profiles ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
  UPDATE profiles SET attributes = json_object('city', city) WHERE city <> '';
  DROP INDEX profiles_email;
  ALTER TABLE profiles DROP COLUMN city;
  UPDATE profiles SET email = lower(trim(email));
  DELETE FROM profiles WHERE id NOT IN (SELECT MIN(id) FROM profiles GROUP BY email);
  CREATE UNIQUE INDEX profiles_email ON profiles (email);
  CREATE TABLE attribute_schema (
    name TEXT PRIMARY KEY,
    label TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('text', 'number', 'date', 'boolean', 'tags')),
    position INTEGER NOT NULL
  );
  INSERT INTO attribute_schema (name, label, type, position) SELECT 'city', 'City', 'text', 1 WHERE EXISTS (SELECT 1 FROM profiles);
  CREATE TABLE denylist (email TEXT PRIMARY KEY, reason TEXT NOT NULL, added_at TEXT NOT NULL, added_by TEXT NOT NULL);
  CREATE TABLE quarantine (
    email TEXT PRIMARY KEY,
    reason TEXT NOT NULL CHECK (reason IN ('hard-bounce', 'complaint')),
    smtp_reply TEXT,
    delivery_id TEXT,
    at TEXT NOT NULL
  );
  CREATE TABLE sends (profile_id INTEGER NOT NULL, delivery_id TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (profile_id, delivery_id));
  CREATE INDEX sends_profile_at ON sends (profile_id, at);
  CREATE TABLE tombstones (profile_id INTEGER PRIMARY KEY, change_seq INTEGER NOT NULL);
  CREATE INDEX tombstones_change_seq ON tombstones (change_seq);
  CREATE TABLE imports (
    id TEXT PRIMARY KEY,
    file_name TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    status TEXT NOT NULL,
    message TEXT,
    rows INTEGER NOT NULL DEFAULT 0,
    inserted INTEGER NOT NULL DEFAULT 0,
    updated INTEGER NOT NULL DEFAULT 0,
    rejected INTEGER NOT NULL DEFAULT 0,
    report TEXT NOT NULL DEFAULT ''
  );
  `,
  // Which import last wrote a profile: a file naming an address twice is noticed without
  // holding every address of the file in memory.
  `
  ALTER TABLE profiles ADD COLUMN imported_by TEXT;
  `,
  // Opens and clicks by machines (privacy proxies, link scanners) are kept apart; the
  // address they came from helps tell; reports read events by time.
  `
  ALTER TABLE tracking_events ADD COLUMN machine INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tracking_events ADD COLUMN ip TEXT;
  CREATE INDEX tracking_events_at ON tracking_events (delivery_id, at);
  CREATE INDEX tracking_events_journal ON tracking_events (journal_id, kind);
  -- The send rate counts a delivery's messages sent in the last minute: a range, not a scan.
  CREATE INDEX journal_delivery_status_updated ON journal (delivery_id, status, updated_at);
  `,
  // The delivery log lists every excluded profile with the rule that excluded it, not only
  // how many: a batch's exclusions come in parts like its recipients (staged in
  // batch_exclusions until the commit checks them against the figures), then are kept per
  // delivery, numbered after its recipients, with the time of the commit. The log pages the
  // journal by recipient number: an index makes each page a range instead of a sort.
  `
  ALTER TABLE deliveries ADD COLUMN exclusion_chunk_count INTEGER;
  ALTER TABLE deliveries ADD COLUMN committed_at TEXT;
  CREATE TABLE batch_exclusions (
    delivery_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    seq INTEGER NOT NULL,
    exclusions TEXT NOT NULL,
    PRIMARY KEY (delivery_id, content_hash, seq)
  );
  CREATE TABLE exclusions (
    delivery_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    profile_id INTEGER NOT NULL,
    email TEXT NOT NULL,
    rule TEXT NOT NULL,
    cause TEXT NOT NULL,
    PRIMARY KEY (delivery_id, seq)
  ) WITHOUT ROWID;
  CREATE INDEX journal_delivery_seq ON journal (delivery_id, seq);
  `,
];

/** Returns the database at `file`, created and migrated to the latest schema. */
export function openDatabase(file: string): Db {
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  const current = db.pragma('user_version', { simple: true }) as number;
  for (let version = current; version < MIGRATIONS.length; version++) {
    db.transaction(() => {
      db.exec(MIGRATIONS[version]);
      db.pragma(`user_version = ${version + 1}`);
    })();
  }
  return db;
}

/** Returns the next number of the audience change log; every profile write takes one. */
export function nextChangeSeq(db: Db): number {
  const row = db
    .prepare(
      `INSERT INTO meta (key, value) VALUES ('change_seq', '1')
       ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1
       RETURNING CAST(value AS INTEGER) AS seq`,
    )
    .get() as { seq: number };
  return row.seq;
}

/** Takes `count` consecutive numbers of the change log at once; returns the first. */
export function reserveChangeSeqs(db: Db, count: number): number {
  const row = db
    .prepare(
      `INSERT INTO meta (key, value) VALUES ('change_seq', @count)
       ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + @count
       RETURNING CAST(value AS INTEGER) AS last`,
    )
    .get({ count }) as { last: number };
  return row.last - count + 1;
}

/** Returns a meta value, or undefined. */
export function getMeta(db: Db, key: string): string | undefined {
  return (db.prepare('SELECT value FROM meta WHERE key = ?').get(key) as { value: string } | undefined)?.value;
}

export function setMeta(db: Db, key: string, value: string): void {
  db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
}
