/**
 * The app's words in both languages: every message of messages/en has its Dutch (Paraglide
 * would fall back to English silently for a missing one), and the Dutch names no parameter
 * the English call does not give, but the count of a plural Dutch has and English has not.
 * (A call without a parameter some language reads fails the type check.)
 */

import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../../messages');
const AREAS = readdirSync(join(ROOT, 'en')).filter((name) => name.endsWith('.json'));

type Message = string | { declarations?: string[]; match: Record<string, string> }[];
const read = (locale: string, area: string): Record<string, Message> => {
  const { $schema: _, ...messages } = JSON.parse(readFileSync(join(ROOT, locale, area), 'utf8'));
  return messages;
};

/** The parameters a message reads: the inputs it declares and the {names} in its texts (a local variable is not one). */
function parameters(message: Message): string[] {
  const texts = typeof message === 'string' ? [message] : message.flatMap((variant) => Object.values(variant.match));
  const declarations = typeof message === 'string' ? [] : message.flatMap((variant) => variant.declarations ?? []);
  const locals = new Set(declarations.filter((d) => d.startsWith('local ')).map((d) => d.split(/\s+/)[1]));
  const names = new Set(declarations.filter((d) => d.startsWith('input ')).map((d) => d.split(/\s+/)[1]));
  for (const text of texts)
    for (const [, name] of text.replace(/\\[{}]/g, '').matchAll(/\{(\w+)\}/g)) if (!locals.has(name)) names.add(name);
  return [...names].sort();
}

describe('the messages', () => {
  it('are in both languages, part by part', () => {
    expect(readdirSync(join(ROOT, 'nl')).sort()).toEqual([...AREAS].sort());
    for (const area of AREAS) expect(Object.keys(read('nl', area)).sort(), area).toEqual(Object.keys(read('en', area)).sort());
  });

  it('read in Dutch what the English reads, but a plural’s count', () => {
    for (const area of AREAS) {
      const nl = read('nl', area);
      for (const [key, english] of Object.entries(read('en', area))) {
        const given = new Set([...parameters(english), ...(typeof nl[key] === 'string' ? [] : ['count'])]);
        expect(
          parameters(nl[key] ?? '').filter((name) => !given.has(name)),
          `${area}: ${key}`,
        ).toEqual([]);
      }
    }
  });

  it('are not left in English in the Dutch files, but for the words both languages share', () => {
    const same: string[] = [];
    for (const area of AREAS) {
      const nl = read('nl', area);
      for (const [key, english] of Object.entries(read('en', area))) {
        if (typeof english === 'string' && english.length > 24 && nl[key] === english) same.push(`${area}: ${key}`);
      }
    }
    expect(same).toEqual([]);
  });

  it('have keys unique across the parts (one part’s message would hide another’s)', () => {
    const seen = new Map<string, string>();
    for (const area of AREAS) {
      for (const key of Object.keys(read('en', area))) {
        expect(seen.get(key), `${key} in ${area}`).toBeUndefined();
        seen.set(key, area);
      }
    }
  });
});
