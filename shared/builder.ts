/**
 * The visual builder's content: a list of blocks a marketer arranges (a section, columns,
 * text, an image, a button, a divider, a spacer, social links, the footer with the
 * unsubscribe link), written out as MJML (`blocksToMjml`), which mjml compiles into the
 * responsive table HTML that Outlook, Gmail and phones show alike (content-source.ts). A
 * block model of our own rather than an editor framework: the model is a few plain types,
 * the MJML it writes is MJML's own components with nothing else, and the app's bundle
 * carries no editor beyond the builder's form (GrapesJS with its newsletter preset weighs
 * about 1 MB and writes its own table HTML, which MJML already writes better).
 *
 * Text blocks hold a little inline HTML (bold, italic, underline, links, line breaks) as the
 * builder's text field makes it; `cleanInline` keeps only that, so what the builder writes
 * stays clean email HTML whatever is pasted into it. Liquid is kept as written everywhere.
 */

export type BlockType = 'section' | 'columns' | 'text' | 'image' | 'button' | 'divider' | 'spacer' | 'social' | 'footer';

export type Block =
  | { id: string; type: 'section'; heading: string; text: string; background: string; colour: string }
  | { id: string; type: 'columns'; columns: string[] }
  | { id: string; type: 'text'; text: string }
  | { id: string; type: 'image'; src: string; alt: string; href: string; width: number }
  | { id: string; type: 'button'; label: string; href: string; background: string }
  | { id: string; type: 'divider' }
  | { id: string; type: 'spacer'; height: number }
  | { id: string; type: 'social'; links: { network: SocialNetwork; href: string }[] }
  | { id: string; type: 'footer'; text: string };

export const SOCIAL_NETWORKS = ['facebook', 'instagram', 'linkedin', 'x', 'youtube'] as const;
export type SocialNetwork = (typeof SOCIAL_NETWORKS)[number];

/** A builder design: its blocks, in order, and the page's colours. */
export interface Design {
  blocks: Block[];
  background: string;
}

/** Each block type as the builder's menu names it. */
export const BLOCK_LABELS: Record<BlockType, string> = {
  section: 'Section',
  columns: 'Columns',
  text: 'Text',
  image: 'Image',
  button: 'Button',
  divider: 'Divider',
  spacer: 'Spacer',
  social: 'Social links',
  footer: 'Footer',
};

const SOCIAL_LABELS: Record<SocialNetwork, string> = {
  facebook: 'Facebook',
  instagram: 'Instagram',
  linkedin: 'LinkedIn',
  x: 'X',
  youtube: 'YouTube',
};

/** Returns a new block of the type, with content to replace. */
export function newBlock(type: BlockType, id: string): Block {
  switch (type) {
    case 'section':
      return { id, type, heading: 'A heading', text: 'A few words under it.', background: '#1f2937', colour: '#ffffff' };
    case 'columns':
      return { id, type, columns: ['<b>First</b><br>Some text.', '<b>Second</b><br>Some text.'] };
    case 'text':
      return { id, type, text: 'Hello {{ first_name | default: "there" }},' };
    case 'image':
      return { id, type, src: '', alt: '', href: '', width: 600 };
    case 'button':
      return { id, type, label: 'See more', href: 'https://', background: '#2563eb' };
    case 'divider':
      return { id, type };
    case 'spacer':
      return { id, type, height: 24 };
    case 'social':
      return { id, type, links: [{ network: 'instagram', href: 'https://instagram.com/' }] };
    case 'footer':
      return { id, type, text: 'You receive this email because you subscribed to our news.' };
  }
}

/** The design a delivery starts with in the builder. */
export function starterDesign(id: (n: number) => string): Design {
  return {
    background: '#f3f4f6',
    blocks: [
      {
        ...(newBlock('section', id(1)) as Extract<Block, { type: 'section' }>),
        heading: 'Our autumn collection',
        text: 'Coats, knits and boots.',
      },
      newBlock('text', id(2)),
      {
        ...(newBlock('button', id(3)) as Extract<Block, { type: 'button' }>),
        label: 'See the collection',
        href: 'https://shop.example.com/autumn',
      },
      newBlock('footer', id(4)),
    ],
  };
}

