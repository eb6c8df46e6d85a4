/**
 * The audience of record in PostgreSQL (see ../audience.ts for what it holds and promises).
 *
 * The change log's order: a replica pulls "changes after N", so a change number must never
 * become visible after a higher one. With several nodes writing at once, every transaction
 * that takes change numbers first takes CHANGE_LOG_LOCK (an advisory lock held to its
 * commit): writers of the log follow one another, and numbers commit in their order.
 * Profile ids come from a sequence that never gives back a number (a deleted profile's id
 * is never a new profile's: see the SQLite store for why).
 */

import { normalizeEmail } from '../../../shared/email-address';
import type { AttributeDefinition, ContactHistoryEntry, ProfileInput, SubscriptionStatus } from '../../../shared/types';
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
  type RecentSend,
  type Suppression,
  type UpsertCounts,
} from '../audience';
import { CHANGE_LOG_LOCK, numbered, type Pg, type PgRunner } from './database';

/** A profile as an upsert reads and writes it. */
interface Existing {
  id: number;
  email: string;
  first_name: string;
  last_name: string;
  locale: string;
  time_zone: string;
  status: SubscriptionStatus;
  status_changed_at: string | null;
  pending_since: string | null;
  status_source: string | null;
  attributes: string;
  imported_by: string | null;
}

/** Takes the change log's lock (to the commit) and `count` change numbers; resolves them in order. */
async function changeNumbers(tx: PgRunner, count: number): Promise<number[]> {
  await tx`SELECT pg_advisory_xact_lock(${CHANGE_LOG_LOCK})`;
  if (count === 0) return [];
  const rows = await tx<{ n: number }[]>`SELECT nextval('change_seq') AS n FROM generate_series(1, ${count})`;
  return rows.map((r) => r.n).sort((a, b) => a - b);
}

