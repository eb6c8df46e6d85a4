import { describe, expect, it } from 'vitest';
import { makeProfile } from '$shared/test-profile';
import { blockOf, BLOCK_SPAN, ProfileBlock } from './replica-blocks';

/** Packs and unpacks a block, as a write to IndexedDB and a later read do. */
const roundTrip = (block: ProfileBlock) => {
  const { block: stored, details } = structuredClone(block.encode());
  return new ProfileBlock(block.n, stored, details);
};

describe('profile blocks', () => {
  it('keeps profiles sorted by id, replaces by id, and reads them back whole after packing', () => {
    const block = new ProfileBlock(0);
    const profiles = [5, 1, 9, 3].map((id) =>
      makeProfile({
        id,
        email: `p${id}@example.com`,
        statusChangedAt: id === 3 ? '2026-11-01T00:00:00.000Z' : null,
        attributes: id === 9 ? { city: 'Gent', points: 12.5, vip: true, tags: ['a', 'b'], none: [] } : { vip: false },
      }),
    );
    expect(profiles.map((p) => block.put(p))).toEqual([1, 1, 1, 1]);
    expect(block.put({ ...profiles[0], firstName: 'Five', denylisted: true, status: 'unsubscribed' })).toBe(0);
    const read = roundTrip(block);
    expect(read.ids).toEqual([1, 3, 5, 9]);
    expect(read.profileAt(read.indexOf(5))).toMatchObject({
      id: 5,
      firstName: 'Five',
      denylisted: true,
      quarantined: false,
      status: 'unsubscribed',
      attributes: { vip: false },
    });
    expect(read.profileAt(3)).toEqual(profiles[2]);
    expect(read.profileAt(1)).toEqual(profiles[3]);
    expect(read.profiles().map((p) => p.email)).toEqual(['p1@example.com', 'p3@example.com', 'p5@example.com', 'p9@example.com']);
  });

  it('keeps a profile pending its double opt-in pending, and one confirmed since not', () => {
    const block = new ProfileBlock(0);
    block.put(makeProfile({ id: 1, email: 'new@example.com', pending: true }));
    block.put(makeProfile({ id: 2, email: 'old@example.com' }));
    const read = roundTrip(block);
    expect(read.profileAt(read.indexOf(1)).pending).toBe(true);
    expect(read.profileAt(read.indexOf(2))).not.toHaveProperty('pending');
    block.put(makeProfile({ id: 1, email: 'new@example.com' }));
    expect(roundTrip(block).profileAt(0)).not.toHaveProperty('pending');
  });

  it('removes a profile from every column', () => {
    const block = new ProfileBlock(0);
    for (const id of [1, 2, 3]) block.put(makeProfile({ id, attributes: { city: `c${id}`, n: id } }));
    expect(block.remove(2)).toBe(1);
    expect(block.remove(2)).toBe(0);
    const read = roundTrip(block);
    expect(read.ids).toEqual([1, 3]);
    expect(read.profiles().map((p) => p.attributes)).toEqual([
      { city: 'c1', n: 1 },
      { city: 'c3', n: 3 },
    ]);
  });

  it('survives values with separator characters and empty strings', () => {
    const block = new ProfileBlock(0);
    block.put(makeProfile({ id: 1, firstName: 'a\u001fb\u0000c', lastName: '', attributes: { note: '' } }));
    block.put(makeProfile({ id: 2, firstName: 'x' }));
    const read = roundTrip(block);
    expect(read.profileAt(0)).toMatchObject({ firstName: 'abc', lastName: '', attributes: { note: '' } });
    expect(read.profileAt(1).firstName).toBe('x');
  });

  it('places ids in blocks of consecutive ids', () => {
    expect(blockOf(0)).toBe(0);
    expect(blockOf(BLOCK_SPAN - 1)).toBe(0);
    expect(blockOf(BLOCK_SPAN)).toBe(1);
    expect(new ProfileBlock(0).indexOf(7)).toBe(-1);
  });
});

describe('a block read without its details', () => {
  it('has every field scans use, and empty dates', () => {
    const block = new ProfileBlock(0);
    block.put(makeProfile({ id: 1, email: 'a@example.com', firstName: 'A', statusSource: 'import', attributes: { city: 'Gent' } }));
    const { block: stored } = block.encode();
    expect(new ProfileBlock(0, stored).profileAt(0)).toMatchObject({
      email: 'a@example.com',
      firstName: 'A',
      statusSource: null,
      createdAt: '',
      attributes: { city: 'Gent' },
    });
  });
});

describe('columns of few distinct values', () => {
  it('are stored as a dictionary and codes, and read back exactly; columns of many values stay packed', () => {
    const block = new ProfileBlock(0);
    const cities = ['Gent', 'Utrecht', null];
    for (let id = 1; id <= 3_000; id++) {
      const city = cities[id % 3];
      block.put(
        makeProfile({
          id,
          email: `p${id}@example.com`,
          timeZone: 'Europe/Amsterdam',
          attributes: { ...(city ? { city } : {}), interests: id % 2 ? ['shoes'] : ['shoes', 'sale'] },
        }),
      );
    }
    const { block: stored } = block.encode();
    expect(stored.text.timeZone).toMatchObject({ d: ['Europe/Amsterdam'] });
    expect(typeof stored.text.email).toBe('string'); // 3,000 distinct addresses
    expect(stored.attributes.city).toMatchObject({ t: 's', v: { d: expect.arrayContaining(['Gent', 'Utrecht']) } });
    const read = new ProfileBlock(0, stored);
    for (const id of [1, 2, 3, 2_999]) {
      expect(read.profileAt(read.indexOf(id))).toMatchObject({
        email: `p${id}@example.com`,
        timeZone: 'Europe/Amsterdam',
        attributes: { ...(cities[id % 3] ? { city: cities[id % 3] } : {}), interests: id % 2 ? ['shoes'] : ['shoes', 'sale'] },
      });
    }
    expect(read.profileAt(read.indexOf(2)).attributes).not.toHaveProperty('city');
  });
});