/** Escapes text for MJML (XML): what is not markup of ours. */
const escape = (text: string) => text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** An attribute value: escaped, except Liquid, which is kept as written (its quotes too, inside single-quoted attributes). */
const attribute = (value: string) => `"${escape(value).replace(/\{\{[^}]*\}\}/g, (liquid) => liquid.replace(/&quot;/g, "'"))}"`;

/** A colour as CSS takes it, or the fallback (nothing from a design reaches CSS unchecked). */
const colour = (value: string, fallback: string) => (/^#[0-9a-f]{3}([0-9a-f]{3})?$/i.test(value) ? value : fallback);

/** The inline elements a text block keeps; everything else is dropped, its text kept. */
const INLINE = new Set(['b', 'strong', 'i', 'em', 'u', 'a', 'br']);

/**
 * Returns the text block's HTML with only bold, italic, underline, line breaks and links
 * (http(s), mailto or Liquid targets) kept, attributes but href dropped, and text escaped.
 */
export function cleanInline(html: string): string {
  let out = '';
  let at = 0;
  const open: string[] = [];
  for (const match of html.matchAll(/<\/?([a-zA-Z][\w-]*)([^>]*)>|<!--[\s\S]*?-->/g)) {
    out += escapeText(html.slice(at, match.index));
    at = match.index + match[0].length;
    const name = match[1]?.toLowerCase();
    if (!name) continue;
    if (name === 'div' || name === 'p') {
      // A new line the browser's editing made: a break, once per block.
      if (!match[0].startsWith('</') && out !== '' && !out.endsWith('<br>')) out += '<br>';
      continue;
    }
    if (!INLINE.has(name)) continue;
    const closing = match[0].startsWith('</');
    if (name === 'br') out += '<br>';
    else if (closing) {
      const i = open.lastIndexOf(name);
      if (i === -1) continue;
      for (const tag of open.splice(i).reverse()) out += `</${tag}>`;
    } else if (name === 'a') {
      const href =
        /href\s*=\s*("([^"]*)"|'([^']*)')/i
          .exec(match[2])
          ?.slice(2)
          .find((v) => v !== undefined) ?? '';
      const target = decodeEntities(href);
      // http(s), mailto, or a Liquid output that is the whole address or its start before a path ({{ shop_url }}/sale).
      if (!/^(https?:|mailto:|\{\{[^}]*\}\}(?:[/?#]|$))/i.test(target.trim())) continue;
      out += `<a href=${attribute(target.trim())}>`;
      open.push('a');
    } else {
      out += `<${name}>`;
      open.push(name);
    }
  }
  out += escapeText(html.slice(at));
  for (const tag of open.reverse()) out += `</${tag}>`;
  // Liquid reads its operators and quotes as written: the entities the editor made of them inside Liquid go.
  // A "<" that would open a tag stays escaped: decoded Liquid never brings markup with it.
  const liquid = out.replace(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g, (code) =>
    decodeEntities(code)
      .replace(/&nbsp;|\u00a0/g, ' ')
      .replace(/<(?=[a-zA-Z!/?])/g, '&lt;'),
  );
  return liquid.replace(/(<br>)+$/, '');
}

/** Escapes the text between tags, keeping entities the editor wrote (&amp;, &nbsp;…) as they are. */
const escapeText = (text: string) =>
  text
    .replace(/&(?!#?\w+;)/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;');

const decodeEntities = (text: string) =>
  text
    .replace(/&amp;/g, '&')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>');

const TEXT = 'font-size="16px" line-height="24px" color="#1f2937"';

/** Returns the MJML of one block, inside a section of its own (each block is a row of the message). */
function blockMjml(block: Block): string {
  const row = (content: string, attributes = 'background-color="#ffffff"') =>
    `    <mj-section ${attributes} padding="0 24px">\n      <mj-column>\n${content}\n      </mj-column>\n    </mj-section>`;
  switch (block.type) {
    case 'section': {
      const fg = colour(block.colour, '#ffffff');
      return row(
        `        <mj-text font-size="28px" line-height="34px" font-weight="bold" color="${fg}" padding="32px 0 8px">${cleanInline(block.heading)}</mj-text>\n` +
          `        <mj-text font-size="17px" line-height="26px" color="${fg}" padding="0 0 32px">${cleanInline(block.text)}</mj-text>`,
        `background-color="${colour(block.background, '#1f2937')}"`,
      );
    }
    case 'columns':
      return `    <mj-section background-color="#ffffff" padding="8px 24px">\n${block.columns
        .map((text) => `      <mj-column>\n        <mj-text ${TEXT} padding="8px 0">${cleanInline(text)}</mj-text>\n      </mj-column>`)
        .join('\n')}\n    </mj-section>`;
    case 'text':
      return row(`        <mj-text ${TEXT} padding="12px 0">${cleanInline(block.text)}</mj-text>`);
    case 'image': {
      if (!block.src.trim()) return row('        <mj-text padding="0"></mj-text>');
      const width = Math.max(16, Math.min(600, Math.round(block.width) || 600));
      const link = block.href.trim() ? ` href=${attribute(block.href.trim())}` : '';
      return row(`        <mj-image src=${attribute(block.src)} alt=${attribute(block.alt)} width="${width}px"${link} padding="12px 0" />`);
    }
    case 'button':
      return row(
        `        <mj-button href=${attribute(block.href.trim())} background-color="${colour(block.background, '#2563eb')}" color="#ffffff" font-size="16px" font-weight="bold" border-radius="6px" align="left" padding="12px 0">${cleanInline(block.label)}</mj-button>`,
      );
    case 'divider':
      return row('        <mj-divider border-width="1px" border-color="#e5e7eb" padding="16px 0" />');
    case 'spacer':
      return row(`        <mj-spacer height="${Math.max(4, Math.min(200, Math.round(block.height) || 24))}px" />`);
    case 'social': {
      const links = block.links
        .filter((l) => l.href.trim())
        .map((l) => `<a href=${attribute(l.href.trim())} style="color: #2563eb;">${SOCIAL_LABELS[l.network]}</a>`);
      return row(`        <mj-text ${TEXT} align="center" padding="12px 0">${links.join(' · ')}</mj-text>`);
    }
    case 'footer':
      return row(
        `        <mj-text font-size="12px" line-height="18px" color="#6b7280" padding="20px 0 28px">${cleanInline(block.text)} <a href="{{ unsubscribe_url }}" style="color: #6b7280;">Unsubscribe</a></mj-text>`,
        'background-color="#ffffff" border-top="1px solid #e5e7eb"',
      );
  }
}

/**
 * Returns the block with what it lacks filled from a new block of its type (a design synced
 * from elsewhere is checked only loosely by the server), or null for a type the builder has not.
 */
function complete(block: Block): Block | null {
  if (!Object.hasOwn(BLOCK_LABELS, block?.type)) return null;
  const full = { ...newBlock(block.type, String(block.id)), ...block } as Record<string, unknown>;
  const base = newBlock(block.type, '') as unknown as Record<string, unknown>;
  for (const [key, value] of Object.entries(base))
    if (typeof full[key] !== typeof value || (Array.isArray(value) && !Array.isArray(full[key]))) full[key] = value;
  return full as unknown as Block;
}

/** Returns the MJML document of a design: its blocks in order on a 600 px page, fluid below it. */
export function blocksToMjml(design: Design): string {
  return `<mjml>
  <mj-head>
    <mj-attributes>
      <mj-all font-family="-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif" />
    </mj-attributes>
  </mj-head>
  <mj-body background-color="${colour(design.background, '#f3f4f6')}" width="600px">
${(Array.isArray(design.blocks) ? design.blocks : [])
  .map(complete)
  .filter((b): b is Block => b !== null)
  .map(blockMjml)
  .join('\n')}
  </mj-body>
</mjml>
`;
}
