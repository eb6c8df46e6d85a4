import { describe, expect, it } from 'vitest';
import { blocksToMjml, cleanInline, newBlock, type Block, type BlockType } from './builder';

describe('the text of a builder block, as an email keeps it', () => {
  it.each([
    ['bold, italic, underline and breaks stay', '<b>Big</b> <i>news</i><br><u>now</u>', '<b>Big</b> <i>news</i><br><u>now</u>'],
    [
      'a script, a style and attributes go, their text kept',
      '<span style="x" onclick="y">Hi <script>alert(1)</script></span>',
      'Hi alert(1)',
    ],
    [
      'a link of http(s) or Liquid stays, with its href only',
      '<a href="https://x.example/?a=1&amp;b=2" target="_blank">go</a>',
      '<a href="https://x.example/?a=1&amp;b=2">go</a>',
    ],
    ['a javascript: link is no link', '<a href="javascript:alert(1)">go</a>', 'go'],
    ['the lines a browser makes of Enter become breaks', 'First<div>Second</div><div>Third</div>', 'First<br>Second<br>Third'],
    ['a tag left open is closed', '<b>bold', '<b>bold</b>'],
    [
      'Liquid is kept as written, its operators too',
      '{% if loyalty_points &gt; 100 %}VIP{% endif %} {{ first_name | default: "you" }}',
      '{% if loyalty_points > 100 %}VIP{% endif %} {{ first_name | default: "you" }}',
    ],
    ['text is escaped', 'a < b & c', 'a &lt; b &amp; c'],
    ['markup spelled inside Liquid stays text', '{{ &lt;img src=x onerror=alert(1)&gt; }}', '{{ &lt;img src=x onerror=alert(1)> }}'],
    [
      'a Liquid link must be the address or its start',
      '<a href="{{ x }}javascript:alert(1)">a</a><a href="{{ shop }}/sale">b</a>',
      'a<a href="{{ shop }}/sale">b</a>',
    ],
  ])('%s', (_, html, clean) => {
    expect(cleanInline(html)).toBe(clean);
  });
});

describe('a design written out as MJML', () => {
  const all = (
    Object.keys({ section: 0, columns: 0, text: 0, image: 0, button: 0, divider: 0, spacer: 0, social: 0, footer: 0 }) as BlockType[]
  ).map((type, i) => newBlock(type, `b${i}`));

  it('has one row per block in order, and the footer’s unsubscribe link', () => {
    const mjml = blocksToMjml({ background: '#f3f4f6', blocks: all });
    expect(mjml.match(/<mj-section /g)).toHaveLength(all.length);
    expect(mjml.indexOf('A heading')).toBeLessThan(mjml.indexOf('See more'));
    expect(mjml).toContain('<a href="{{ unsubscribe_url }}"');
    expect(mjml).toContain('<mj-divider');
    expect(mjml).toContain('<mj-spacer height="24px" />');
  });

  it('writes a block that lacks fields (a design synced from elsewhere) with its defaults, and leaves out an unknown one', () => {
    const mjml = blocksToMjml({
      background: '#ffffff',
      blocks: [
        { id: 'x', type: 'image' } as Block,
        { id: 'y', type: 'video' } as unknown as Block,
        { id: 'z', type: 'text', text: 42 } as unknown as Block,
      ],
    });
    expect(mjml.match(/<mj-section /g)).toHaveLength(2);
    expect(mjml).toContain('Hello {{ first_name | default: "there" }},');
  });

  it('escapes what a marketer typed into attributes, keeping Liquid, and checks colours', () => {
    const blocks: Block[] = [
      {
        id: 'i',
        type: 'image',
        src: 'https://x.example/a.png?x="1"',
        alt: 'Boots "new" & warm',
        href: 'https://x.example/?id={{ id }}',
        width: 900,
      },
      {
        id: 'b',
        type: 'button',
        label: 'Go',
        href: 'https://x.example/{{ city | default: "all" }}',
        background: 'red;} body{display:none',
      },
    ];
    const mjml = blocksToMjml({ background: 'url(javascript:x)', blocks });
    expect(mjml).toContain('alt="Boots &quot;new&quot; &amp; warm"');
    expect(mjml).toContain('src="https://x.example/a.png?x=&quot;1&quot;"');
    expect(mjml).toContain('width="600px"');
    expect(mjml).toContain(`href="https://x.example/{{ city | default: 'all' }}"`);
    expect(mjml).toContain('background-color="#2563eb"');
    expect(mjml).toContain('<mj-body background-color="#f3f4f6"');
  });
});
