/**
 * The subscriber's side of record: sign-up forms, the consents they collected (pending until
 * confirmed, each with the time, the address it came from, the form and the text shown), and
 * erasure: a profile erased at its owner's request leaves nothing personal behind but a hash
 * of its address, so that no import brings it back by mistake (audience.ts, erasedAddressHash).
 */

import type { SignupForm, Submission } from '../../shared/subscribers';
import type { Profile } from '../../shared/types';

export interface ConsentRecord {
  id: number;
  /** Null while a double opt-in for an address with no profile waits (never: a pending profile is made at once). */
  profileId: number | null;
  email: string;
  formId: string;
  status: 'pending' | 'confirmed';
  /** The consent text shown, word for word. */
  textShown: string;
  locale: string;
  ip: string | null;
  userAgent: string | null;
  submittedAt: string;
  confirmedAt: string | null;
  confirmIp: string | null;
  /** What the person submitted: applied to their profile when they confirm (double opt-in) or at once. */
  payload: Submission;
}

/** All that is kept about a person, for their access request. */
export interface ProfileData {
  profile: Profile;
  consents: ConsentRecord[];
  /** Each message of a delivery they were in: sent, excluded (and why) or still to go. */
  messages: { deliveryId: string; deliveryName: string | null; status: string; subject: string; updatedAt: string }[];
  /** Opens, clicks and unsubscribes recorded for them, with the link's URL for a click. */
  events: { deliveryId: string; kind: string; at: string; url: string | null }[];
}

export interface SubscriberStore {
  forms(): Promise<SignupForm[]>;
  form(id: string): Promise<SignupForm | undefined>;
  saveForm(form: SignupForm, now: Date): Promise<void>;
  removeForm(id: string): Promise<boolean>;
  /** Keeps a consent as given; returns its id. */
  addConsent(consent: Omit<ConsentRecord, 'id' | 'confirmedAt' | 'confirmIp'>): Promise<number>;
  consent(id: number): Promise<ConsentRecord | undefined>;
  /** Marks a pending consent confirmed, once: false when it was not pending (confirmed before, or erased). */
  confirmConsent(id: number, ip: string | null, now: Date): Promise<boolean>;
  /** The consents given at an address, newest first. */
  consentsOf(email: string): Promise<ConsentRecord[]>;
  isErased(email: string): Promise<boolean>;
  /** Forgets an erased address's hash: its owner signed up again and confirmed. */
  unerase(email: string): Promise<void>;
  /**
   * Erases a profile in one transaction: the profile (a tombstone tells every replica), its
   * consents, sends, suppression entries and reported outcomes; its journal rows keep their
   * place in the figures with no address, subject or values; its tracking events keep their
   * kind and time without address or user agent. Keeps the address's hash. Returns the
   * address erased, or undefined when there was no such profile.
   */
  erase(profileId: number, now: Date): Promise<string | undefined>;
  /** Everything kept about a profile, or undefined when there is none. */
  dataOf(profileId: number): Promise<ProfileData | undefined>;
}

/** The subscriber store's SQL, both engines (`?` placeholders). */
export const SUBSCRIBER_SQL = {
  forms: 'SELECT definition FROM signup_forms ORDER BY created_at, id',
  form: 'SELECT definition FROM signup_forms WHERE id = ?',
  /** Takes the id, the definition and the time twice. */
  saveForm: `INSERT INTO signup_forms (id, definition, created_at, updated_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET definition = excluded.definition, updated_at = excluded.updated_at`,
  removeForm: 'DELETE FROM signup_forms WHERE id = ?',
  addConsent: `INSERT INTO consents (profile_id, email, form_id, status, text_shown, locale, ip, user_agent, submitted_at, payload)
    VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id`,
  consent: `SELECT id, profile_id AS "profileId", email, form_id AS "formId", status, text_shown AS "textShown", locale, ip,
    user_agent AS "userAgent", submitted_at AS "submittedAt", confirmed_at AS "confirmedAt", confirm_ip AS "confirmIp", payload
    FROM consents`,
  /** Takes the time, the address and the id. */
  confirm: "UPDATE consents SET status = 'confirmed', confirmed_at = ?, confirm_ip = ? WHERE id = ? AND status = 'pending'",
  erased: 'SELECT 1 AS yes FROM erased_addresses WHERE hash = ?',
  unerase: 'DELETE FROM erased_addresses WHERE hash = ?',
  emailOf: 'SELECT email FROM profiles WHERE id = ?',
  /** The erasure, in order; each takes what its comment says. */
  messagesOf: `SELECT j.delivery_id AS "deliveryId", d.name AS "deliveryName", j.status, j.subject, j.updated_at AS "updatedAt"
    FROM journal j LEFT JOIN deliveries d ON d.id = j.delivery_id WHERE j.profile_id = ? ORDER BY j.updated_at`,
  eventsOf: `SELECT t.delivery_id AS "deliveryId", t.kind, t.at, l.url FROM tracking_events t
    LEFT JOIN links l ON l.id = t.link_id
    WHERE t.journal_id IN (SELECT id FROM journal WHERE profile_id = ?) ORDER BY t.at`,
};

/** Whom an erasure is of, for its statements' parameters. */
interface Erased {
  profileId: number;
  email: string;
  hash: string;
  at: string;
}

/** The erasure, in order (both engines, `?` placeholders): each statement with the parameters it takes. */
export const ERASURE: { sql: string; params: (who: Erased) => unknown[] }[] = [
  { sql: 'INSERT INTO erased_addresses (hash, at) VALUES (?, ?) ON CONFLICT (hash) DO NOTHING', params: (w) => [w.hash, w.at] },
  ...[
    'UPDATE tracking_events SET ip = NULL, user_agent = NULL WHERE journal_id IN (SELECT id FROM journal WHERE profile_id = ?)',
    "UPDATE journal SET email = '', subject = '', vals = '{}', smtp_reply = NULL WHERE profile_id = ?",
    'DELETE FROM sends WHERE profile_id = ?',
    "UPDATE exclusions SET email = '' WHERE profile_id = ?",
  ].map((sql) => ({ sql, params: (w: Erased) => [w.profileId] })),
  // A webhook's body names the address (JSON): it is blanked, the event kept.
  {
    sql: `UPDATE webhook_deliveries SET payload = replace(payload, ?, '"email":""') WHERE payload LIKE ? ESCAPE '\\'`,
    params: (w) => payloadParams(w.email),
  },
  ...[
    'DELETE FROM consents WHERE email = ?',
    'DELETE FROM denylist WHERE email = ?',
    'DELETE FROM quarantine WHERE email = ?',
    "UPDATE late_outcomes SET email = '', diagnostic = '' WHERE email = ?",
  ].map((sql) => ({ sql, params: (w: Erased) => [w.email] })),
  { sql: 'DELETE FROM profiles WHERE id = ?', params: (w) => [w.profileId] },
];

/** The parameters of the webhook statement: the address as its bodies spell it, and a LIKE pattern finding it. */
function payloadParams(email: string): [string, string] {
  const needle = `"email":${JSON.stringify(email)}`;
  return [needle, `%${needle.replace(/[\\%_]/g, (c) => `\\${c}`)}%`];
}

export type ConsentRow = Omit<ConsentRecord, 'payload'> & { payload: string };

export const toConsent = (row: ConsentRow): ConsentRecord => ({
  ...row,
  id: Number(row.id),
  profileId: row.profileId === null ? null : Number(row.profileId),
  payload: JSON.parse(row.payload) as Submission,
});
