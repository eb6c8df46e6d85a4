/**
 * A message as a recipient reads it: subject, HTML and text, rendered with the shared
 * template renderer. The preview and the server both call `renderMessage`, so what was
 * previewed is what is sent.
 */

import { compile } from 'html-to-text';
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
   * is rendered, not derived again from their HTML (html-to-text runs once per delivery).
   * Null when that text would lose some of the Liquid or does not compile (Liquid holding
   * markup): the text part is then derived from each recipient's HTML.
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
  // The text template reads only what the HTML reads (templateText checked which Liquid it kept); otherwise derive from the HTML.
  const htmlReads = new Set(reads(html.template));
  const textUsable = text?.ok === true && reads(text.template).every((f) => htmlReads.has(f));
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
  const text = message.text ? tidyText(message.text.render(all, 'text', at)) : htmlToText(html);
  return { subject: message.subject.render(all, 'header', at), html, text };
}

/**
 * Returns the HTML template as text (htmlToText), its Liquid left exactly as written: each
 * distinct `{{ }}` and `{% %}` is set aside first as a marker, so markup-like text in a tag
 * (`points < 100`) is not taken for HTML. An output `{{ }}` the text leaves out sat where
 * no text part shows anything (an image's source, a style, the head): rendered, it would
 * add nothing there either. A tag `{% %}` decides what the rest outputs, so the text must
 * keep every one as often as the HTML has it; when it does not (`{% if %}` in an image's
 * source or a style), null: the text part is then derived from each recipient's HTML.
 */
function templateText(html: string): string | null {
  const parts = new Map<string, number>();
  const expected: number[] = [];
  // eslint-disable-next-line no-control-regex -- a NUL never comes from htmlToText: it marks a set-aside part
  const marked = html.replace(/\u0000/g, '').replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, (part) => {
    let n = parts.get(part);
    if (n === undefined) parts.set(part, (n = expected.push(0) - 1));
    expected[n]++;
    return `\u0000${n}\u0000`;
  });
  const liquid = [...parts.keys()];
  const kept = new Array<number>(liquid.length).fill(0);
  // eslint-disable-next-line no-control-regex
  const text = htmlToText(marked).replace(/\u0000(\d+)\u0000/g, (_, i: string) => (kept[Number(i)]++, liquid[Number(i)]));
  return kept.every((n, i) => (liquid[i].startsWith('{%') ? n === expected[i] : n <= expected[i])) ? text : null;
}

/**
 * html-to-text set up for the text part of an email: no wrapping (mail clients wrap, and a
 * wrap decided on a template's Liquid would fall elsewhere once rendered); links as "text
 * (url)", or the URL alone when it is the text; images by their alt text; headings as
 * written, not upper-cased; list items after "- "; layout tables (which emails are made of)
 * one cell to a line; no head, style or script; a no-break space is a space.
 */
const convert = compile({
  wordwrap: false,
  // The whole document, not only its <body>: Liquid before <html> must stay in the text template.
  baseElements: { selectors: [], returnDomByDefault: true },
  whitespaceCharacters: ' \t\r\n\f\u200b\u00a0',
  // Each level of nesting is a level of recursion: far deeper than any email, and far from the stack's end.
  limits: { maxDepth: 500 },
  formatters: {
    // Through the word transforms, so that an image inside a link is the link's text.
    altText: (element, _walk, builder) => builder.addInline(element.attribs?.alt ?? ''),
  },
  selectors: [
    { selector: 'a', options: { linkBrackets: ['(', ')'], hideLinkHrefIfSameAsText: true } },
    { selector: 'img', format: 'altText' },
    ...(['h1', 'h2', 'h3', 'h4', 'h5', 'h6'] as const).map((selector) => ({ selector, options: { uppercase: false } })),
    { selector: 'ul', options: { itemPrefix: '- ' } },
    ...(['table', 'tr', 'td', 'th'] as const).map((selector) => ({
      selector,
      format: 'block',
      options: { leadingLineBreaks: 1, trailingLineBreaks: 1 },
    })),
    ...(['head', 'style', 'script'] as const).map((selector) => ({ selector, format: 'skip' })),
  ],
});

/**
 * Returns text as a text part reads it: no line of white space alone (what a Liquid tag on a
 * line of its own leaves), no space at a line's end nor two in a row after a word, at most
 * one empty line in a row, nothing around. Applied to the derived text and to the rendered
 * text template alike, so that the two read the same.
 */
/** What tidyText would change: a line that starts or ends with a space or tab, two of them in a row, three line breaks. */
const UNTIDY = /^[ \t]|[ \t]$|[ \t][ \t]|\n\n\n/m;

/**
 * Returns the text without blank lines of spaces, trailing spaces, runs of spaces within a
 * line, or more than one empty line in a row; trimmed. A rendered text part has nothing of
 * these nearly always (its template was tidied when compiled), and one search says so at a
 * third of what the four replacements cost (bench: 4 against 14 µs on a 5 KB text part).
 */
export function tidyText(text: string): string {
  if (!UNTIDY.test(text)) return text.trim();
  return text
    .replace(/^[ \t]+(?:\n|$)/gm, '')
    .replace(/[ \t]+$/gm, '')
    .replace(/(\S)[ \t]{2,}/g, '$1 ')
    .replace(/\n{3,}/g, '\n\n')
    .trim();
}

/**
 * Returns a readable plain-text part derived from HTML (html-to-text): entities decoded,
 * blocks as lines, links as "text (url)", images by their alt text. The worker, the preview
 * and the server all derive it here, so what was previewed is what is sent.
 */
export function htmlToText(html: string): string {
  return tidyText(convert(html));
}

/** Returns every http(s) link target in the HTML, in order, without duplicates. */
export function extractLinks(html: string): string[] {
  const links = new Set<string>();
  for (const match of html.matchAll(/<a\s[^>]*?href\s*=\s*(["'])(.*?)\1/gi)) links.add(match[2]);
  return [...links];
}
