/** The audience of record in SQLite (see ../audience.ts for what it holds and promises). */

import { normalizeEmail } from '../../../shared/email-address';
import type { AttributeDefinition, ProfileInput, SubscriptionStatus } from '../../../shared/types';
import {
  changePage,
  erasedAddressHash,
  isRecipientsOwnChoice,
  profileSearchText,
  searchWords,
  SELECT_PROFILE,
  toProfile,
  type AudienceStore,
  type ProfileRow,
  type SeedMarks,
  type RecentSend,
  type SeedRemoval,
  type QuarantineReason,
  type Suppression,
  type UpsertCounts,
} from '../audience';
import { asAsync, type Sync } from '../sync';
import { nextChangeSeq, reserveChangeSeqs, type Db } from './database';

export function sqliteAudienceStore(db: Db): AudienceStore {
  return asAsync<AudienceStore>(syncAudienceStore(db));
}

function syncAudienceStore(db: Db): Sync<AudienceStore> {
  const count = db.prepare('SELECT COUNT(*) FROM profiles').pluck();
  const schema = db.prepare('SELECT name, label, type FROM attribute_schema ORDER BY position, name');
  const declare = db.prepare(
    `INSERT INTO attribute_schema (name, label, type, position)
     VALUES (@name, @label, @type, (SELECT COALESCE(MAX(position), 0) + 1 FROM attribute_schema))
     ON CONFLICT (name) DO UPDATE SET label = excluded.label`,
  );
  const changedProfiles = db.prepare(`${SELECT_PROFILE} WHERE p.change_seq > ? ORDER BY p.change_seq LIMIT ?`);
  const tombstones = db.prepare(
    'SELECT profile_id AS id, change_seq AS seq FROM tombstones WHERE change_seq > ? ORDER BY change_seq LIMIT ?',
  );
  const byId = db.prepare(`${SELECT_PROFILE} WHERE p.id = ?`);
  const byEmail = db.prepare(`${SELECT_PROFILE} WHERE p.email = ?`);
  const idByEmail = db.prepare(
    `SELECT id, attributes, imported_by AS importedBy, status, status_source AS statusSource, first_name AS firstName,
       last_name AS lastName FROM profiles WHERE email = ?`,
  );
  const insert = db.prepare(
    `INSERT INTO profiles (id, email, first_name, last_name, locale, time_zone, status, status_changed_at, status_source, attributes,
       created_at, updated_at, change_seq, imported_by, search_text, pending_since)
     VALUES (@id, @email, @firstName, @lastName, @locale, @timeZone, @status, @now, @source, @attributes, @now, @now, @seq, @importId,
       @searchText, @pendingSince)`,
  );
  // A new profile never takes the id of a deleted one: SQLite would reuse the highest id, and a
  // replica pulling the tombstone and the new profile in one page would drop the new one (the
  // sends and journal rows of the old one would also become the new one's).
  const highestId = db
    .prepare('SELECT MAX(COALESCE((SELECT MAX(id) FROM profiles), 0), COALESCE((SELECT MAX(profile_id) FROM tombstones), 0))')
    .pluck();
  // An update writes only what the input carries; a status change records when and from where.
  const update = db.prepare(
    `UPDATE profiles SET
       first_name = coalesce(@firstName, first_name), last_name = coalesce(@lastName, last_name),
       locale = coalesce(@locale, locale), time_zone = coalesce(@timeZone, time_zone),
       status_changed_at = CASE WHEN @status IS NOT NULL AND @status <> status THEN @now ELSE status_changed_at END,
       status_source = CASE WHEN @status IS NOT NULL AND @status <> status THEN @source ELSE status_source END,
       status = coalesce(@status, status), attributes = @attributes, updated_at = @now, change_seq = @seq,
       imported_by = coalesce(@importId, imported_by), search_text = @searchText,
       pending_since = CASE WHEN @confirmed = 1 THEN NULL ELSE pending_since END
     WHERE id = @id`,
  );
  const remove = db.prepare('DELETE FROM profiles WHERE id = ?');
  const erasedHash = db.prepare('SELECT 1 FROM erased_addresses WHERE hash = ?').pluck();
  const tombstone = db.prepare('INSERT OR REPLACE INTO tombstones (profile_id, change_seq) VALUES (?, ?)');
  const unsubscribe = db.prepare(
    `UPDATE profiles SET status = 'unsubscribed', status_changed_at = @now, status_source = @source, updated_at = @now, change_seq = @seq
     WHERE id = @id AND status = 'subscribed'`,
  );
  const statusOf = db.prepare('SELECT status FROM profiles WHERE id = ?').pluck();
  const optIn = db.prepare(
    `UPDATE profiles SET status = 'subscribed', status_changed_at = @now, status_source = @source, updated_at = @now, change_seq = @seq,
       pending_since = NULL WHERE id = @id AND status = 'unsubscribed'`,
  );
  const stamp = db.prepare('UPDATE profiles SET change_seq = ?, updated_at = ? WHERE email = ?');
  const deny = db.prepare(
    `INSERT INTO denylist (email, reason, added_at, added_by) VALUES (?, ?, ?, ?)
     ON CONFLICT (email) DO UPDATE SET reason = excluded.reason, added_at = excluded.added_at, added_by = excluded.added_by`,
  );
  const undeny = db.prepare('DELETE FROM denylist WHERE email = ?');
  const quarantine = db.prepare(
    `INSERT INTO quarantine (email, reason, smtp_reply, delivery_id, at, lift_at) VALUES (?, ?, ?, ?, ?, ?)
     ON CONFLICT (email) DO UPDATE SET reason = excluded.reason, smtp_reply = excluded.smtp_reply, delivery_id = excluded.delivery_id,
       at = excluded.at, lift_at = excluded.lift_at
     WHERE quarantine.lift_at IS NOT NULL OR excluded.lift_at IS NULL`,
  );
  const dueLifts = db.prepare('SELECT email FROM quarantine WHERE lift_at IS NOT NULL AND lift_at <= ?').pluck();
  const lift = db.prepare('DELETE FROM quarantine WHERE email = ?');
  const denyOf = db.prepare('SELECT reason, added_at AS addedAt, added_by AS addedBy FROM denylist WHERE email = ?');
  const quarantineOf = db.prepare('SELECT reason, smtp_reply AS smtpReply, delivery_id AS deliveryId, at FROM quarantine WHERE email = ?');
  let recentSends: ReturnType<Db['prepare']> | undefined;
  const seededIds = db.prepare(
    `SELECT id FROM profiles WHERE email IN (SELECT value FROM json_each(@emails)) AND (imported_by IS NULL OR imported_by = @marker)`,
  );
  const seededKept = db
    .prepare(
      `SELECT COUNT(*) FROM profiles WHERE email IN (SELECT value FROM json_each(@emails)) AND imported_by IS NOT NULL AND imported_by <> @marker`,
    )
    .pluck();
  const seedDenylist = db.prepare(
    `DELETE FROM denylist WHERE added_by = @by AND email IN (SELECT value FROM json_each(@emails))
       AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.email = denylist.email)`,
  );
  const seedQuarantine = db.prepare(
    `DELETE FROM quarantine WHERE smtp_reply = @reply AND delivery_id IS NULL AND email IN (SELECT value FROM json_each(@emails))
       AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.email = quarantine.email)`,
  );
  const attributeUsed = db.prepare(`SELECT EXISTS (SELECT 1 FROM profiles WHERE json_type(attributes, '$.' || ?) IS NOT NULL)`).pluck();
  const dropAttribute = db.prepare('DELETE FROM attribute_schema WHERE name = ?');
  // One statement per number of words (each word must match somewhere), prepared on first use.
  const searchStatements = new Map<number, ReturnType<Db['prepare']>>();
  /** Returns the ids of the profiles matching every word of the query, in id order. */
  const matchingIds = (query: string): number[] => {
    const words = searchWords(query);
    if (words.length === 0) return [];
    let statement = searchStatements.get(words.length);
    if (!statement) {
      // search_text holds the address and the folded names (profileSearchText): every word must be in it.
      const sql = `SELECT id FROM profiles WHERE ${words.map(() => 'instr(search_text, ?) > 0').join(' AND ')} ORDER BY id`;
      statement = db.prepare(sql).pluck();
      searchStatements.set(words.length, statement);
    }
    return statement.all(words) as number[];
  };
  /** Deletes the profiles with these ids, leaving a tombstone for each (inside the caller's transaction); returns how many. */
  const deleteIds = (ids: readonly number[]): number => {
    let deleted = 0;
    let seq = ids.length ? reserveChangeSeqs(db, ids.length) : 0;
    for (const id of ids) {
      if (remove.run(id).changes === 0) continue;
      tombstone.run(id, seq++);
      deleted++;
    }
    return deleted;
  };
  const pageById = db.prepare(`${SELECT_PROFILE} WHERE p.id > ? ORDER BY p.id LIMIT ?`);
  let toSend: { all(): unknown[] } | undefined;
  const sentSince = db.prepare(
    'SELECT delivery_id AS deliveryId, MIN(at) AS at, group_concat(profile_id) AS ids FROM sends WHERE at >= ? GROUP BY delivery_id',
  );
  const saveImport = db.prepare(
    `INSERT INTO imports (id, file_name, started_at, finished_at, status, rows, inserted, updated, rejected, report)
     VALUES (@id, @fileName, @startedAt, @finishedAt, 'done', @rows, @inserted, @updated, @rejected, @report)`,
  );
  const importReport = db.prepare('SELECT file_name AS fileName, report FROM imports WHERE id = ?');

  const get = (statement: typeof byId, key: unknown) => {
    const row = statement.get(key) as ProfileRow | undefined;
    return row && toProfile(row);
  };
  /** Stamps the profile at this address (if any) so replicas pull its new suppression state. */
  const touch = (email: string, now: Date) => stamp.run(nextChangeSeq(db), now.toISOString(), email);

  return {
    count: () => count.get() as number,
    schema: () => schema.all() as AttributeDefinition[],
    declareAttribute: (definition) => void declare.run(definition),

    changesSince: (cursor, limit) =>
      changePage(
        changedProfiles.all(cursor, limit + 1) as ProfileRow[],
        tombstones.all(cursor, limit + 1) as { id: number; seq: number }[],
        cursor,
        limit,
        count.get() as number,
      ),

    upsertMany: db.transaction((profiles: readonly ProfileInput[], source: string, now: Date, importId?: string) => {
      const at = now.toISOString();
      const counts: UpsertCounts = { inserted: 0, updated: 0, repeated: 0, keptUnsubscribed: 0, erased: 0 };
      // One reservation of change numbers for the whole batch, in input order.
      let seq = profiles.length ? reserveChangeSeqs(db, profiles.length) : 0;
      let nextId = 0;
      for (const input of profiles) {
        const email = normalizeEmail(input.email);
        // An erased profile's address comes back only as its owner's own sign-up, pending their confirmation.
        if (!input.pending && erasedHash.get(erasedAddressHash(email))) {
          counts.erased++;
          continue;
        }
        const existing = idByEmail.get(email) as
          | {
              id: number;
              attributes: string;
              importedBy: string | null;
              status: SubscriptionStatus;
              statusSource: string | null;
              firstName: string;
              lastName: string;
            }
          | undefined;
        const common = { source, now: at, seq: seq++, importId: importId ?? null };
        if (existing) {
          // Someone who unsubscribed through a message's link stays unsubscribed: only they can opt in again.
          const overridesOwnChoice =
            input.status === 'subscribed' && existing.status === 'unsubscribed' && isRecipientsOwnChoice(existing.statusSource);
          if (overridesOwnChoice) counts.keptUnsubscribed++;
          update.run({
            ...common,
            id: existing.id,
            firstName: input.firstName ?? null,
            lastName: input.lastName ?? null,
            locale: input.locale ?? null,
            timeZone: input.timeZone ?? null,
            status: overridesOwnChoice ? null : (input.status ?? null),
            searchText: profileSearchText(email, input.firstName ?? existing.firstName, input.lastName ?? existing.lastName),
            attributes:
              input.attributes && Object.keys(input.attributes).length
                ? JSON.stringify({ ...JSON.parse(existing.attributes), ...input.attributes })
                : existing.attributes,
            confirmed: input.pending === false ? 1 : 0,
          });
          counts.updated++;
          if (importId && existing.importedBy === importId) counts.repeated++;
        } else {
          nextId = (nextId || (highestId.get() as number)) + 1;
          insert.run({
            ...common,
            id: nextId,
            email,
            firstName: input.firstName ?? '',
            lastName: input.lastName ?? '',
            locale: input.locale ?? '',
            timeZone: input.timeZone ?? '',
            status: input.status ?? 'subscribed',
            attributes: JSON.stringify(input.attributes ?? {}),
            searchText: profileSearchText(email, input.firstName ?? '', input.lastName ?? ''),
            pendingSince: input.pending ? at : null,
          });
          counts.inserted++;
        }
      }
      return counts;
    }),

    get: (profileId) => get(byId, profileId),
    findByEmail: (email) => get(byEmail, normalizeEmail(email)),

    delete: db.transaction((profileId: number) => {
      if (remove.run(profileId).changes === 0) return false;
      tombstone.run(profileId, nextChangeSeq(db));
      return true;
    }),

    optIn: db.transaction(
      (profileId: number, source: string, now: Date) =>
        optIn.run({ id: profileId, source, now: now.toISOString(), seq: nextChangeSeq(db) }).changes === 1,
    ),

    search(query, limit) {
      const ids = matchingIds(query);
      return { total: ids.length, profiles: ids.slice(0, limit).map((id) => get(byId, id)!) };
    },

    deleteMatching: db.transaction((query: string, expected: number) => {
      const ids = matchingIds(query);
      if (ids.length !== expected || ids.length === 0) return { ok: false as const, matching: ids.length };
      return { ok: true as const, deleted: deleteIds(ids) };
    }),

    countSeeded: (emails, marks) => (seededIds.all({ emails: JSON.stringify(emails), marker: marks.marker }) as unknown[]).length,

    removeSeeded: db.transaction((emails: readonly string[], marks: SeedMarks, attributes: readonly string[]): SeedRemoval => {
      const list = JSON.stringify(emails);
      const ids = (seededIds.all({ emails: list, marker: marks.marker }) as { id: number }[]).map((r) => r.id);
      const deleted = deleteIds(ids);
      const kept = seededKept.get({ emails: list, marker: marks.marker }) as number;
      seedDenylist.run({ by: marks.denylistedBy, emails: list });
      seedQuarantine.run({ reply: marks.quarantineReply, emails: list });
      const removedAttributes: string[] = [];
      const keptAttributes: string[] = [];
      for (const name of attributes) {
        if (!(schema.all() as AttributeDefinition[]).some((a) => a.name === name)) continue;
        if (attributeUsed.get(name)) keptAttributes.push(name);
        else {
          dropAttribute.run(name);
          removedAttributes.push(name);
        }
      }
      return { deleted, kept, removedAttributes, keptAttributes };
    }),

    unsubscribe: db.transaction((profileId: number, source: string, now: Date) => {
      // Take a change number only when something changes, so replicas see no empty change.
      if (statusOf.get(profileId) !== 'subscribed') return false;
      return unsubscribe.run({ id: profileId, source, now: now.toISOString(), seq: nextChangeSeq(db) }).changes === 1;
    }),

    denylist: db.transaction((email: string, reason: string, by: string, now: Date) => {
      const address = normalizeEmail(email);
      deny.run(address, reason, now.toISOString(), by);
      touch(address, now);
    }),

    undeny: db.transaction((email: string) => {
      const address = normalizeEmail(email);
      if (undeny.run(address).changes === 0) return false;
      touch(address, new Date());
      return true;
    }),

    quarantine: db.transaction(
      (
        email: string,
        reason: QuarantineReason,
        smtpReply: string | null,
        deliveryId: string | null,
        now: Date,
        liftAt: Date | null = null,
      ) => {
        const address = normalizeEmail(email);
        quarantine.run(address, reason, smtpReply, deliveryId, now.toISOString(), liftAt?.toISOString() ?? null);
        touch(address, now);
      },
    ),
    liftQuarantines: db.transaction((now: Date) => {
      const due = dueLifts.all(now.toISOString()) as string[];
      for (const address of due) {
        lift.run(address);
        touch(address, now);
      }
      return due.length;
    }),

    suppression(email) {
      const address = normalizeEmail(email);
      return {
        denylist: (denyOf.get(address) as Suppression['denylist']) ?? null,
        quarantine: (quarantineOf.get(address) as Suppression['quarantine']) ?? null,
      };
    },

    recentSends: (profileId, limit) => {
      // Prepared on first use, as contactHistory's: the names belong to the delivery store's table.
      recentSends ??= db.prepare(
        `SELECT s.delivery_id AS deliveryId, d.name AS deliveryName, s.at FROM sends s LEFT JOIN deliveries d ON d.id = s.delivery_id
         WHERE s.profile_id = ? ORDER BY s.at DESC LIMIT ?`,
      );
      return recentSends.all([profileId, limit]) as RecentSend[];
    },

    contactHistory: (since) => {
      const byDelivery = new Map<string, { at: string; ids: number[] }>();
      // Prepared on first use: the journal belongs to the delivery store's tables.
      toSend ??= db.prepare(
        `SELECT j.delivery_id AS deliveryId, COALESCE(d.scheduled_at, d.started_at, d.updated_at) AS at, group_concat(j.profile_id) AS ids
         FROM journal j JOIN deliveries d ON d.id = j.delivery_id
         WHERE d.status IN ('scheduled', 'sending', 'paused') AND j.status IN ('queued', 'retrying', 'sending', 'unknown', 'held')
         GROUP BY j.delivery_id`,
      );
      // One snapshot: a message moving from queued to sent between two reads would count twice or not at all.
      const upcoming = toSend;
      const rows = db.transaction(() => [...sentSince.all(since.toISOString()), ...upcoming.all()])() as {
        deliveryId: string;
        at: string;
        ids: string;
      }[];
      for (const row of rows) {
        const entry = byDelivery.get(row.deliveryId) ?? { at: row.at, ids: [] };
        if (row.at < entry.at) entry.at = row.at;
        for (const id of row.ids.split(',')) entry.ids.push(Number(id));
        byDelivery.set(row.deliveryId, entry);
      }
      return [...byDelivery].map(([deliveryId, { at, ids }]) => ({ deliveryId, at, profileIds: ids }));
    },

    pageById: (afterId, limit) => (pageById.all(afterId, limit) as ProfileRow[]).map(toProfile),
    saveImport: (summary) => void saveImport.run(summary),
    importReport: (id) => importReport.get(id) as { fileName: string; report: string } | undefined,
  };
}
