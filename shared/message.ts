/**
 * A message as a recipient reads it: subject, HTML and text, rendered with the shared
 * template renderer. The preview and the server both call `renderMessage`, so what was
 * previewed is what is sent.
 */

import { CORE_FIELDS, fieldValue, templateValue } from './profile-fields';
import { compileTemplate, type CompiledTemplate, type TemplateError } from './template';
import type { AttributeDefinition, DeliveryContent, Profile, TemplateValue } from './types';

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
  /**
   * The profile fields the message reads: what a prepared recipient carries (including a
   * field the template also assigns, when it may read the field first).
   */
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
  const reads = (t: CompiledTemplate) => [...t.fields, ...t.shadowedFields];
  const used = new Set([...reads(subject.template), ...reads(html.template)]);
  const profileFields = [...used].filter((f) => f in CORE_FIELDS || schema.some((a) => a.name === f));
  const source = templateText(content.html);
  const text = source === null ? null : compileTemplate(source);
  // The text template must keep all the Liquid and read exactly the HTML's fields; otherwise derive from the HTML.
  const htmlReads = new Set(reads(html.template));
  const textReads = text?.ok ? new Set(reads(text.template)) : null;
  const textUsable = textReads !== null && textReads.size === htmlReads.size && [...htmlReads].every((f) => textReads.has(f));
  return {
    ok: true,
    message: { subject: subject.template, html: html.template, text: textUsable && text?.ok ? text.template : null, profileFields },
  };
}

/** Returns the values a recipient's message needs, typed: only the fields the message reads, and only those with a value. */
export function recipientValues(profile: Profile, fields: readonly string[]): Record<string, TemplateValue> {
  const values: Record<string, TemplateValue> = {};
  for (const field of fields) {
    const value = templateValue(fieldValue(profile, field));
    if (value !== undefined) values[field] = value;
  }
  return values;
}

export interface RenderedMessage {
  subject: string;
  html: string;
  text: string;
}

/** What Mailroom fills in itself: the unsubscribe URL, and the send time ("now" and "today" in templates). */
export interface SystemValues {
  unsubscribeUrl: string;
  sendAt: Date;
}

/**
 * Returns the message for one recipient. Values are typed (a prepared recipient's; plain
 * text values, as older batches hold, are a case of them); `system` holds what Mailroom fills in.
 */
export function renderMessage(
  message: CompiledMessage,
  values: Readonly<Record<string, TemplateValue | undefined>>,
  system: SystemValues,
): RenderedMessage {
  const all = { ...values, unsubscribe_url: system.unsubscribeUrl };
  const at = system.sendAt.getTime();
  const html = message.html.render(all, 'html', at);
  const text = message.text
    ? message.text
        .render(all, 'text', at)
        .replace(/\n{3,}/g, '\n\n')
        .trim()
    : htmlToText(html);
  return { subject: message.subject.render(all, 'header', at), html, text };
}

/**
 * Returns the HTML template as text (htmlToText), its Liquid left exactly as written: each
 * `{{ }}` and `{% %}` is set aside first, so markup-like text in a tag (`points < 100`) is
 * not taken for HTML. Null when the text loses some of the Liquid (inside an attribute).
 */
function templateText(html: string): string | null {
  const liquid: string[] = [];
  // eslint-disable-next-line no-control-regex -- a NUL never comes from htmlToText: it marks a set-aside part
  const marked = html.replace(/\u0000/g, '').replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, (part) => `\u0000${liquid.push(part) - 1}\u0000`);
  const kept = new Array<number>(liquid.length).fill(0);
  // eslint-disable-next-line no-control-regex
  const text = htmlToText(marked).replace(/\u0000(\d+)\u0000/g, (_, i: string) => (kept[Number(i)]++, liquid[Number(i)]));
  return kept.every((n) => n === 1) ? text : null;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#34': '"', '#39': "'", nbsp: ' ' };

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
    .replace(/&(amp|lt|gt|quot|#34|#39|nbsp);/g, (_, name: string) => ENTITIES[name])
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
