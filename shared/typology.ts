/**
 * Typology rules applied during preparation. Control rules check the message; filtering
 * rules exclude recipients, each with its rule and cause.
 */

import { isValidEmail, normalizeEmail } from './email-address';
import { extractLinks, htmlToText, isKnownField, SYSTEM_FIELDS, type CompiledMessage } from './message';
import type { AttributeDefinition, DeliveryContent, ExclusionCause, LogLevel } from './types';

export interface ControlFinding {
  rule: string;
  level: Exclude<LogLevel, 'info'>;
  message: string;
}

/** Gmail clips messages whose HTML is larger than this. */
export const HTML_CLIP_BYTES = 102 * 1024;

/** Returns what the control rules found wrong with the message; errors fail the preparation. */
export function checkMessage(
  content: DeliveryContent,
  message: CompiledMessage,
  schema: readonly AttributeDefinition[] = [],
): ControlFinding[] {
  const findings: ControlFinding[] = [];
  const error = (rule: string, text: string) => findings.push({ rule, level: 'error', message: text });
  const warning = (rule: string, text: string) => findings.push({ rule, level: 'warning', message: text });

  if (content.subject.trim() === '') error('Subject present', 'The subject is empty: write a subject line.');
  else if (content.subject.length > 200)
    warning('Subject length', 'The subject is longer than 200 characters and will be cut by most mail clients.');
  if (!isValidEmail(normalizeEmail(content.fromAddress))) {
    error('From valid', `The From address "${content.fromAddress}" is not a valid email address.`);
  }
  const fields = [...message.subject.fields, ...message.html.fields];
  for (const field of new Set(fields)) {
    if (!isKnownField(field, schema)) error('Personalization fields', `The field "${field}" does not exist in the audience.`);
  }
  if (!message.html.fields.includes(SYSTEM_FIELDS[0])) {
    warning('Unsubscribe link', 'The message has no unsubscribe link: add {{ unsubscribe_url }} to the body.');
  }
  for (const link of extractLinks(content.html)) {
    if (link.includes('{{')) continue;
    if (!/^https?:\/\/[^\s/$.?#][^\s]*$/i.test(link) && !link.startsWith('mailto:')) {
      warning('Links well-formed', `The link "${link}" is not an absolute http(s) URL.`);
    }
  }
  if (htmlToText(content.html.replace(/\{\{[^}]*\}\}|\{%[^%]*%\}/g, '')).trim() === '') {
    warning('Text part', 'The text part derived from the HTML is empty (the body is only images or markup): add some text to the body.');
  }
  if (new TextEncoder().encode(content.html).length > HTML_CLIP_BYTES) {
    warning('HTML size', 'The HTML body is larger than 102 KB: Gmail will clip it.');
  }
  return findings;
}

export interface FilteringRule {
  name: string;
  cause: ExclusionCause;
}

/** The filtering rules of the default typology, in the order they are applied. */
export const DEFAULT_FILTERING_RULES = {
  unsubscribed: { name: 'Unsubscribed', cause: 'unsubscribed' },
  denylisted: { name: 'Denylisted', cause: 'denylisted' },
  quarantined: { name: 'Quarantined', cause: 'quarantined' },
  invalid: { name: 'Invalid address', cause: 'invalid-address' },
  duplicate: { name: 'Duplicate address', cause: 'duplicate-address' },
} as const satisfies Record<string, FilteringRule>;

/** The filtering rule of each cause. */
export const RULE_BY_CAUSE: Record<ExclusionCause, FilteringRule> = Object.fromEntries(
  Object.values(DEFAULT_FILTERING_RULES).map((rule) => [rule.cause, rule]),
) as Record<ExclusionCause, FilteringRule>;

export const CAUSE_LABELS: Record<ExclusionCause, string> = {
  unsubscribed: 'Unsubscribed',
  denylisted: 'Denylisted',
  quarantined: 'Quarantined',
  'invalid-address': 'Invalid address',
  'duplicate-address': 'Duplicate address',
};