export function postgresAudienceStore(sql: Pg): AudienceStore {
  const one = async (condition: string, param: unknown) => {
    const [row] = (await sql.unsafe(`${SELECT_PROFILE} WHERE ${condition}`, [param] as never[], {
      prepare: true,
    })) as unknown as ProfileRow[];
    return row && toProfile(row);
  };
  /** The ids of the profiles matching every word of the query, in id order. */
  const matchingIds = async (runner: PgRunner, query: string): Promise<number[]> => {
    const words = searchWords(query);
    if (words.length === 0) return [];
    // search_text holds the address and the folded names (profileSearchText): every word must be in it.
    const text = numbered(`SELECT id FROM profiles WHERE ${words.map(() => 'strpos(search_text, ?) > 0').join(' AND ')} ORDER BY id`);
    return ((await runner.unsafe(text, words as never[], { prepare: true })) as unknown as { id: number }[]).map((r) => r.id);
  };
  /** Deletes the profiles with these ids (inside the caller's transaction, which holds the log's lock), leaving tombstones. */
  const deleteIds = async (tx: PgRunner, ids: readonly number[], seqs: readonly number[]): Promise<number> => {
    if (ids.length === 0) return 0;
    const deleted = await tx<{ id: number }[]>`DELETE FROM profiles WHERE id = ANY(${ids as number[]}::bigint[]) RETURNING id`;
    const gone = new Set(deleted.map((r) => r.id));
    const kept = ids.filter((id) => gone.has(id));
    await tx`INSERT INTO tombstones (profile_id, change_seq)
      SELECT * FROM unnest(${kept}::bigint[], ${seqs.slice(0, kept.length) as number[]}::bigint[])
      ON CONFLICT (profile_id) DO UPDATE SET change_seq = EXCLUDED.change_seq`;
    return kept.length;
  };
  /** Stamps the profile at this address (if any) with a new change number, so replicas pull its new suppression state. */
  const touch = async (tx: PgRunner, email: string, now: Date) => {
    const [seq] = await changeNumbers(tx, 1);
    await tx`UPDATE profiles SET change_seq = ${seq}, updated_at = ${now.toISOString()} WHERE email = ${email}`;
  };

  return {
    async count() {
      const [row] = await sql<{ n: number }[]>`SELECT COUNT(*) AS n FROM profiles`;
      return row.n;
    },
    schema: () => sql<AttributeDefinition[]>`SELECT name, label, type FROM attribute_schema ORDER BY position, name`,
    async declareAttribute(d) {
      await sql`INSERT INTO attribute_schema (name, label, type, position)
        VALUES (${d.name}, ${d.label}, ${d.type}, (SELECT COALESCE(MAX(position), 0) + 1 FROM attribute_schema))
        ON CONFLICT (name) DO UPDATE SET label = EXCLUDED.label`;
    },

    async changesSince(cursor, limit) {
      const [changed, gone, [{ n }]] = await Promise.all([
        sql.unsafe(`${SELECT_PROFILE} WHERE p.change_seq > $1 ORDER BY p.change_seq LIMIT $2`, [cursor, limit + 1] as never[], {
          prepare: true,
        }) as unknown as Promise<ProfileRow[]>,
        sql<{ id: number; seq: number }[]>`SELECT profile_id AS id, change_seq AS seq FROM tombstones
          WHERE change_seq > ${cursor} ORDER BY change_seq LIMIT ${limit + 1}`,
        sql<{ n: number }[]>`SELECT COUNT(*) AS n FROM profiles`,
      ]);
      return changePage(changed, gone, cursor, limit, n);
    },

    upsertMany(profiles, source, now, importId) {
      return sql.begin(async (tx) => {
        const at = now.toISOString();
        const counts: UpsertCounts = { inserted: 0, updated: 0, repeated: 0, keptUnsubscribed: 0, erased: 0 };
        const seqs = await changeNumbers(tx, profiles.length);
        const emails = [...new Set(profiles.map((p) => normalizeEmail(p.email)))];
        const found = await tx<Existing[]>`SELECT id, email, first_name, last_name, locale, time_zone, status, status_changed_at,
            status_source, attributes, imported_by, pending_since FROM profiles WHERE email = ANY(${emails}::text[]) FOR UPDATE`;
        const erased = new Set(
          (await tx<{ hash: string }[]>`SELECT hash FROM erased_addresses WHERE hash = ANY(${emails.map(erasedAddressHash)}::text[])`).map(
            (r) => r.hash,
          ),
        );
        // Each row applies over the state the rows before it left, as one by one (a file naming an address twice: the later wins).
        const state = new Map<string, Existing & { seq: number; isNew: boolean }>(
          found.map((e) => [e.email, { ...e, seq: 0, isNew: false }]),
        );
        profiles.forEach((input: ProfileInput, i) => {
          const email = normalizeEmail(input.email);
          const seq = seqs[i];
          // An erased profile's address comes back only as its owner's own sign-up, pending their confirmation.
          if (!input.pending && erased.has(erasedAddressHash(email))) {
            counts.erased++;
            return;
          }
          const existing = state.get(email);
          if (!existing) {
            state.set(email, {
              id: 0,
              email,
              first_name: input.firstName ?? '',
              last_name: input.lastName ?? '',
              locale: input.locale ?? '',
              time_zone: input.timeZone ?? '',
              status: input.status ?? 'subscribed',
              status_changed_at: at,
              status_source: source,
              attributes: JSON.stringify(input.attributes ?? {}),
              imported_by: importId ?? null,
              pending_since: input.pending ? at : null,
              seq,
              isNew: true,
            });
            counts.inserted++;
            return;
          }
          // Someone who unsubscribed through a message's link stays unsubscribed: only they can opt in again.
          const overridesOwnChoice =
            input.status === 'subscribed' && existing.status === 'unsubscribed' && isRecipientsOwnChoice(existing.status_source);
          if (overridesOwnChoice) counts.keptUnsubscribed++;
          const status = overridesOwnChoice ? undefined : input.status;
          if (status !== undefined && status !== existing.status) {
            existing.status_changed_at = at;
            existing.status_source = source;
            existing.status = status;
          }
          existing.first_name = input.firstName ?? existing.first_name;
          existing.last_name = input.lastName ?? existing.last_name;
          existing.locale = input.locale ?? existing.locale;
          existing.time_zone = input.timeZone ?? existing.time_zone;
          if (input.attributes && Object.keys(input.attributes).length) {
            existing.attributes = JSON.stringify({ ...JSON.parse(existing.attributes), ...input.attributes });
          }
          counts.updated++;
          if (importId && existing.imported_by === importId) counts.repeated++;
          existing.imported_by = importId ?? existing.imported_by;
          if (input.pending === false) existing.pending_since = null;
          existing.seq = seq;
        });
        const rows = [...state.values()];
        const inserts = rows.filter((r) => r.isNew);
        const updates = rows.filter((r) => !r.isNew && r.seq > 0);
        if (inserts.length) {
          const ids = await tx<{ id: number }[]>`SELECT nextval('profile_ids') AS id FROM generate_series(1, ${inserts.length})`;
          inserts.forEach((r, i) => (r.id = ids[i].id));
          const col = <K extends keyof (typeof inserts)[number]>(key: K) => inserts.map((r) => r[key]) as never;
          await tx`INSERT INTO profiles (id, email, first_name, last_name, locale, time_zone, status, status_changed_at, status_source,
              attributes, created_at, updated_at, change_seq, imported_by, search_text, pending_since)
            SELECT id, email, first_name, last_name, locale, time_zone, status, changed, source, attributes, ${at}, ${at}, seq, imported, search,
              pending
            FROM unnest(${col('id')}::bigint[], ${col('email')}::text[], ${col('first_name')}::text[], ${col('last_name')}::text[],
              ${col('locale')}::text[], ${col('time_zone')}::text[], ${col('status')}::text[], ${col('status_changed_at')}::text[],
              ${col('status_source')}::text[], ${col('attributes')}::text[], ${col('seq')}::bigint[], ${col('imported_by')}::text[],
              ${inserts.map((r) => profileSearchText(r.email, r.first_name, r.last_name))}::text[], ${col('pending_since')}::text[])
              AS n(id, email, first_name, last_name, locale, time_zone, status, changed, source, attributes, seq, imported, search, pending)`;
        }
        if (updates.length) {
          const col = <K extends keyof (typeof updates)[number]>(key: K) => updates.map((r) => r[key]) as never;
          await tx`UPDATE profiles p SET first_name = u.first_name, last_name = u.last_name, locale = u.locale, time_zone = u.time_zone,
              status = u.status, status_changed_at = u.changed, status_source = u.source, attributes = u.attributes, updated_at = ${at},
              change_seq = u.seq, imported_by = u.imported, search_text = u.search, pending_since = u.pending
            FROM unnest(${col('id')}::bigint[], ${col('first_name')}::text[], ${col('last_name')}::text[], ${col('locale')}::text[],
              ${col('time_zone')}::text[], ${col('status')}::text[], ${col('status_changed_at')}::text[], ${col('status_source')}::text[],
              ${col('attributes')}::text[], ${col('seq')}::bigint[], ${col('imported_by')}::text[],
              ${updates.map((r) => profileSearchText(r.email, r.first_name, r.last_name))}::text[], ${col('pending_since')}::text[])
              AS u(id, first_name, last_name, locale, time_zone, status, changed, source, attributes, seq, imported, search, pending)
            WHERE p.id = u.id`;
        }
        return counts;
      }) as Promise<UpsertCounts>;
    },

    get: (profileId) => one('p.id = $1', profileId),
    findByEmail: (email) => one('p.email = $1', normalizeEmail(email)),

    delete(profileId) {
      return sql.begin(async (tx) => (await deleteIds(tx, [profileId], await changeNumbers(tx, 1))) === 1) as Promise<boolean>;
    },

    optIn(profileId, source, now) {
      return sql.begin(async (tx) => {
        const [seq] = await changeNumbers(tx, 1);
        const at = now.toISOString();
        const changed = await tx`UPDATE profiles SET status = 'subscribed', status_changed_at = ${at}, status_source = ${source},
            updated_at = ${at}, change_seq = ${seq}, pending_since = NULL
          WHERE id = ${profileId} AND status = 'unsubscribed' RETURNING id`;
        return changed.length === 1;
      }) as Promise<boolean>;
    },

    async search(query, limit) {
      const ids = await matchingIds(sql, query);
      const shown = ids.slice(0, limit);
      const rows = shown.length
        ? ((await sql.unsafe(`${SELECT_PROFILE} WHERE p.id = ANY($1::bigint[]) ORDER BY p.id`, [
            shown,
          ] as never[])) as unknown as ProfileRow[])
        : [];
      return { total: ids.length, profiles: rows.map(toProfile) };
    },

    deleteMatching(query, expected) {
      return sql.begin(async (tx) => {
        const ids = await matchingIds(tx, query);
        if (ids.length !== expected || ids.length === 0) return { ok: false as const, matching: ids.length };
        return { ok: true as const, deleted: await deleteIds(tx, ids, await changeNumbers(tx, ids.length)) };
      }) as Promise<{ ok: true; deleted: number } | { ok: false; matching: number }>;
    },

    async countSeeded(emails, marks) {
      const [row] = await sql<{ n: number }[]>`SELECT COUNT(*) AS n FROM profiles WHERE email = ANY(${emails as string[]}::text[])
        AND (imported_by IS NULL OR imported_by = ${marks.marker})`;
      return row.n;
    },

    removeSeeded(emails, marks, attributes) {
      return sql.begin(async (tx) => {
        const list = emails as string[];
        const ids = (
          await tx<{ id: number }[]>`SELECT id FROM profiles WHERE email = ANY(${list}::text[])
            AND (imported_by IS NULL OR imported_by = ${marks.marker}) ORDER BY id`
        ).map((r) => r.id);
        const deleted = await deleteIds(tx, ids, await changeNumbers(tx, ids.length));
        const [{ n: kept }] = await tx<{ n: number }[]>`SELECT COUNT(*) AS n FROM profiles WHERE email = ANY(${list}::text[])
          AND imported_by IS NOT NULL AND imported_by <> ${marks.marker}`;
        await tx`DELETE FROM denylist WHERE added_by = ${marks.denylistedBy} AND email = ANY(${list}::text[])
          AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.email = denylist.email)`;
        await tx`DELETE FROM quarantine WHERE smtp_reply = ${marks.quarantineReply} AND delivery_id IS NULL AND email = ANY(${list}::text[])
          AND NOT EXISTS (SELECT 1 FROM profiles p WHERE p.email = quarantine.email)`;
        const removedAttributes: string[] = [];
        const keptAttributes: string[] = [];
        const declared = new Set((await tx<{ name: string }[]>`SELECT name FROM attribute_schema`).map((r) => r.name));
        for (const name of attributes) {
          if (!declared.has(name)) continue;
          const [used] =
            await tx`SELECT 1 FROM profiles WHERE (attributes::jsonb) ? ${name} AND (attributes::jsonb) -> ${name} <> 'null'::jsonb LIMIT 1`;
          if (used) keptAttributes.push(name);
          else {
            await tx`DELETE FROM attribute_schema WHERE name = ${name}`;
            removedAttributes.push(name);
          }
        }
        return { deleted, kept, removedAttributes, keptAttributes };
      }) as ReturnType<AudienceStore['removeSeeded']>;
    },

    unsubscribe(profileId, source, now) {
      return sql.begin(async (tx) => {
        // Take a change number only when something changes, so replicas see no empty change.
        const [row] = await tx<{ status: string }[]>`SELECT status FROM profiles WHERE id = ${profileId} FOR UPDATE`;
        if (row?.status !== 'subscribed') return false;
        const [seq] = await changeNumbers(tx, 1);
        const at = now.toISOString();
        await tx`UPDATE profiles SET status = 'unsubscribed', status_changed_at = ${at}, status_source = ${source}, updated_at = ${at},
          change_seq = ${seq} WHERE id = ${profileId}`;
        return true;
      }) as Promise<boolean>;
    },

    async denylist(email, reason, by, now) {
      const address = normalizeEmail(email);
      await sql.begin(async (tx) => {
        await tx`INSERT INTO denylist (email, reason, added_at, added_by) VALUES (${address}, ${reason}, ${now.toISOString()}, ${by})
          ON CONFLICT (email) DO UPDATE SET reason = EXCLUDED.reason, added_at = EXCLUDED.added_at, added_by = EXCLUDED.added_by`;
        await touch(tx, address, now);
      });
    },

    undeny(email) {
      const address = normalizeEmail(email);
      return sql.begin(async (tx) => {
        const removed = await tx`DELETE FROM denylist WHERE email = ${address} RETURNING email`;
        if (removed.length === 0) return false;
        await touch(tx, address, new Date());
        return true;
      }) as Promise<boolean>;
    },

    async quarantine(email, reason, smtpReply, deliveryId, now, liftAt = null) {
      const address = normalizeEmail(email);
      await sql.begin(async (tx) => {
        await tx`INSERT INTO quarantine (email, reason, smtp_reply, delivery_id, at, lift_at)
          VALUES (${address}, ${reason}, ${smtpReply}, ${deliveryId}, ${now.toISOString()}, ${liftAt?.toISOString() ?? null})
          ON CONFLICT (email) DO UPDATE SET reason = EXCLUDED.reason, smtp_reply = EXCLUDED.smtp_reply,
            delivery_id = EXCLUDED.delivery_id, at = EXCLUDED.at, lift_at = EXCLUDED.lift_at
          WHERE quarantine.lift_at IS NOT NULL OR EXCLUDED.lift_at IS NULL`;
        await touch(tx, address, now);
      });
    },

    async liftQuarantines(now) {
      return (await sql.begin(async (tx) => {
        const due = await tx<
          { email: string }[]
        >`DELETE FROM quarantine WHERE lift_at IS NOT NULL AND lift_at <= ${now.toISOString()} RETURNING email`;
        for (const { email } of due) await touch(tx, email, now);
        return due.length;
      })) as number;
    },

    async suppression(email) {
      const address = normalizeEmail(email);
      const [[deny], [quarantine]] = await Promise.all([
        sql<
          NonNullable<Suppression['denylist']>[]
        >`SELECT reason, added_at AS "addedAt", added_by AS "addedBy" FROM denylist WHERE email = ${address}`,
        sql<NonNullable<Suppression['quarantine']>[]>`SELECT reason, smtp_reply AS "smtpReply", delivery_id AS "deliveryId", at
          FROM quarantine WHERE email = ${address}`,
      ]);
      return { denylist: deny ?? null, quarantine: quarantine ?? null };
    },

    recentSends: (profileId, limit) =>
      sql<RecentSend[]>`SELECT s.delivery_id AS "deliveryId", d.name AS "deliveryName", s.at FROM sends s
        LEFT JOIN deliveries d ON d.id = s.delivery_id WHERE s.profile_id = ${profileId} ORDER BY s.at DESC LIMIT ${limit}`,

    contactHistory(since) {
      // One snapshot (REPEATABLE READ): a message moving from queued to sent between two reads would count twice or not at all.
      return sql.begin('isolation level repeatable read', async (tx) => {
        const rows = [
          ...(await tx<{ deliveryId: string; at: string; ids: number[] }[]>`SELECT delivery_id AS "deliveryId", MIN(at) AS at,
              array_agg(profile_id) AS ids FROM sends WHERE at >= ${since.toISOString()} GROUP BY delivery_id`),
          ...(await tx<{ deliveryId: string; at: string; ids: number[] }[]>`SELECT j.delivery_id AS "deliveryId",
              MIN(COALESCE(d.scheduled_at, d.started_at, d.updated_at)) AS at, array_agg(j.profile_id) AS ids
            FROM journal j JOIN deliveries d ON d.id = j.delivery_id
            WHERE d.status IN ('scheduled', 'sending', 'paused') AND j.status IN ('queued', 'retrying', 'sending', 'unknown', 'held')
            GROUP BY j.delivery_id`),
        ];
        const byDelivery = new Map<string, { at: string; ids: number[] }>();
        for (const row of rows) {
          const entry = byDelivery.get(row.deliveryId) ?? { at: row.at, ids: [] };
          if (row.at < entry.at) entry.at = row.at;
          for (const id of row.ids) entry.ids.push(Number(id));
          byDelivery.set(row.deliveryId, entry);
        }
        return [...byDelivery].map(([deliveryId, { at, ids }]): ContactHistoryEntry => ({ deliveryId, at, profileIds: ids }));
      }) as Promise<ContactHistoryEntry[]>;
    },

    async pageById(afterId, limit) {
      const rows = (await sql.unsafe(`${SELECT_PROFILE} WHERE p.id > $1 ORDER BY p.id LIMIT $2`, [afterId, limit] as never[], {
        prepare: true,
      })) as unknown as ProfileRow[];
      return rows.map(toProfile);
    },
    async saveImport(s) {
      await sql`INSERT INTO imports (id, file_name, started_at, finished_at, status, rows, inserted, updated, rejected, report)
        VALUES (${s.id}, ${s.fileName}, ${s.startedAt}, ${s.finishedAt}, 'done', ${s.rows}, ${s.inserted}, ${s.updated}, ${s.rejected}, ${s.report})`;
    },
    async importReport(id) {
      const [row] = await sql<{ fileName: string; report: string }[]>`SELECT file_name AS "fileName", report FROM imports WHERE id = ${id}`;
      return row;
    },
  };
}
