import { describe, expect, it } from 'vitest';
import { makeProfile } from '$shared/test-profile';
import { blockOf, BLOCK_SPAN, emptyBlock, indexOf, profileAt, profilesOf, putProfile, removeProfile } from './replica-blocks';

describe('profile blocks', () => {
  it('keeps profiles sorted by id, replaces by id, and reads them back whole', () => {
    const block = emptyBlock(0);
    const profiles = [5, 1, 9, 3].map((id) =>
      makeProfile({ id, email: `p${id}@example.com`, attributes: id === 9 ? { city: 'Gent', tags: ['a'] } : {} }),
    );
    expect(profiles.map((p) => putProfile(block, p))).toEqual([1, 1, 1, 1]);
    expect(block.ids).toEqual([1, 3, 5, 9]);
    expect(putProfile(block, { ...profiles[0], firstName: 'Five', denylisted: true })).toBe(0);
    expect(profileAt(block, indexOf(block, 5))).toMatchObject({ id: 5, firstName: 'Five', denylisted: true, attributes: {} });
    expect(profileAt(block, 3)).toEqual(profiles[2]);
    expect(block.attributes.city).toEqual([null, null, null, 'Gent']);
    expect(profilesOf(block).map((p) => p.email)).toEqual(['p1@example.com', 'p3@example.com', 'p5@example.com', 'p9@example.com']);
  });

  it('removes a profile from every column', () => {
    const block = emptyBlock(0);
    for (const id of [1, 2, 3]) putProfile(block, makeProfile({ id, attributes: { city: `c${id}` } }));
    expect(removeProfile(block, 2)).toBe(1);
    expect(removeProfile(block, 2)).toBe(0);
    expect(block.ids).toEqual([1, 3]);
    expect(block.email).toHaveLength(2);
    expect(block.attributes.city).toEqual(['c1', 'c3']);
  });

  it('places ids in blocks of consecutive ids', () => {
    expect(blockOf(0)).toBe(0);
    expect(blockOf(BLOCK_SPAN - 1)).toBe(0);
    expect(blockOf(BLOCK_SPAN)).toBe(1);
    expect(indexOf(emptyBlock(0), 7)).toBe(-1);
  });
});
