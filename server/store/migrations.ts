/**
 * The schema of record, for both engines, from one list: each step has its reason, its SQL
 * for SQLite and for PostgreSQL, and at times a backfill in TypeScript (a value computed by
 * the same code that computes it at write time, so both engines hold the same). A database
 * records how many steps it has taken (SQLite's `user_version`, PostgreSQL's
 * `schema_version` table) and takes the missing ones at start, each in one transaction.
 *
 * Times are ISO 8601 text in both engines (they compare as text), JSON is text, and ids are
 * 64-bit integers: what one engine stores, the other can read without conversion.
 */

import { mailboxTexts } from './mailbox';
import { profileSearchText } from './audience';

/** What a backfill can do: read and write rows through the engine it runs on. */
export interface MigrationSql {
  all<T>(text: string, params?: readonly unknown[]): Promise<T[]>;
  run(text: string, params?: readonly unknown[]): Promise<void>;
}

export interface Migration {
  reason: string;
  sqlite: string;
  postgres: string;
  /** Fills new columns from existing rows, after the SQL of its step, in the same transaction. */
  backfill?: (sql: MigrationSql) => Promise<void>;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    reason: 'The first schema: profiles, operators and sessions, deliveries, their batches and journal, links, tracking, the mailbox.',
    sqlite: `
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
  );`,
    postgres: `
  CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
  CREATE TABLE profiles (
    id BIGINT PRIMARY KEY,
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
    change_seq BIGINT NOT NULL
  );
  CREATE INDEX profiles_change_seq ON profiles (change_seq);
  CREATE INDEX profiles_email ON profiles (email);
  CREATE TABLE users (username TEXT PRIMARY KEY, password_hash TEXT NOT NULL);
  CREATE TABLE sessions (token_hash TEXT PRIMARY KEY, username TEXT NOT NULL, expires_at BIGINT NOT NULL);
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
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    profile_id BIGINT NOT NULL,
    email TEXT NOT NULL,
    subject TEXT NOT NULL,
    vals TEXT NOT NULL,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT,
    smtp_reply TEXT,
    updated_at TEXT NOT NULL
  );
  CREATE INDEX journal_delivery_status ON journal (delivery_id, status, id);
  CREATE TABLE links (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    url TEXT NOT NULL,
    UNIQUE (delivery_id, url)
  );
  CREATE TABLE tracking_events (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    delivery_id TEXT NOT NULL,
    journal_id BIGINT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('open', 'click', 'unsubscribe')),
    link_id BIGINT,
    at TEXT NOT NULL,
    user_agent TEXT
  );
  CREATE INDEX tracking_events_delivery ON tracking_events (delivery_id, kind, journal_id);
  CREATE TABLE mailbox (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    received_at TEXT NOT NULL,
    envelope_from TEXT NOT NULL,
    envelope_to TEXT NOT NULL,
    raw BYTEA NOT NULL
  );`,
  },
  {
    reason:
      'The audience of record: unique normalized addresses, typed custom attributes (city becomes one), suppression of record, recent sends, and tombstones for deleted profiles. Profiles sharing an address after normalization are merged into the oldest.',
    sqlite: `
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
  );`,
    postgres: `
  ALTER TABLE profiles ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
  ALTER TABLE profiles ADD COLUMN attributes TEXT NOT NULL DEFAULT '{}';
  UPDATE profiles SET attributes = json_build_object('city', city)::text WHERE city <> '';
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
  CREATE TABLE sends (profile_id BIGINT NOT NULL, delivery_id TEXT NOT NULL, at TEXT NOT NULL, PRIMARY KEY (profile_id, delivery_id));
  CREATE INDEX sends_profile_at ON sends (profile_id, at);
  CREATE TABLE tombstones (profile_id BIGINT PRIMARY KEY, change_seq BIGINT NOT NULL);
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
  );`,
  },
  {
    reason:
      'Which import last wrote a profile: a file naming an address twice is noticed without holding every address of the file in memory.',
    sqlite: `ALTER TABLE profiles ADD COLUMN imported_by TEXT;`,
    postgres: `ALTER TABLE profiles ADD COLUMN imported_by TEXT;`,
  },
  {
    reason:
      'Opens and clicks by machines (privacy proxies, link scanners) are kept apart; the address they came from helps tell; reports read events by time; the send rate counts a range, not a scan.',
    sqlite: `
  ALTER TABLE tracking_events ADD COLUMN machine INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tracking_events ADD COLUMN ip TEXT;
  CREATE INDEX tracking_events_at ON tracking_events (delivery_id, at);
  CREATE INDEX tracking_events_journal ON tracking_events (journal_id, kind);
  CREATE INDEX journal_delivery_status_updated ON journal (delivery_id, status, updated_at);`,
    postgres: `
  ALTER TABLE tracking_events ADD COLUMN machine INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE tracking_events ADD COLUMN ip TEXT;
  CREATE INDEX tracking_events_at ON tracking_events (delivery_id, at);
  CREATE INDEX tracking_events_journal ON tracking_events (journal_id, kind);
  CREATE INDEX journal_delivery_status_updated ON journal (delivery_id, status, updated_at);`,
  },
  {
    reason:
      'The delivery log lists every excluded profile with the rule that excluded it, not only how many: exclusions come in parts like recipients, then are kept per delivery, numbered after its recipients. The log pages the journal by recipient number: an index makes each page a range.',
    sqlite: `
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
  CREATE INDEX journal_delivery_seq ON journal (delivery_id, seq);`,
    postgres: `
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
    profile_id BIGINT NOT NULL,
    email TEXT NOT NULL,
    rule TEXT NOT NULL,
    cause TEXT NOT NULL,
    PRIMARY KEY (delivery_id, seq)
  );
  CREATE INDEX journal_delivery_seq ON journal (delivery_id, seq);`,
  },
  {
    reason:
      "Past one machine. The hand-off writes each part at once as journal rows (status staged) and exclusion rows (staged, numbered below zero), and the commit makes them queued in one statement: no staging blob, no batch in memory. Claims carry the node and a lease, so a node that dies leaves only its own rows to become unknown. Nodes record that they are alive. Searches read a folded copy of the names and of a message's subject, computed at write time by the same code in both engines.",
    sqlite: `
  CREATE TABLE batch_parts (
    delivery_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    seq INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, content_hash, seq)
  );
  INSERT INTO batch_parts (delivery_id, content_hash, seq, rows)
    SELECT delivery_id, content_hash, seq, json_array_length(recipients) FROM batch_chunks;
  INSERT INTO batch_parts (delivery_id, content_hash, seq, rows)
    SELECT delivery_id, content_hash, seq, json_array_length(exclusions) FROM batch_exclusions;
  INSERT INTO journal (delivery_id, seq, profile_id, email, subject, vals, status, updated_at)
    SELECT c.delivery_id, json_extract(r.value, '$.seq'), json_extract(r.value, '$.profileId'), json_extract(r.value, '$.email'),
      json_extract(r.value, '$.subject'), json(json_extract(r.value, '$.values')), 'staged', d.updated_at
    FROM batch_chunks c JOIN deliveries d ON d.id = c.delivery_id AND d.content_hash = c.content_hash AND d.committed = 0,
      json_each(c.recipients) r;
  ALTER TABLE exclusions ADD COLUMN staged INTEGER NOT NULL DEFAULT 0;
  INSERT INTO exclusions (delivery_id, seq, profile_id, email, rule, cause, staged)
    SELECT b.delivery_id, -(b.seq * 100000 + e.key + 1), json_extract(e.value, '$.profileId'), json_extract(e.value, '$.email'),
      json_extract(e.value, '$.rule'), json_extract(e.value, '$.cause'), 1
    FROM batch_exclusions b JOIN deliveries d ON d.id = b.delivery_id AND d.content_hash = b.content_hash AND d.committed = 0,
      json_each(b.exclusions) e;
  DROP TABLE batch_chunks;
  DROP TABLE batch_exclusions;
  DROP INDEX journal_delivery_seq;
  CREATE UNIQUE INDEX journal_delivery_seq ON journal (delivery_id, seq);
  ALTER TABLE journal ADD COLUMN claimed_by TEXT;
  ALTER TABLE journal ADD COLUMN lease_until INTEGER;
  CREATE TABLE nodes (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, started_at TEXT NOT NULL, seen_at INTEGER NOT NULL);
  ALTER TABLE profiles ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
  ALTER TABLE mailbox ADD COLUMN subject TEXT NOT NULL DEFAULT '';
  ALTER TABLE mailbox ADD COLUMN search_text TEXT NOT NULL DEFAULT '';`,
    postgres: `
  CREATE TABLE batch_parts (
    delivery_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    seq INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    PRIMARY KEY (delivery_id, content_hash, seq)
  );
  INSERT INTO batch_parts (delivery_id, content_hash, seq, rows)
    SELECT delivery_id, content_hash, seq, json_array_length(recipients::json) FROM batch_chunks;
  INSERT INTO batch_parts (delivery_id, content_hash, seq, rows)
    SELECT delivery_id, content_hash, seq, json_array_length(exclusions::json) FROM batch_exclusions;
  INSERT INTO journal (delivery_id, seq, profile_id, email, subject, vals, status, updated_at)
    SELECT c.delivery_id, (r.value->>'seq')::int, (r.value->>'profileId')::bigint, r.value->>'email', r.value->>'subject',
      (r.value->'values')::text, 'staged', d.updated_at
    FROM batch_chunks c JOIN deliveries d ON d.id = c.delivery_id AND d.content_hash = c.content_hash AND d.committed = 0,
      json_array_elements(c.recipients::json) r(value);
  ALTER TABLE exclusions ADD COLUMN staged INTEGER NOT NULL DEFAULT 0;
  INSERT INTO exclusions (delivery_id, seq, profile_id, email, rule, cause, staged)
    SELECT b.delivery_id, -(b.seq * 100000 + e.n), (e.value->>'profileId')::bigint, e.value->>'email', e.value->>'rule', e.value->>'cause', 1
    FROM batch_exclusions b JOIN deliveries d ON d.id = b.delivery_id AND d.content_hash = b.content_hash AND d.committed = 0,
      json_array_elements(b.exclusions::json) WITH ORDINALITY e(value, n);
  DROP TABLE batch_chunks;
  DROP TABLE batch_exclusions;
  DROP INDEX journal_delivery_seq;
  CREATE UNIQUE INDEX journal_delivery_seq ON journal (delivery_id, seq);
  ALTER TABLE journal ADD COLUMN claimed_by TEXT;
  ALTER TABLE journal ADD COLUMN lease_until BIGINT;
  CREATE TABLE nodes (id TEXT PRIMARY KEY, host TEXT NOT NULL, pid INTEGER NOT NULL, started_at TEXT NOT NULL, seen_at BIGINT NOT NULL);
  ALTER TABLE profiles ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
  ALTER TABLE mailbox ADD COLUMN subject TEXT NOT NULL DEFAULT '';
  ALTER TABLE mailbox ADD COLUMN search_text TEXT NOT NULL DEFAULT '';
  -- Change numbers and profile ids come from sequences: several nodes take them at once.
  CREATE SEQUENCE change_seq;
  SELECT setval('change_seq', GREATEST(1, m), m > 0) FROM (SELECT GREATEST(COALESCE((SELECT value::bigint FROM meta WHERE key = 'change_seq'), 0),
    COALESCE((SELECT MAX(change_seq) FROM profiles), 0), COALESCE((SELECT MAX(change_seq) FROM tombstones), 0)) AS m) latest;
  -- Rows in flight, looked for when a node dies: few at any time, so a partial index.
  CREATE INDEX journal_sending ON journal (claimed_by) WHERE status = 'sending';
  CREATE SEQUENCE profile_ids;
  SELECT setval('profile_ids', GREATEST(1, m), m > 0)
    FROM (SELECT GREATEST(COALESCE((SELECT MAX(id) FROM profiles), 0), COALESCE((SELECT MAX(profile_id) FROM tombstones), 0)) AS m) latest;`,
    async backfill(sql) {
      for (const p of await sql.all<{ id: number; email: string; first_name: string; last_name: string }>(
        'SELECT id, email, first_name, last_name FROM profiles',
      )) {
        await sql.run('UPDATE profiles SET search_text = ? WHERE id = ?', [profileSearchText(p.email, p.first_name, p.last_name), p.id]);
      }
      for (const m of await sql.all<{ id: number; envelope_from: string; envelope_to: string; raw: Buffer }>(
        'SELECT id, envelope_from, envelope_to, raw FROM mailbox',
      )) {
        const { subject, searchText } = mailboxTexts(Buffer.from(m.raw), m.envelope_from, m.envelope_to);
        await sql.run('UPDATE mailbox SET subject = ?, search_text = ? WHERE id = ?', [subject, searchText, m.id]);
      }
    },
  },
  {
    reason:
      'A team works together: operators have a role and can be disabled; integrations sign in with API tokens; an audit log says who did what; drafts and typologies are documents of record (fields stamped by a hybrid logical clock, numbered by change like the audience), so every device pulls them.',
    sqlite: `
  ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
  ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
  ALTER TABLE users ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
  );
  CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    object_name TEXT NOT NULL,
    detail TEXT NOT NULL
  );
  CREATE INDEX audit_log_object ON audit_log (object_id, id);
  CREATE TABLE work_docs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    doc TEXT NOT NULL,
    change_seq INTEGER NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX work_docs_change_seq ON work_docs (change_seq);`,
    postgres: `
  ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'admin';
  ALTER TABLE users ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE users ADD COLUMN created_at TEXT NOT NULL DEFAULT '';
  ALTER TABLE users ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
  CREATE TABLE api_tokens (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    token_hash TEXT NOT NULL UNIQUE,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expires_at TEXT,
    revoked_at TEXT,
    last_used_at TEXT
  );
  CREATE TABLE audit_log (
    id BIGSERIAL PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    object_kind TEXT NOT NULL,
    object_id TEXT NOT NULL,
    object_name TEXT NOT NULL,
    detail TEXT NOT NULL
  );
  CREATE INDEX audit_log_object ON audit_log (object_id, id);
  CREATE TABLE work_docs (
    id TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    doc TEXT NOT NULL,
    change_seq BIGINT NOT NULL,
    deleted INTEGER NOT NULL DEFAULT 0
  );
  CREATE INDEX work_docs_change_seq ON work_docs (change_seq);`,
  },
  {
    reason:
      'A message has a preheader of its own (the hidden text inboxes show after the subject) and a text part that may be written, not only derived from the HTML.',
    sqlite: `
  ALTER TABLE deliveries ADD COLUMN preheader TEXT NOT NULL DEFAULT '';
  ALTER TABLE deliveries ADD COLUMN text_part TEXT NOT NULL DEFAULT '';`,
    postgres: `
  ALTER TABLE deliveries ADD COLUMN preheader TEXT NOT NULL DEFAULT '';
  ALTER TABLE deliveries ADD COLUMN text_part TEXT NOT NULL DEFAULT '';`,
  },
  {
    reason:
      'Images for messages are uploaded to Mailroom and served from its public URL: stored in the database, named by the SHA-256 of their bytes, so every node serves them.',
    sqlite: `
  CREATE TABLE assets (
    hash TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    size INTEGER NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    name TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    bytes BLOB NOT NULL
  );
  CREATE INDEX assets_uploaded_at ON assets (uploaded_at);`,
    postgres: `
  CREATE TABLE assets (
    hash TEXT PRIMARY KEY,
    type TEXT NOT NULL,
    size BIGINT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    name TEXT NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL,
    bytes BYTEA NOT NULL
  );
  CREATE INDEX assets_uploaded_at ON assets (uploaded_at);`,
  },
  {
    reason:
      'Bounces and complaints arrive later, as reports: each is kept with its journal row, soft bounces are counted, and a quarantine may be lifted at a time (a full mailbox after 30 days).',
    sqlite: `
  CREATE TABLE late_outcomes (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    journal_id INTEGER NOT NULL,
    delivery_id TEXT NOT NULL,
    email TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('hard-bounce', 'soft-bounce', 'complaint')),
    status TEXT NOT NULL,
    diagnostic TEXT NOT NULL,
    mailbox_full INTEGER NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL
  );
  CREATE INDEX late_outcomes_email ON late_outcomes (email, received_at);
  CREATE INDEX late_outcomes_delivery ON late_outcomes (delivery_id, journal_id);
  CREATE UNIQUE INDEX late_outcomes_once ON late_outcomes (journal_id, kind, status);
  CREATE TABLE quarantine_next (
    email TEXT PRIMARY KEY,
    reason TEXT NOT NULL CHECK (reason IN ('hard-bounce', 'complaint', 'soft-bounces', 'mailbox-full')),
    smtp_reply TEXT,
    delivery_id TEXT,
    at TEXT NOT NULL,
    lift_at TEXT
  );
  INSERT INTO quarantine_next (email, reason, smtp_reply, delivery_id, at) SELECT email, reason, smtp_reply, delivery_id, at FROM quarantine;
  DROP TABLE quarantine;
  ALTER TABLE quarantine_next RENAME TO quarantine;
  CREATE INDEX quarantine_lift_at ON quarantine (lift_at) WHERE lift_at IS NOT NULL;`,
    postgres: `
  CREATE TABLE late_outcomes (
    id BIGSERIAL PRIMARY KEY,
    journal_id BIGINT NOT NULL,
    delivery_id TEXT NOT NULL,
    email TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('hard-bounce', 'soft-bounce', 'complaint')),
    status TEXT NOT NULL,
    diagnostic TEXT NOT NULL,
    mailbox_full INTEGER NOT NULL DEFAULT 0,
    received_at TEXT NOT NULL
  );
  CREATE INDEX late_outcomes_email ON late_outcomes (email, received_at);
  CREATE INDEX late_outcomes_delivery ON late_outcomes (delivery_id, journal_id);
  CREATE UNIQUE INDEX late_outcomes_once ON late_outcomes (journal_id, kind, status);
  ALTER TABLE quarantine DROP CONSTRAINT IF EXISTS quarantine_reason_check;
  ALTER TABLE quarantine ADD CONSTRAINT quarantine_reason_check CHECK (reason IN ('hard-bounce', 'complaint', 'soft-bounces', 'mailbox-full'));
  ALTER TABLE quarantine ADD COLUMN lift_at TEXT;
  CREATE INDEX quarantine_lift_at ON quarantine (lift_at) WHERE lift_at IS NOT NULL;`,
  },
  {
    reason:
      'Operators register webhooks for events (delivered, bounced, opened, clicked, unsubscribed, complained…): each endpoint has a secret to sign with, and every delivery of an event to it is kept with its attempts.',
    sqlite: `
  CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE webhook_deliveries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_result TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
  CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);`,
    postgres: `
  CREATE TABLE webhooks (
    id TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    events TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  CREATE TABLE webhook_deliveries (
    id BIGSERIAL PRIMARY KEY,
    webhook_id TEXT NOT NULL,
    event TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    last_result TEXT,
    created_at TEXT NOT NULL,
    delivered_at TEXT
  );
  CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
  CREATE INDEX webhook_deliveries_log ON webhook_deliveries (webhook_id, id);`,
  },
  {
    reason: 'A delivery may be sent through a relay of its own choosing, one of several in the sending settings (relays.ts).',
    sqlite: `ALTER TABLE deliveries ADD COLUMN relay_id TEXT;`,
    postgres: `ALTER TABLE deliveries ADD COLUMN relay_id TEXT;`,
  },
  {
    reason:
      'A/B tests: a delivery keeps its experiment (variants, test population, criterion, wait) and, once chosen, its winner and why; each journal row its variant, and the rest of the audience waits as held until the winner is known.',
    sqlite: `
  ALTER TABLE deliveries ADD COLUMN experiment TEXT;
  ALTER TABLE deliveries ADD COLUMN winner INTEGER;
  ALTER TABLE deliveries ADD COLUMN winner_reason TEXT;
  ALTER TABLE deliveries ADD COLUMN winner_at TEXT;
  ALTER TABLE journal ADD COLUMN variant INTEGER;`,
    postgres: `
  ALTER TABLE deliveries ADD COLUMN experiment TEXT;
  ALTER TABLE deliveries ADD COLUMN winner INTEGER;
  ALTER TABLE deliveries ADD COLUMN winner_reason TEXT;
  ALTER TABLE deliveries ADD COLUMN winner_at TEXT;
  ALTER TABLE journal ADD COLUMN variant INTEGER;`,
  },
  {
    reason:
      'Seed addresses: a delivery keeps its seeds and when their copies were claimed for sending (once, by one node); each copy sent, by address and variant, is kept apart from the journal, so it counts in no figure.',
    sqlite: `
  ALTER TABLE deliveries ADD COLUMN seeds TEXT;
  ALTER TABLE deliveries ADD COLUMN seeds_sent_at TEXT;
  CREATE TABLE seed_sends (
    delivery_id TEXT NOT NULL,
    email TEXT NOT NULL,
    variant INTEGER NOT NULL,
    status TEXT NOT NULL,
    reply TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (delivery_id, email, variant)
  ) WITHOUT ROWID;`,
    postgres: `
  ALTER TABLE deliveries ADD COLUMN seeds TEXT;
  ALTER TABLE deliveries ADD COLUMN seeds_sent_at TEXT;
  CREATE TABLE seed_sends (
    delivery_id TEXT NOT NULL,
    email TEXT NOT NULL,
    variant INTEGER NOT NULL,
    status TEXT NOT NULL,
    reply TEXT NOT NULL,
    at TEXT NOT NULL,
    PRIMARY KEY (delivery_id, email, variant)
  );`,
  },
  {
    reason:
      "Sending at each recipient's local time and in waves: a journal row may be due later than the start (claims take only rows that are due), and a delivery keeps its waves, which set the due times when sending starts.",
    sqlite: `
  ALTER TABLE journal ADD COLUMN due_at INTEGER;
  ALTER TABLE deliveries ADD COLUMN waves TEXT;
  ALTER TABLE deliveries ADD COLUMN send_window_ms INTEGER;
  CREATE INDEX journal_due ON journal (delivery_id, status, due_at) WHERE due_at IS NOT NULL;`,
    postgres: `
  ALTER TABLE journal ADD COLUMN due_at BIGINT;
  ALTER TABLE deliveries ADD COLUMN waves TEXT;
  ALTER TABLE deliveries ADD COLUMN send_window_ms BIGINT;
  CREATE INDEX journal_due ON journal (delivery_id, status, due_at) WHERE due_at IS NOT NULL;`,
  },
  {
    reason:
      'Rows with due times are claimed earliest due first (then by id): the index holds both, so that a claim reads the first rows in order instead of sorting every row due.',
    sqlite: `
  DROP INDEX journal_due;
  CREATE INDEX journal_due ON journal (delivery_id, status, due_at, id) WHERE due_at IS NOT NULL;`,
    postgres: `
  DROP INDEX journal_due;
  CREATE INDEX journal_due ON journal (delivery_id, status, due_at, id) WHERE due_at IS NOT NULL;`,
  },
  {
    reason:
      'Seed copies are queued when sending first starts and retried like messages (a relay down, a temporary refusal): each keeps its attempts and when it is due again.',
    sqlite: `
  ALTER TABLE seed_sends ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE seed_sends ADD COLUMN next_attempt_at INTEGER;`,
    postgres: `
  ALTER TABLE seed_sends ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
  ALTER TABLE seed_sends ADD COLUMN next_attempt_at BIGINT;`,
  },
  {
    reason:
      "The subscriber's side: sign-up forms, the consents they collect (pending until the confirmation link is clicked, with the time, address, form and text shown), a profile pending its confirmation (never mailed), and the hashed addresses of erased profiles, which no import brings back.",
    sqlite: `
  ALTER TABLE profiles ADD COLUMN pending_since TEXT;
  CREATE TABLE signup_forms (id TEXT PRIMARY KEY, definition TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE consents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    profile_id INTEGER,
    email TEXT NOT NULL,
    form_id TEXT NOT NULL,
    status TEXT NOT NULL,
    text_shown TEXT NOT NULL,
    locale TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    submitted_at TEXT NOT NULL,
    confirmed_at TEXT,
    confirm_ip TEXT,
    payload TEXT NOT NULL
  );
  CREATE INDEX consents_email ON consents (email);
  CREATE TABLE erased_addresses (hash TEXT PRIMARY KEY, at TEXT NOT NULL);`,
    postgres: `
  ALTER TABLE profiles ADD COLUMN pending_since TEXT;
  CREATE TABLE signup_forms (id TEXT PRIMARY KEY, definition TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
  CREATE TABLE consents (
    id BIGSERIAL PRIMARY KEY,
    profile_id BIGINT,
    email TEXT NOT NULL,
    form_id TEXT NOT NULL,
    status TEXT NOT NULL,
    text_shown TEXT NOT NULL,
    locale TEXT NOT NULL,
    ip TEXT,
    user_agent TEXT,
    submitted_at TEXT NOT NULL,
    confirmed_at TEXT,
    confirm_ip TEXT,
    payload TEXT NOT NULL
  );
  CREATE INDEX consents_email ON consents (email);
  CREATE TABLE erased_addresses (hash TEXT PRIMARY KEY, at TEXT NOT NULL);`,
  },
  {
    reason: "Content by language: a delivery keeps its translations, whose recipients' journal rows name their variant.",
    sqlite: `
  ALTER TABLE deliveries ADD COLUMN translations TEXT;`,
    postgres: `
  ALTER TABLE deliveries ADD COLUMN translations TEXT;`,
  },
];
