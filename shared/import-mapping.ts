/**
 * Importing a CSV file into the audience: recognizing its header (separator, columns), the
 * mapping of columns to profile fields, and turning one row into a profile or a reason to
 * reject it. Pure: the server streams the file through it, the app uses it to propose a
 * mapping before the upload.
 */

import { isValidEmail, normalizeEmail } from './email-address';
import { CORE_FIELDS } from './profile-fields';
import type { AttributeDefinition, AttributeType, AttributeValue, ProfileInput, SubscriptionStatus } from './types';

/** Where a column goes: a core field, `status`, an attribute of the schema, a new attribute, or nowhere. */
export type ColumnTarget =
  | { kind: 'field'; name: keyof typeof CORE_FIELDS | 'status' }
  | { kind: 'attribute'; name: string }
  | { kind: 'new-attribute'; name: string; type: AttributeType }
  | { kind: 'ignore' };

export type ColumnMapping = ColumnTarget[];

const SEPARATORS = [',', ';', '\t', '|'] as const;

/** Returns the separator used by the header line: the one that occurs most outside quotes. */
export function detectSeparator(headerLine: string): string {
  let best: string = ',';
  let bestCount = 0;
  for (const separator of SEPARATORS) {
    let count = 0;
    let quoted = false;
    for (const char of headerLine) {
      if (char === '"') quoted = !quoted;
      else if (char === separator && !quoted) count++;
    }
    if (count > bestCount) [best, bestCount] = [separator, count];
  }
  return best;
}

/** Returns the first line of the text (a quoted field may span lines), without a byte-order mark. */
export function firstLine(text: string): string {
  const clean = text.replace(/^\uFEFF/, '');
  let quoted = false;
  for (let i = 0; i < clean.length; i++) {
    const char = clean[i];
    if (char === '"') quoted = !quoted;
    else if ((char === '\n' || char === '\r') && !quoted) return clean.slice(0, i);
  }
  return clean;
}

/** Returns the cells of one CSV line (quotes removed, "" unescaped). */
export function splitLine(line: string, separator: string): string[] {
  const cells: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const char = line[i];
    if (quoted) {
      if (char === '"' && line[i + 1] === '"') {
        cell += '"';
        i++;
      } else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === separator) {
      cells.push(cell);
      cell = '';
    } else cell += char;
  }
  cells.push(cell);
  return cells.map((c) => c.trim());
}

const SYNONYMS: Record<string, keyof typeof CORE_FIELDS | 'status'> = {
  email: 'email',
  e_mail: 'email',
  emailaddress: 'email',
  email_address: 'email',
  mail: 'email',
  first_name: 'first_name',
  firstname: 'first_name',
  given_name: 'first_name',
  voornaam: 'first_name',
  last_name: 'last_name',
  lastname: 'last_name',
  surname: 'last_name',
  family_name: 'last_name',
  achternaam: 'last_name',
  locale: 'locale',
  language: 'locale',
  taal: 'locale',
  time_zone: 'time_zone',
  timezone: 'time_zone',
  tz: 'time_zone',
  status: 'status',
  subscription: 'status',
  subscribed: 'status',
};

