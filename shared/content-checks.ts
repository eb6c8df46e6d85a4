/**
 * What a message's HTML does that mail clients and readers take badly, found by reading its
 * markup once (htmlparser2, the parser html-to-text already uses; the preparation worker
 * has no DOM): images without alt text, links without text, a missing preheader, text
 * colours set without a background colour (dark mode), and the images it references. The control rules of a typology
 * report them (typology.ts), the live preview while the body is written too. The template
 * is read as written: Liquid in an attribute or a text counts as a value.
 */

import { Parser } from 'htmlparser2';

export interface ContentFacts {
  /** The sources of images that have no alt attribute at all (alt="" marks a decorative one, and is fine). */
  imagesWithoutAlt: string[];
  /** The targets of links with nothing to read or hear: no text, no image with alt text, no aria-label or title. */
  linksWithoutText: string[];
  /** The preheader: the text of a hidden element before the first visible text, or null when there is none. */
  preheader: string | null;
  /** Dark text colours set in the HTML (as written), when it sets no background colour anywhere. */
  darkTextWithoutBackground: string[];
  /** The sources of every image, each once. */
  images: string[];
}

/**
 * An element hidden from view as preheaders are: display none, no height, hidden. (Not
 * font-size 0 alone: layout cells use it to close gaps, and their children size their own text.)
 */
const HIDDEN = /display\s*:\s*none|max-height\s*:\s*0(?![.\d])|mso-hide\s*:\s*all|visibility\s*:\s*hidden/i;
const TEXT_COLOUR = /(?:^|;|\s)color\s*:\s*([^;]+)/gi;
const BACKGROUND = /background(?:-color)?\s*:/i;
/** Elements that hold no text of the message. */
const NOT_TEXT = new Set(['head', 'style', 'script', 'title']);
const VOID = new Set(['img', 'br', 'hr', 'meta', 'link', 'input', 'area', 'base', 'col', 'embed', 'source', 'track', 'wbr']);

/** Returns what the HTML's markup shows about the checks above, in one pass. */
export function contentFacts(html: string): ContentFacts {
  const facts: ContentFacts = { imagesWithoutAlt: [], linksWithoutText: [], preheader: null, darkTextWithoutBackground: [], images: [] };
  const open: { name: string; hidden: boolean; skip: boolean }[] = [];
  let link: { href: string; readable: boolean } | null = null;
  let seenText = false;
  let preheader = '';
  let background = false;
  const colours: string[] = [];
  const hidden = () => open.some((e) => e.hidden);
  const skipped = () => open.some((e) => e.skip);

  const parser = new Parser(
    {
      onopentag(name, attributes) {
        const style = attributes.style ?? '';
        if (BACKGROUND.test(style) || attributes.bgcolor !== undefined || attributes.background !== undefined) background = true;
        for (const match of style.matchAll(TEXT_COLOUR)) colours.push(match[1].trim());
        if (name === 'font' && attributes.color) colours.push(attributes.color);
        if (name === 'img') {
          if (attributes.src && !facts.images.includes(attributes.src)) facts.images.push(attributes.src);
          if (attributes.alt === undefined) facts.imagesWithoutAlt.push(attributes.src ?? '(no src)');
          if (link && attributes.alt?.trim()) link.readable = true;
        }
        if (name === 'a' && attributes.href !== undefined) {
          link = { href: attributes.href, readable: Boolean(attributes['aria-label']?.trim() || attributes.title?.trim()) };
        }
        if (!VOID.has(name)) open.push({ name, hidden: HIDDEN.test(style) || attributes.hidden !== undefined, skip: NOT_TEXT.has(name) });
      },
      ontext(text) {
        if (skipped()) return;
        // Text may come in pieces (an entity apart): a blank piece still spaces the preheader.
        if (hidden()) {
          if (!seenText) preheader += text;
        } else if (text.trim() !== '') seenText = true;
        if (link && text.trim() !== '') link.readable = true;
      },
      onclosetag(name) {
        if (name === 'a' && link) {
          if (!link.readable) facts.linksWithoutText.push(link.href);
          link = null;
        }
        if (VOID.has(name)) return;
        // Close up to the matching element (HTML lets some end tags be left out).
        const at = open.map((e) => e.name).lastIndexOf(name);
        if (at !== -1) open.length = at;
      },
    },
    { decodeEntities: true, lowerCaseTags: true, lowerCaseAttributeNames: true },
  );
  parser.end(html);
  const text = preheader.replace(/\s+/g, ' ').trim();
  facts.preheader = text === '' ? null : text;
  if (!background) facts.darkTextWithoutBackground = [...new Set(colours.filter(isDark))];
  return facts;
}

/** True for a colour dark enough to vanish on a dark background (relative luminance below 0.2); Liquid and unknown colours are not judged. */
export function isDark(colour: string): boolean {
  const rgb = parseColour(colour.trim().toLowerCase());
  if (!rgb) return false;
  const [r, g, b] = rgb.map((c) => {
    const s = c / 255;
    return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
  });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.2;
}

const NAMED: Record<string, [number, number, number]> = {
  black: [0, 0, 0],
  navy: [0, 0, 128],
  maroon: [128, 0, 0],
  purple: [128, 0, 128],
  green: [0, 128, 0],
  gray: [128, 128, 128],
  grey: [128, 128, 128],
  dimgray: [105, 105, 105],
  darkblue: [0, 0, 139],
  darkgray: [169, 169, 169],
  darkslategray: [47, 79, 79],
};

function parseColour(colour: string): [number, number, number] | null {
  const value = colour.replace(/\s*!important$/, '');
  const hex = /^#([0-9a-f]{3}|[0-9a-f]{6})$/.exec(value);
  if (hex) {
    const h = hex[1].length === 3 ? [...hex[1]].map((c) => c + c).join('') : hex[1];
    return [0, 2, 4].map((i) => parseInt(h.slice(i, i + 2), 16)) as [number, number, number];
  }
  const rgb = /^rgba?\(\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)/.exec(value);
  if (rgb) return [Number(rgb[1]), Number(rgb[2]), Number(rgb[3])];
  return NAMED[value] ?? null;
}
