/** Late outcomes in SQLite (see ../late-outcomes.ts). */

import type { LateKind } from '../../bounces/reports';
import {
  bounceRowsSql,
  foldBounces,
  foldDays,
  LIST_HEALTH_DAYS,
  LIST_HEALTH_TOTALS,
  type LateOutcome,
  type LateOutcomeStore,
  type ListHealth,
  type SentRow,
} from '../late-outcomes';
import { asAsync, type Sync } from '../sync';
import type { Db } from './database';

const COLUMNS = `l.journal_id AS journalId, l.delivery_id AS deliveryId, l.email, l.kind, l.status, l.diagnostic,
  l.mailbox_full AS mailboxFull, l.received_at AS receivedAt`;

export function sqliteLateOutcomeStore(db: Db): LateOutcomeStore {
  return asAsync<LateOutcomeStore>(syncStore(db));
}

function syncStore(db: Db): Sync<LateOutcomeStore> {
  const sentRow = db.prepare(
    `SELECT id AS journalId, delivery_id AS deliveryId, email, profile_id AS profileId FROM journal WHERE id = ? AND status = 'sent'`,
  );
  const latest = db.prepare(
    `SELECT id AS journalId, delivery_id AS deliveryId, email, profile_id AS profileId FROM journal
     WHERE email = ? AND status = 'sent' ORDER BY updated_at DESC, id DESC LIMIT 1`,
  );
  const totals = db.prepare(LIST_HEALTH_TOTALS);
  const healthDays = db.prepare(LIST_HEALTH_DAYS);
  const bounceRows = db.prepare(bounceRowsSql('instr'));
  const insert = db.prepare(
    `INSERT INTO late_outcomes (journal_id, delivery_id, email, kind, status, diagnostic, mailbox_full, received_at)
     VALUES (@journalId, @deliveryId, @email, @kind, @status, @diagnostic, @mailboxFull, @receivedAt)
     ON CONFLICT (journal_id, kind, status) DO NOTHING`,
  );
  const soft = db.prepare(`SELECT COUNT(*) FROM late_outcomes WHERE email = ? AND kind = 'soft-bounce' AND received_at >= ?`).pluck();
  const sent = db.prepare(`SELECT COUNT(*) FROM journal WHERE delivery_id = ? AND status = 'sent'`).pluck();
  const byDomain = db.prepare(
    `SELECT kind, lower(substr(email, instr(email, '@') + 1)) AS domain, COUNT(*) AS count FROM late_outcomes
     WHERE delivery_id = ? GROUP BY kind, domain ORDER BY count DESC, kind, domain LIMIT 50`,
  );
  const kinds = db.prepare(`SELECT kind, COUNT(DISTINCT journal_id) AS n FROM late_outcomes WHERE delivery_id = ? GROUP BY kind`);
  const record = (o: LateOutcome) => insert.run({ ...o, mailboxFull: o.mailboxFull ? 1 : 0 }).changes === 1;
  const ofRecipients = db.prepare(
    `SELECT j.seq, ${COLUMNS} FROM late_outcomes l JOIN journal j ON j.id = l.journal_id
     WHERE l.delivery_id = ? AND j.delivery_id = l.delivery_id AND j.seq IN (SELECT value FROM json_each(?)) ORDER BY l.id`,
  );
  return {
    sentRow: (id) => sentRow.get(id) as SentRow | undefined,
    latestSentTo: (email) => latest.get(email.trim()) as SentRow | undefined,
    record,
    listHealth: (since) => ({
      totals: totals.get() as ListHealth['totals'],
      days: foldDays(healthDays.all(since, since, since) as { day: string; what: string; n: number }[]),
      ...foldBounces(bounceRows.all(since, since, since) as { day: string; domain: string; what: string; n: number }[]),
    }),
    softBouncesSince: (email, since) => soft.get(email, since) as number,
    byKindAndDomain: (deliveryId) => byDomain.all(deliveryId) as { kind: LateKind; domain: string; count: number }[],
    rates(deliveryId) {
      const counts = Object.fromEntries((kinds.all(deliveryId) as { kind: string; n: number }[]).map((r) => [r.kind, r.n]));
      return { sent: sent.get(deliveryId) as number, hardBounces: counts['hard-bounce'] ?? 0, complaints: counts.complaint ?? 0 };
    },
    ofRecipients(deliveryId, seqs) {
      if (seqs.length === 0) return [];
      const rows = ofRecipients.all(deliveryId, JSON.stringify(seqs)) as (Omit<LateOutcome, 'mailboxFull'> & {
        seq: number;
        mailboxFull: number;
      })[];
      return rows.map((r) => ({ ...r, mailboxFull: r.mailboxFull === 1 }));
    },
  };
}