/** Returns a column name as an identifier: lower case, words joined by "_". */
export function fieldNameOf(column: string): string {
  return column
    .normalize('NFD')
    .replace(/[\u0300-\u036f]/g, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .replace(/^(\d)/, '_$1');
}

/** Returns the mapping Mailroom proposes: known fields by name, known attributes, and new text attributes for the rest. */
export function proposeMapping(columns: readonly string[], schema: readonly AttributeDefinition[]): ColumnMapping {
  const used = new Set<string>();
  return columns.map((column): ColumnTarget => {
    const name = fieldNameOf(column);
    const core = SYNONYMS[name] ?? SYNONYMS[name.replace(/_/g, '')];
    if (core && !used.has(core)) {
      used.add(core);
      return { kind: 'field', name: core };
    }
    if (!name || used.has(name)) return { kind: 'ignore' };
    used.add(name);
    return schema.some((a) => a.name === name) ? { kind: 'attribute', name } : { kind: 'new-attribute', name, type: 'text' };
  });
}

/** Returns why a mapping cannot be used, or null. */
export function mappingProblem(mapping: ColumnMapping, schema: readonly AttributeDefinition[]): string | null {
  const targets = mapping.filter((t) => t.kind !== 'ignore').map((t) => ('name' in t ? t.name : ''));
  if (!mapping.some((t) => t.kind === 'field' && t.name === 'email')) {
    return 'No column is mapped to Email: every profile needs an address. Map the column that holds it.';
  }
  const twice = targets.find((t, i) => targets.indexOf(t) !== i);
  if (twice) return `Two columns are mapped to "${twice}"; map each field once.`;
  for (const target of mapping) {
    if (target.kind === 'attribute' && !schema.some((a) => a.name === target.name))
      return `There is no attribute "${target.name}" in the audience.`;
    if (target.kind === 'new-attribute') {
      if (!/^[a-z_][a-z0-9_]*$/.test(target.name))
        return `"${target.name}" cannot name an attribute: use lower-case letters, digits and _.`;
      if (target.name in CORE_FIELDS || target.name === 'status') return `"${target.name}" is a core field, not an attribute.`;
      const existing = schema.find((a) => a.name === target.name);
      if (existing && existing.type !== target.type) return `The attribute "${target.name}" is a ${existing.type}, not a ${target.type}.`;
    }
  }
  return null;
}

/** A row read as a profile: the address normalized, attributes always present. */
export type ImportedProfile = ProfileInput & { attributes: Record<string, AttributeValue> };

export type RowResult = { ok: true; profile: ImportedProfile } | { ok: false; email: string; reason: string };

/**
 * Returns the profile a row describes, or why the row is rejected. Empty cells leave the
 * field as it is; `types` gives the type of every attribute the mapping writes.
 */
export function readRow(cells: readonly string[], mapping: ColumnMapping, types: ReadonlyMap<string, AttributeType>): RowResult {
  const profile: ImportedProfile = { email: '', attributes: {} };
  let rawEmail = '';
  for (let i = 0; i < mapping.length; i++) {
    const target = mapping[i];
    const cell = (cells[i] ?? '').trim();
    if (target.kind === 'ignore' || cell === '') continue;
    if (target.kind === 'field') {
      if (target.name === 'email') rawEmail = cell;
      else if (target.name === 'status') {
        const status = readStatus(cell);
        if (!status) return { ok: false, email: rawEmail, reason: `unknown subscription status "${cell}": use subscribed or unsubscribed` };
        profile.status = status;
      } else profile[CORE_FIELDS[target.name] as 'firstName' | 'lastName' | 'locale' | 'timeZone'] = cell;
      continue;
    }
    const type = target.kind === 'new-attribute' ? target.type : types.get(target.name);
    if (!type) return { ok: false, email: rawEmail, reason: `unknown column type for "${target.name}"` };
    const value = readValue(cell, type);
    if (!value.ok) return { ok: false, email: rawEmail, reason: `${value.reason} in "${target.name}"` };
    profile.attributes[target.name] = value.value;
  }
  if (rawEmail === '') return { ok: false, email: '', reason: 'missing email' };
  const email = normalizeEmail(rawEmail);
  if (!isValidEmail(email)) return { ok: false, email: rawEmail, reason: `invalid address "${rawEmail}"` };
  profile.email = email;
  return { ok: true, profile };
}

function readStatus(cell: string): SubscriptionStatus | null {
  const value = cell.toLowerCase();
  if (['subscribed', 'yes', 'true', '1', 'opted in', 'opt-in'].includes(value)) return 'subscribed';
  if (['unsubscribed', 'no', 'false', '0', 'opted out', 'opt-out'].includes(value)) return 'unsubscribed';
  return null;
}

const TRUE = new Set(['true', 'yes', 'y', '1', 'ja', 'oui', 'x']);
const FALSE = new Set(['false', 'no', 'n', '0', 'nee', 'non']);

/** Returns the cell read as the attribute's type, or why it cannot be. */
export function readValue(cell: string, type: AttributeType): { ok: true; value: AttributeValue } | { ok: false; reason: string } {
  switch (type) {
    case 'text':
      return { ok: true, value: cell };
    case 'number': {
      const value = Number(cell.replace(/\s/g, ''));
      return Number.isFinite(value) ? { ok: true, value } : { ok: false, reason: `not a number "${cell}"` };
    }
    case 'boolean': {
      const lower = cell.toLowerCase();
      if (TRUE.has(lower)) return { ok: true, value: true };
      if (FALSE.has(lower)) return { ok: true, value: false };
      return { ok: false, reason: `not yes or no "${cell}"` };
    }
    case 'date': {
      const match = /^(\d{4})-(\d{2})-(\d{2})$/.exec(cell);
      const date = match && new Date(Date.UTC(Number(match[1]), Number(match[2]) - 1, Number(match[3])));
      if (!match || !date || date.getUTCMonth() !== Number(match[2]) - 1 || date.getUTCDate() !== Number(match[3])) {
        return { ok: false, reason: `bad date "${cell}": use YYYY-MM-DD` };
      }
      return { ok: true, value: cell };
    }
    case 'tags':
      return {
        ok: true,
        value: [
          ...new Set(
            cell
              .split(/[|;,]/)
              .map((t) => t.trim())
              .filter(Boolean),
          ),
        ],
      };
  }
}
