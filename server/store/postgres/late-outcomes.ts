/** Late outcomes in PostgreSQL (see ../late-outcomes.ts). */

import type { LateKind } from '../../bounces/reports';
import {
  bounceRowsSql,
  foldBounces,
  foldDays,
  LIST_HEALTH_DAYS,
  LIST_HEALTH_TOTALS,
  type LateOutcome,
  type LateOutcomeStore,
  type SentRow,
} from '../late-outcomes';
import { numbered, type Pg } from './database';

const COLUMNS = `l.journal_id AS "journalId", l.delivery_id AS "deliveryId", l.email, l.kind, l.status, l.diagnostic,
  l.mailbox_full AS "mailboxFull", l.received_at AS "receivedAt"`;

export function postgresLateOutcomeStore(sql: Pg): LateOutcomeStore {
  return {
    async sentRow(id) {
      const [row] = await sql<SentRow[]>`SELECT id AS "journalId", delivery_id AS "deliveryId", email, profile_id AS "profileId"
        FROM journal WHERE id = ${id} AND status = 'sent'`;
      return row ? { ...row, journalId: Number(row.journalId), profileId: Number(row.profileId) } : undefined;
    },
    async latestSentTo(email) {
      const [row] = await sql<SentRow[]>`SELECT id AS "journalId", delivery_id AS "deliveryId", email, profile_id AS "profileId"
        FROM journal WHERE email = ${email.trim()} AND status = 'sent' ORDER BY updated_at DESC, id DESC LIMIT 1`;
      return row ? { ...row, journalId: Number(row.journalId), profileId: Number(row.profileId) } : undefined;
    },
    async listHealth(since) {
      const [[totals], days, bounces] = await Promise.all([
        sql.unsafe(LIST_HEALTH_TOTALS) as unknown as Promise<Record<string, string>[]>,
        sql.unsafe(numbered(LIST_HEALTH_DAYS), [since, since, since]) as unknown as Promise<{ day: string; what: string; n: string }[]>,
        sql.unsafe(numbered(bounceRowsSql('strpos')), [since, since, since]) as unknown as Promise<
          { day: string; domain: string; what: string; n: string }[]
        >,
      ]);
      return {
        totals: {
          profiles: Number(totals.profiles),
          unsubscribed: Number(totals.unsubscribed),
          denylisted: Number(totals.denylisted),
          quarantined: Number(totals.quarantined),
        },
        days: foldDays(days),
        ...foldBounces(bounces),
      };
    },
    async record(o) {
      // One outcome per row, kind and status, however many nodes receive the same report at once.
      const rows = await sql`INSERT INTO late_outcomes (journal_id, delivery_id, email, kind, status, diagnostic, mailbox_full, received_at)
        VALUES (${o.journalId}, ${o.deliveryId}, ${o.email}, ${o.kind}, ${o.status}, ${o.diagnostic}, ${o.mailboxFull ? 1 : 0}, ${o.receivedAt})
        ON CONFLICT (journal_id, kind, status) DO NOTHING RETURNING id`;
      return rows.length === 1;
    },
    async softBouncesSince(email, since) {
      const [row] = await sql<
        { n: string }[]
      >`SELECT COUNT(*) AS n FROM late_outcomes WHERE email = ${email} AND kind = 'soft-bounce' AND received_at >= ${since}`;
      return Number(row.n);
    },
    async byKindAndDomain(deliveryId) {
      const rows = await sql<{ kind: LateKind; domain: string; count: string }[]>`SELECT kind, lower(split_part(email, '@', 2)) AS domain,
        COUNT(*) AS count FROM late_outcomes WHERE delivery_id = ${deliveryId} GROUP BY kind, domain ORDER BY count DESC, kind, domain LIMIT 50`;
      return rows.map((r) => ({ ...r, count: Number(r.count) }));
    },
    async rates(deliveryId) {
      const [[sent], kinds] = await Promise.all([
        sql<{ n: string }[]>`SELECT COUNT(*) AS n FROM journal WHERE delivery_id = ${deliveryId} AND status = 'sent'`,
        sql<
          { kind: string; n: string }[]
        >`SELECT kind, COUNT(DISTINCT journal_id) AS n FROM late_outcomes WHERE delivery_id = ${deliveryId} GROUP BY kind`,
      ]);
      const counts = Object.fromEntries(kinds.map((r) => [r.kind, Number(r.n)]));
      return { sent: Number(sent.n), hardBounces: counts['hard-bounce'] ?? 0, complaints: counts.complaint ?? 0 };
    },
    async ofRecipients(deliveryId, seqs) {
      if (seqs.length === 0) return [];
      const rows = await sql<(Omit<LateOutcome, 'mailboxFull' | 'journalId'> & { seq: number; mailboxFull: number; journalId: string })[]>`
        SELECT j.seq, ${sql.unsafe(COLUMNS)} FROM late_outcomes l JOIN journal j ON j.id = l.journal_id
        WHERE l.delivery_id = ${deliveryId} AND j.delivery_id = l.delivery_id AND j.seq = ANY(${seqs as number[]}::int[]) ORDER BY l.id`;
      return rows.map((r) => ({ ...r, seq: Number(r.seq), journalId: Number(r.journalId), mailboxFull: Number(r.mailboxFull) === 1 }));
    },
  };
}
