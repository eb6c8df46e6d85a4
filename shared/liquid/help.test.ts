import { describe, expect, it } from 'vitest';
import { compileTemplate } from '../template';
import { FILTERS } from './filters';
import { FILTER_HELP, TAG_HELP } from './help';
import { KNOWN_TAGS } from './parse';

describe('the help on Liquid (what completion offers)', () => {
  it('has a line for every filter the renderer knows, and none for a filter it does not', () => {
    expect(Object.keys(FILTER_HELP).sort()).toEqual(Object.keys(FILTERS).sort());
    for (const line of Object.values(FILTER_HELP)) expect(line).toMatch(/^[A-Z].{8,}[^.]$/);
  });

  it('has a line for every tag the renderer knows, and none for a tag it does not', () => {
    expect(TAG_HELP.map((t) => t.name).sort()).toEqual([...KNOWN_TAGS].sort());
  });

  it('shows each tag that opens a block or stands alone as it compiles', () => {
    const inner = new Set(['elsif', 'else', 'when', 'break', 'continue', 'echo', 'liquid']);
    const opening = TAG_HELP.filter((t) => !inner.has(t.name) && !t.name.startsWith('end'));
    expect(opening.length).toBeGreaterThan(8);
    for (const tag of opening) {
      const compiled = compileTemplate(`{% ${tag.snippet} %}`);
      expect(compiled.ok, `{% ${tag.snippet} %}`).toBe(true);
    }
  });
});
