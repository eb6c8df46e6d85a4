/**
 * A message as a recipient reads it: subject, HTML and text, rendered with the shared
 * template renderer. The preview and the server both call `renderMessage`, so what was
 * previewed is what is sent.
 */

import { CORE_FIELDS, fieldText } from './profile-fields';
import { compileTemplate, type CompiledTemplate, type TemplateError } from './template';
import type { AttributeDefinition, DeliveryContent, Profile } from './types';

/** Fields Mailroom fills in itself for every message. */
export const SYSTEM_FIELDS = ['unsubscribe_url'] as const;

/** Returns true when a template may use the field: a core field, an attribute of the schema, or a system field. */
export function isKnownField(field: string, schema: readonly AttributeDefinition[]): boolean {
  return field in CORE_FIELDS || schema.some((a) => a.name === field) || (SYSTEM_FIELDS as readonly string[]).includes(field);
}

export interface CompiledMessage {
  subject: CompiledTemplate;
  html: CompiledTemplate;
  /**
   * The text part's template: the HTML template turned into text once (tags, entities and
   * links as htmlToText does them, the Liquid left in place), so each recipient's text part
   * is rendered, not derived again from their HTML. Null when that text does not compile
   * (Liquid holding markup): the text part is then derived from each HTML.
   */
  text: CompiledTemplate | null;
  /** The profile fields the message reads: what a prepared recipient carries. */
  profileFields: string[];
}

export type CompileMessageResult = { ok: true; message: CompiledMessage } | { ok: false; part: 'subject' | 'html'; error: TemplateError };

/**
 * Returns the compiled subject and HTML body, or the first syntax error and the part it is
 * in. `schema` names the custom attributes a recipient's values may carry.
 */
export function compileMessage(
  content: Pick<DeliveryContent, 'subject' | 'html'>,
  schema: readonly AttributeDefinition[] = [],
): CompileMessageResult {
  const subject = compileTemplate(content.subject);
  if (!subject.ok) return { ok: false, part: 'subject', error: subject.error };
  const html = compileTemplate(content.html);
  if (!html.ok) return { ok: false, part: 'html', error: html.error };
  const used = new Set([...subject.template.fields, ...html.template.fields]);
  const profileFields = [...used].filter((f) => f in CORE_FIELDS || schema.some((a) => a.name === f));
  const text = compileTemplate(htmlToText(content.html));
  const textFields = text.ok ? new Set(text.template.fields) : null;
  // The text template must read exactly the HTML's fields; otherwise derive from the HTML.
  const textUsable =
    text.ok && textFields!.size === new Set(html.template.fields).size && html.template.fields.every((f) => textFields!.has(f));
  return {
    ok: true,
    message: { subject: subject.template, html: html.template, text: textUsable && text.ok ? text.template : null, profileFields },
  };
}

/** Returns the values a recipient's message needs: only the fields the message reads. */
export function recipientValues(profile: Profile, fields: readonly string[]): Record<string, string> {
  const values: Record<string, string> = {};
  for (const field of fields) values[field] = fieldText(profile, field);
  return values;
}

export interface RenderedMessage {
  subject: string;
  html: string;
  text: string;
}

/** Returns the message for one recipient. `system` holds the values Mailroom fills in (the unsubscribe URL). */
export function renderMessage(
  message: CompiledMessage,
  values: Readonly<Record<string, string>>,
  system: { unsubscribeUrl: string },
): RenderedMessage {
  const all = { ...values, unsubscribe_url: system.unsubscribeUrl };
  const html = message.html.render(all, 'html');
  const text = message.text
    ? message.text
        .render(all, 'text')
        .replace(/\n{3,}/g, '\n\n')
        .trim()
    : htmlToText(html);
  return { subject: message.subject.render(all, 'header'), html, text };
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'", nbsp: ' ' };

/** Returns a readable plain-text part derived from HTML: links keep their URL, blocks become lines. */
export function htmlToText(html: string): string {
  return html
    .replace(/<(script|style|head)[\s\S]*?<\/\1>/gi, '')
    .replace(/<a\s[^>]*?href\s*=\s*(["'])(.*?)\1[^>]*>([\s\S]*?)<\/a>/gi, (_, _q, href: string, label: string) => {
      const text = label.replace(/<[^>]+>/g, '').trim();
      return text && text !== href ? `${text} (${href})` : href;
    })
    .replace(/<br\s*\/?>/gi, '\n')
    .replace(/<\/(p|div|h[1-6]|li|tr|table|ul|ol)>/gi, '\n')
    .replace(/<li[^>]*>/gi, '- ')
    .replace(/<[^>]+>/g, '')
    .replace(/&(amp|lt|gt|quot|#39|nbsp);/g, (_, name: string) => ENTITIES[name])
    .replace(/[ \t]+/g, ' ')
    .replace(/ *\n */g, '\n')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/** Returns every http(s) link target in the HTML, in order, without duplicates. */
export function extractLinks(html: string): string[] {
  const links = new Set<string>();
  for (const match of html.matchAll(/<a\s[^>]*?href\s*=\s*(["'])(.*?)\1/gi)) links.add(match[2]);
  return [...links];
}
