/**
 * The labels of the fields Mailroom defines itself (the core fields of shared/profile-fields.ts,
 * the engagement fields of shared/engagement.ts) in the app's language, where a menu or a
 * completion shows them. shared/ keeps them in English for the server; an attribute's label is
 * the team's own and is shown as written.
 */

import { m } from '$lib/i18n.svelte';
import { DELIVERY_FIELD, engagementFields, LAST_CLICK, LAST_OPEN } from '$shared/engagement';
import { audienceFields, type FieldDefinition } from '$shared/profile-fields';

const TRANSLATED: Partial<Record<string, () => string>> = {
  email: () => m.editor_field_email(),
  first_name: () => m.editor_field_first_name(),
  last_name: () => m.editor_field_last_name(),
  locale: () => m.editor_field_locale(),
  time_zone: () => m.editor_field_time_zone(),
  [LAST_OPEN]: () => m.editor_field_last_open(),
  [LAST_CLICK]: () => m.editor_field_last_click(),
  [DELIVERY_FIELD]: () => m.editor_field_delivery(),
};

/** The English label shared/ gives each of those fields: an attribute of the same name keeps its own. */
const ENGLISH = new Map([...audienceFields([]), ...engagementFields([])].map((field) => [field.name, field.label]));

/** Returns the field's label in the app's language: a field of Mailroom's translated, an attribute's as the team wrote it. */
export function fieldLabel(field: Pick<FieldDefinition, 'name' | 'label'>): string {
  const translated = TRANSLATED[field.name];
  return translated && ENGLISH.get(field.name) === field.label ? translated() : field.label;
}
