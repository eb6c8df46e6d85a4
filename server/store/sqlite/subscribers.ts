/** The subscriber's side in SQLite (see ../subscribers.ts). */

import type { SignupForm } from '../../../shared/subscribers';
import { erasedAddressHash, SELECT_PROFILE, toProfile, type ProfileRow } from '../audience';
import { ERASURE, SUBSCRIBER_SQL as SQL, toConsent, type ConsentRow, type SubscriberStore } from '../subscribers';
import { asAsync, type Sync } from '../sync';
import { nextChangeSeq, type Db } from './database';

export function sqliteSubscriberStore(db: Db): SubscriberStore {
  return asAsync<SubscriberStore>(syncStore(db));
}

function syncStore(db: Db): Sync<SubscriberStore> {
  const forms = db.prepare(SQL.forms).pluck();
  const form = db.prepare(SQL.form).pluck();
  const saveForm = db.prepare(SQL.saveForm);
  const removeForm = db.prepare(SQL.removeForm);
  const addConsent = db.prepare(SQL.addConsent).pluck();
  const consentById = db.prepare(`${SQL.consent} WHERE id = ?`);
  const consentsOf = db.prepare(`${SQL.consent} WHERE email = ? ORDER BY id DESC`);
  const confirm = db.prepare(SQL.confirm);
  const erased = db.prepare(SQL.erased).pluck();
  const unerase = db.prepare(SQL.unerase);
  const emailOf = db.prepare(SQL.emailOf).pluck();
  const erase = ERASURE.map((step) => ({ statement: db.prepare(step.sql), params: step.params }));
  const tombstone = db.prepare('INSERT OR REPLACE INTO tombstones (profile_id, change_seq) VALUES (?, ?)');
  const profileById = db.prepare(`${SELECT_PROFILE} WHERE p.id = ?`);
  const messagesOf = db.prepare(SQL.messagesOf);
  const eventsOf = db.prepare(SQL.eventsOf);

  return {
    forms: () => (forms.all() as string[]).map((d) => JSON.parse(d) as SignupForm),
    form(id) {
      const definition = form.get(id) as string | undefined;
      return definition === undefined ? undefined : (JSON.parse(definition) as SignupForm);
    },
    saveForm(f, now) {
      saveForm.run(f.id, JSON.stringify(f), now.toISOString(), now.toISOString());
    },
    removeForm: (id) => removeForm.run(id).changes === 1,
    addConsent: (c) =>
      Number(
        addConsent.get(
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
        ),
      ),
    consent(id) {
      const row = consentById.get(id) as ConsentRow | undefined;
      return row && toConsent(row);
    },
    confirmConsent: (id, ip, now) => confirm.run(now.toISOString(), ip, id).changes === 1,
    consentsOf: (email) => (consentsOf.all(email) as ConsentRow[]).map(toConsent),
    isErased: (email) => erased.get(erasedAddressHash(email)) !== undefined,
    unerase: (email) => void unerase.run(erasedAddressHash(email)),
    erase: db.transaction((profileId: number, now: Date) => {
      const email = emailOf.get(profileId) as string | undefined;
      if (email === undefined) return undefined;
      const who = { profileId, email, hash: erasedAddressHash(email), at: now.toISOString() };
      for (const { statement, params } of erase) statement.run(...params(who));
      tombstone.run(profileId, nextChangeSeq(db));
      return email;
    }),
    dataOf(profileId) {
      const row = profileById.get(profileId) as ProfileRow | undefined;
      if (!row) return undefined;
      return {
        profile: toProfile(row),
        consents: (consentsOf.all(row.email) as ConsentRow[]).map(toConsent),
        messages: messagesOf.all(profileId) as never,
        events: eventsOf.all(profileId) as never,
      };
    },
  };
}
