/**
 * The fields of a profile as filters and templates see them: the core fields every profile
 * has, and the custom attributes the audience schema declares.
 */

import type { AttributeDefinition, AttributeType, AttributeValue, Profile } from './types';

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

export interface FieldDefinition {
  name: string;
  label: string;
  type: AttributeType;
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
  const value = fieldValue(profile, field);
  if (value === null || value === undefined) return '';
  if (Array.isArray(value)) return value.join(', ');
  return String(value);
}
