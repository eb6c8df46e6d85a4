import { CompletionContext } from '@codemirror/autocomplete';
import { EditorState, Text } from '@codemirror/state';
import { describe, expect, it } from 'vitest';
import { liquidCompletions, liquidContext, templateDiagnostics } from './liquid-editor';

const fields = () => [
  { name: 'first_name', label: 'First name', type: 'text' as const },
  { name: 'city', label: 'City', type: 'text' as const },
];

/** The completion labels offered with the cursor at the end of `text`. */
function offered(text: string, explicit = false): string[] | null {
  const state = EditorState.create({ doc: text });
  const result = liquidCompletions(fields)(new CompletionContext(state, text.length, explicit));
  return result ? result.options.map((o) => o.label) : null;
}

describe('where the cursor is in Liquid', () => {
  it.each([
    ['<p>Hello', null],
    ['<p>{{ first_name }} and', null],
    ['{{ fi', 'value'],
    ['{{ first_name | up', 'filter'],
    ['{{ "a|b" ', 'value'],
    ['{{ name | default: "x|y" | ', 'filter'],
    ['{% i', 'tag'],
    ['{%- i', 'tag'],
    ['{% if ci', 'tag-value'],
    ['{% if x %}{{ ', 'value'],
  ])('%s', (before, expected) => {
    expect(liquidContext(before)).toBe(expected);
  });
});

describe('completion', () => {
  it('offers the fields (and the unsubscribe link) in an output, the filters after a pipe, the tags in a tag', () => {
    expect(offered('{{ ')).toEqual(['first_name', 'city', 'unsubscribe_url']);
    expect(offered('{{ city | ')).toContain('upcase');
    expect(offered('{{ city | ')).not.toContain('city');
    expect(offered('{% ')).toContain('endif');
    expect(offered('{% if c')).toContain('city');
  });

  it('offers nothing outside Liquid, nor in the middle of nothing unless asked', () => {
    expect(offered('<p>ci')).toBeNull();
    expect(offered('{{ city ')).toBeNull();
    expect(offered('{{ city ', true)).toEqual(['first_name', 'city', 'unsubscribe_url']);
  });
});

describe('the renderer’s error as a mark', () => {
  it('marks the character at the error’s line and column', () => {
    const doc = Text.of(['<h1>Hi</h1>', '<p>{{ first_name </p>']);
    const [mark] = templateDiagnostics(doc);
    expect(mark.severity).toBe('error');
    expect(doc.lineAt(mark.from).number).toBe(2);
    expect(mark.to - mark.from).toBe(1);
    expect(mark.message).toMatch(/\(line 2, column \d+\)$/);
  });

  it('marks the last character when the error is at a line’s end, and nothing when the template compiles', () => {
    const doc = Text.of(['{{ city']);
    const [mark] = templateDiagnostics(doc);
    expect(mark.to).toBeLessThanOrEqual(doc.length);
    expect(mark.to - mark.from).toBe(1);
    expect(templateDiagnostics(Text.of(['{{ city }}']))).toEqual([]);
  });
});

describe('a field the audience does not have, as a mark', () => {
  const known = new Set(['first_name', 'city', 'unsubscribe_url']);
  const isKnown = (field: string) => known.has(field);

  it('marks each use of it inside Liquid, not in quotes nor in the text around', () => {
    const doc = Text.of(['<p>shoe_size: {{ shoe_size | default: "shoe_size" }}</p>', '{% if shoe_size > 40 %}big{% endif %} {{ city }}']);
    const marks = templateDiagnostics(doc, isKnown);
    expect(marks.map((m) => [doc.lineAt(m.from).number, doc.sliceString(m.from, m.to)])).toEqual([
      [1, 'shoe_size'],
      [2, 'shoe_size'],
    ]);
    expect(marks[0].message).toMatch(/^The field "shoe_size" does not exist in the audience/);
  });

  it('leaves alone the fields it has, variables the template sets, and loop variables', () => {
    const doc = Text.of([
      '{% assign greeting = "Hi" %}{{ greeting }} {{ first_name }}',
      '{% for c in city %}{{ c }}{{ forloop.index }}{% endfor %}',
    ]);
    expect(templateDiagnostics(doc, isKnown)).toEqual([]);
  });
});
