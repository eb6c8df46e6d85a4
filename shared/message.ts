/**
 * A message as a recipient reads it: subject, HTML and text, rendered with the shared
 * template renderer. The preview and the server both call `renderMessage`, so what was
 * previewed is what is sent.
 */

import { compile } from 'html-to-text';
import { CORE_FIELDS, fieldValue, templateValue } from './profile-fields';
import { escapeHtml } from './liquid/escape';
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
  /** The preheader (the hidden text inboxes show after the subject), or null when the delivery has none of its own. */
  preheader: CompiledTemplate | null;
  html: CompiledTemplate;
  /**
   * The text part's template: the one the marketer wrote, or else the HTML template turned into text once (tags, entities and
   * links as htmlToText does them, the Liquid left in place), so each recipient's text part
   * is rendered, not derived again from their HTML (html-to-text runs once per delivery).
   * Null, for a derived text part, when that text would lose some of the Liquid or does not compile (Liquid holding
   * markup): the text part is then derived from each recipient's HTML.
   */
  text: CompiledTemplate | null;
  /**
   * The profile fields the message reads: what a prepared recipient carries (including a
   * field the template also assigns, when it may read the field first).
   */
  profileFields: string[];
}

export type MessagePart = 'subject' | 'preheader' | 'html' | 'text';
export type CompileMessageResult = { ok: true; message: CompiledMessage } | { ok: false; part: MessagePart; error: TemplateError };

/** The words for a part of the message in sentences ("Template error in the HTML body"). */
export const PART_NAMES: Record<MessagePart, string> = {
  subject: 'subject',
  preheader: 'preheader',
  html: 'HTML body',
  text: 'text part',
};

/**
 * The parts of a delivery's content a message is made of. A preheader and a written text
 * part are optional (a delivery made before they existed has neither): empty, there is no
 * preheader of its own and the text part is derived from the HTML.
 */
export type MessageContent = Pick<DeliveryContent, 'subject' | 'html'> & Partial<Pick<DeliveryContent, 'preheader' | 'text'>>;

/** Returns the fields a template reads, including one it also assigns when it may read it first. */
const reads = (t: CompiledTemplate) => [...t.fields, ...t.shadowedFields];

/**
 * Returns the compiled subject, preheader, HTML body and text part, or the first syntax error
 * and the part it is in. `schema` names the custom attributes a recipient's values may carry.
 */
export function compileMessage(content: MessageContent, schema: readonly AttributeDefinition[] = []): CompileMessageResult {
  const subject = compileTemplate(content.subject);
  if (!subject.ok) return { ok: false, part: 'subject', error: subject.error };
  const preheader = content.preheader?.trim() ? compileTemplate(content.preheader) : null;
  if (preheader && !preheader.ok) return { ok: false, part: 'preheader', error: preheader.error };
  const html = compileTemplate(content.html);
  if (!html.ok) return { ok: false, part: 'html', error: html.error };
  const written = content.text?.trim() ? compileTemplate(content.text) : null;
  if (written && !written.ok) return { ok: false, part: 'text', error: written.error };
  const parts = [subject.template, html.template, ...(preheader ? [preheader.template] : []), ...(written ? [written.template] : [])];
  const used = new Set(parts.flatMap(reads));
  const profileFields = [...used].filter((f) => f in CORE_FIELDS || schema.some((a) => a.name === f));
  return {
    ok: true,
    message: {
      subject: subject.template,
      preheader: preheader?.template ?? null,
      html: html.template,
      text: written ? written.template : derivedTextTemplate(content.html, html.template),
      profileFields,
    },
  };
}

/** Returns the text template derived from the HTML template, or null when each recipient's text must be derived from their HTML. */
function derivedTextTemplate(source: string, html: CompiledTemplate): CompiledTemplate | null {
  const textSource = templateText(source);
  const text = textSource === null ? null : compileTemplate(textSource);
  // The text template reads only what the HTML reads (templateText checked which Liquid it kept); otherwise derive from the HTML.
  const htmlReads = new Set(reads(html));
  return text?.ok === true && reads(text.template).every((f) => htmlReads.has(f)) ? text.template : null;
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
  /** The preheader as an inbox line shows it (plain text, one line), or '' when the delivery has none of its own. */
  preheader: string;
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
  const body = message.html.render(all, 'html', at);
  const text = message.text ? tidyText(message.text.render(all, 'text', at)) : htmlToText(body);
  // Plain text as the inbox line shows it; escaped as a whole (what the marketer wrote too) into the HTML.
  const preheader = message.preheader ? oneSpaced(message.preheader.render(all, 'text', at)) : '';
  const html = preheader ? withPreheader(body, escapeHtml(preheader)) : body;
  return { subject: message.subject.render(all, 'header', at), preheader, html, text };
}

/** Returns the text with every run of white space one space, trimmed: a preheader is one line in an inbox. */
function oneSpaced(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

/**
 * What follows a preheader in its hidden element: spaces that do not collapse, each with a
 * zero-width non-joiner, so an inbox that shows more than the preheader shows blanks and not
 * the start of the body (Litmus's pattern; 80 pairs fill any inbox line).
 */
const PREHEADER_PADDING = '&#8199;&#847;'.repeat(80);

/**
 * Returns the HTML with the preheader (HTML, escaped) in a hidden element as the first thing of the
 * body: right after the `<body>` tag, or at the start when the HTML has none. Hidden the ways
 * mail clients honour (display none, no height, no opacity, Outlook's mso-hide); the text part
 * leaves it out, since the inbox line of a text-only client shows the text's own start.
 */
export function withPreheader(html: string, preheader: string): string {
  const element = `<div style="display: none; max-height: 0; overflow: hidden; opacity: 0; mso-hide: all">${preheader}${PREHEADER_PADDING}</div>`;
  const body = /<body\b[^>]*>/i.exec(html);
  const at = body ? body.index + body[0].length : 0;
  return html.slice(0, at) + element + html.slice(at);
}

/**
 * Returns the text part as it would be derived from the HTML template, its Liquid kept: where
 * a marketer starts from when writing the text part. (When some Liquid would be lost, the
 * text of the template as it stands.)
 */
export function derivedTextSource(html: string): string {
  return tidyText(templateText(html) ?? convert(html));
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
