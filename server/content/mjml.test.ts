/**
 * MJML compiled in the browser (mjml's browser build, as the app and its preparation worker
 * load it) and in Node (the mjml package, server/content/mjml.ts) gives the same bytes, for
 * every starter made from a source and a design with every kind of block; the result is a
 * message the Liquid renderer personalizes and the default typology's control rules pass.
 */

import mjmlBrowser from 'mjml-browser';
import { describe, expect, it } from 'vitest';
import { newBlock, type BlockType } from '../../shared/builder';
import { compileSource, type ContentSource } from '../../shared/content-source';
import { compileMessage, renderMessage } from '../../shared/message';
import { SOURCE_STARTERS } from '../../shared/starter-templates';
import { checkMessage, DEFAULT_TYPOLOGY } from '../../shared/typology';
import type { DeliveryContent } from '../../shared/types';
import { compileOnServer } from './mjml';

const EVERY_BLOCK: ContentSource = {
  format: 'builder',
  design: {
    background: '#f3f4f6',
    blocks: (['section', 'columns', 'text', 'image', 'button', 'divider', 'spacer', 'social', 'footer'] as BlockType[]).map((type, i) => {
      const block = newBlock(type, `b${i}`);
      if (block.type === 'image') return { ...block, src: 'https://mail.example.com/a/0.png', alt: 'A picture' };
      return block.type === 'button' ? { ...block, href: 'https://shop.example.com/' } : block;
    }),
  },
};

const cases: [string, ContentSource, string, string][] = [
  ...SOURCE_STARTERS.map((s) => [s.name, s.source, s.subject, s.preheader] as [string, ContentSource, string, string]),
  ['every kind of block', EVERY_BLOCK, 'Hello', 'A preheader of its own'],
];

describe.each(cases)('MJML of %s', (_, source, subject, preheader) => {
  it('compiles to the same bytes in the browser build and in Node', async () => {
    const inBrowser = await compileSource(source, mjmlBrowser);
    const onServer = await compileOnServer(source);
    expect(inBrowser.ok && onServer.ok).toBe(true);
    if (!inBrowser.ok || !onServer.ok) return;
    expect(inBrowser.html).toBe(onServer.html);
    expect(onServer.warnings).toEqual([]);
    expect(onServer.html).toContain('max-width:600px');
  });

  it('is personalized by the Liquid renderer and passes the default typology’s control rules', async () => {
    const compiled = await compileOnServer(source);
    if (!compiled.ok) throw new Error(compiled.error);
    const content: DeliveryContent = {
      name: 'x',
      fromName: 'Shop',
      fromAddress: 'news@shop.example.com',
      subject,
      preheader,
      html: compiled.html,
      text: '',
      source,
      audience: { kind: 'all' },
      scheduledAt: null,
      typologyId: 'default',
    };
    const message = compileMessage(content, [{ name: 'city', label: 'City', type: 'text' }]);
    expect(message.ok).toBe(true);
    if (!message.ok) return;
    expect(checkMessage(content, message.message, [{ name: 'city', label: 'City', type: 'text' }], DEFAULT_TYPOLOGY.rules)).toEqual([]);
    const rendered = renderMessage(
      message.message,
      { first_name: 'Zoë' },
      { unsubscribeUrl: 'https://mail.example.com/u/t', sendAt: new Date() },
    );
    expect(rendered.html).toContain('https://mail.example.com/u/t');
    expect(rendered.html).not.toMatch(/\{\{|\{%/);
  });
});

it('says what is wrong with MJML that cannot be read', async () => {
  expect(await compileOnServer({ format: 'mjml', mjml: '<p>no mjml here</p>' })).toEqual({
    ok: false,
    error: expect.stringContaining('no <mjml> element'),
  });
  const unknown = await compileOnServer({ format: 'mjml', mjml: '<mjml><mj-body><mj-foo>x</mj-foo></mj-body></mjml>' });
  expect(unknown).toMatchObject({ ok: true, warnings: [expect.stringMatching(/Line 1: Element mj-foo doesn't exist/)] });
});
