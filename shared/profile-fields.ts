/**
 * The fields of a profile as filters and templates see them: the core fields every profile
 * has, and the custom attributes the audience schema declares.
 */

import { isValidEmail, mailboxKey, needsSmtputf8, normalizeEmail } from './email-address';
import type { AttributeDefinition, AttributeType, AttributeValue, Profile, TemplateValue } from './types';

/** Core fields, by the name templates use, with the profile property each reads. */
export const CORE_FIELDS = {
  email: 'email',
  first_name: 'firstName',
  last_name: 'lastName',
  locale: 'locale',
  time_zone: 'timeZone',
} as const satisfies Record<string, keyof Profile>;

export type CoreField = keyof typeof CORE_FIELDS;

export const CORE_LABELS: Record<CoreField, string> = {
  email: 'Email',
  first_name: 'First name',
  last_name: 'Last name',
  locale: 'Locale',
  time_zone: 'Time zone',
};

/** The type of a field a filter tests: an attribute's, or `delivery` (a profile's standing with a delivery sent, see engagement.ts). */
export type FieldType = AttributeType | 'delivery';

export interface FieldDefinition {
  name: string;
  label: string;
  type: FieldType;
  /** The values the field takes, when they are a known list (the deliveries a condition can name). */
  choices?: { value: string; label: string }[];
}

/** Returns every field a filter or template may use: the core fields, then the schema's attributes. */
export function audienceFields(schema: readonly AttributeDefinition[]): FieldDefinition[] {
  return [
    ...(Object.keys(CORE_FIELDS) as CoreField[]).map((name) => ({ name, label: CORE_LABELS[name], type: 'text' as const })),
    ...schema,
  ];
}

/** Returns the raw value of a field of the profile (undefined when the profile has none). */
export function fieldValue(profile: Profile, field: string): AttributeValue | undefined {
  const core = CORE_FIELDS[field as CoreField];
  return core ? profile[core] : profile.attributes[field];
}

/** Returns a field's value as text, as a template writes it: tags joined with ", ", missing as "". */
export function fieldText(profile: Profile, field: string): string {
  return valueText(fieldValue(profile, field));
}

/** Profiles laid out column by column (a block of the replica): a filter reads only the columns it tests. */
export interface ProfileColumns {
  readonly length: number;
  /** The values of a field (core or attribute), by position; null or undefined where a profile has none. */
  column(field: string): ArrayLike<AttributeValue | undefined>;
}

/** Facts about a profile as bit flags, as the replica stores them (worked out once, when a profile is written). */
export const UNSUBSCRIBED = 1;
export const DENYLISTED = 2;
export const QUARANTINED = 4;
/**
 * The address cannot be sent to through every relay (addressProblem of the normalized
 * address): it is not an address, or it needs SMTPUTF8 (SMTPUTF8_ONLY is then set too). A
 * preparation does not know the relay, so it treats both as invalid.
 */
export const INVALID_ADDRESS = 8;
/** mailboxKey(email) is not the email itself (a "+tag", a Gmail address, an international domain, or an address not normalized). */
export const MAILBOX_DIFFERS = 16;
/**
 * The address is valid but has non-ASCII characters before the @: only a relay that offers
 * SMTPUTF8 takes it. Set with INVALID_ADDRESS, so that a reader can say why, and so that
 * a preparation that learns the relay offers SMTPUTF8 can take it as valid.
 */
export const SMTPUTF8_ONLY = 32;

/** A block of profiles as a preparation reads it: columns, ids and suppression flags; whole profiles only on demand. */
export interface ProfileBlockView extends ProfileColumns {
  readonly ids: ArrayLike<number>;
  /** Per position: the bits of profileFlags. */
  flags(): ArrayLike<number>;
  profileAt(position: number): Profile;
}

/** Signed up through a double opt-in form, not confirmed yet. */
export const PENDING = 64;

/** Returns the flags of a profile: its suppression, and what preparation needs to know of its address. */
export function profileFlags(profile: Profile): number {
  const email = normalizeEmail(profile.email);
  const valid = isValidEmail(email);
  const smtputf8 = valid && needsSmtputf8(email);
  return (
    (profile.status === 'unsubscribed' ? UNSUBSCRIBED : 0) |
    (profile.denylisted ? DENYLISTED : 0) |
    (profile.quarantined ? QUARANTINED : 0) |
    (profile.pending ? PENDING : 0) |
    (valid && !smtputf8 ? 0 : INVALID_ADDRESS) |
    (smtputf8 ? SMTPUTF8_ONLY : 0) |
    (mailboxKey(profile.email) === profile.email ? 0 : MAILBOX_DIFFERS)
  );
}

/** Returns a block view over a list of profile objects. */
export function profilesView(profiles: readonly Profile[]): ProfileBlockView {
  return {
    length: profiles.length,
    ids: profiles.map((p) => p.id),
    column: (field) => profiles.map((p) => fieldValue(p, field)),
    flags: () => profiles.map(profileFlags),
    profileAt: (i) => profiles[i],
  };
}

/**
 * Returns the time of a date value (YYYY-MM-DD as UTC midnight, or an ISO date-time) in ms;
 * NaN when it is none. A number is a time already (engagement's columns hold epoch ms).
 */
export function timeOf(value: AttributeValue | undefined): number {
  if (typeof value === 'number') return value;
  return typeof value === 'string' && value ? Date.parse(value.length === 10 ? `${value}T00:00:00Z` : value) : NaN;
}

/** Returns a value of a column as a template writes it (as fieldText does for a profile). */
export function valueText(value: AttributeValue | undefined): string {
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}

/**
 * Returns a value as a template reads it, keeping its type (text, number, yes/no, tags);
 * undefined (nil) for no value, which includes empty text: an empty first name is no name,
 * so `{% if first_name %}` and `default` treat it as missing, as the audience filter does.
 */
export function templateValue(value: AttributeValue | undefined): TemplateValue | undefined {
  return value === '' || value === null ? undefined : value;
}
