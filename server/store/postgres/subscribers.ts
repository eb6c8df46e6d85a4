/** The subscriber's side in PostgreSQL (see ../subscribers.ts). */

import type { SignupForm } from '../../../shared/subscribers';
import { erasedAddressHash, SELECT_PROFILE, toProfile, type ProfileRow } from '../audience';
import { ERASURE, SUBSCRIBER_SQL as SQL, toConsent, type ConsentRow, type SubscriberStore } from '../subscribers';
import { CHANGE_LOG_LOCK, numbered, type Pg, type PgRunner } from './database';

export function postgresSubscriberStore(sql: Pg): SubscriberStore {
  const run = <T>(tx: PgRunner, text: string, params: unknown[]) =>
    tx.unsafe(numbered(text), params as never[], { prepare: true }) as unknown as Promise<T[]>;
  const consents = async (where: string, param: unknown) =>
    (await run<ConsentRow>(sql, `${SQL.consent} WHERE ${where} ORDER BY id DESC`, [param])).map(toConsent);

  return {
    async forms() {
      return (await run<{ definition: string }>(sql, SQL.forms, [])).map((r) => JSON.parse(r.definition) as SignupForm);
    },
    async form(id) {
      const [row] = await run<{ definition: string }>(sql, SQL.form, [id]);
      return row && (JSON.parse(row.definition) as SignupForm);
    },
    async saveForm(form, now) {
      await run(sql, SQL.saveForm, [form.id, JSON.stringify(form), now.toISOString(), now.toISOString()]);
    },
    async removeForm(id) {
      return (await run(sql, `${SQL.removeForm} RETURNING id`, [id])).length === 1;
    },
    async addConsent(c) {
      const [row] = await run<{ id: number }>(sql, SQL.addConsent, [
        c.profileId,
        c.email,
        c.formId,
        c.status,
        c.textShown,
        c.locale,
        c.ip,
        c.userAgent,
        c.submittedAt,
        JSON.stringify(c.payload),
      ]);
      return Number(row.id);
    },
    async consent(id) {
      return (await consents('id = ?', id))[0];
    },
    async confirmConsent(id, ip, now) {
      return (await run(sql, `${SQL.confirm} RETURNING id`, [now.toISOString(), ip, id])).length === 1;
    },
    consentsOf: (email) => consents('email = ?', email),
    async isErased(email) {
      return (await run(sql, SQL.erased, [erasedAddressHash(email)])).length > 0;
    },
    async unerase(email) {
      await run(sql, SQL.unerase, [erasedAddressHash(email)]);
    },
    erase(profileId, now) {
      return sql.begin(async (tx) => {
        const [row] = await run<{ email: string }>(tx, `${SQL.emailOf} FOR UPDATE`, [profileId]);
        if (!row) return undefined;
        const who = { profileId, email: row.email, hash: erasedAddressHash(row.email), at: now.toISOString() };
        for (const step of ERASURE) await run(tx, step.sql, step.params(who));
        // The replicas learn of it from the change log, as of any deletion.
        await tx`SELECT pg_advisory_xact_lock(${CHANGE_LOG_LOCK})`;
        await tx`INSERT INTO tombstones (profile_id, change_seq) VALUES (${profileId}, nextval('change_seq'))
          ON CONFLICT (profile_id) DO UPDATE SET change_seq = EXCLUDED.change_seq`;
        return row.email;
      }) as Promise<string | undefined>;
    },
    async dataOf(profileId) {
      const [row] = await run<ProfileRow>(sql, `${SELECT_PROFILE} WHERE p.id = ?`, [profileId]);
      if (!row) return undefined;
      const [consentList, messages, events] = await Promise.all([
        consents('email = ?', row.email),
        run(sql, SQL.messagesOf, [profileId]),
        run(sql, SQL.eventsOf, [profileId]),
      ]);
      return { profile: toProfile(row), consents: consentList, messages: messages as never, events: events as never };
    },
  };
}
