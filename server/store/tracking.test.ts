/**
 * The buffer of tracking events both engines write through: what is on its way to the
 * database stays visible to the reads, and a flush resolves only once everything handed to it
 * earlier is written — a report read never misses an event, a click never records a second open.
 */

import { describe, expect, it } from 'vitest';
import { PendingEvents, type PendingEvent } from './tracking';

/** A write that holds each batch until released, recording what reached the "database". */
function heldWrite() {
  const written: PendingEvent[] = [];
  const waiting: (() => void)[] = [];
  // Like a database client, it takes the events as they are when handed over.
  const write = (events: PendingEvent[]) => {
    const sent = events.map((e) => ({ ...e }));
    return new Promise<void>((resolve) =>
      waiting.push(() => {
        written.push(...sent);
        resolve();
      }),
    );
  };
  const releaseAll = async () => {
    while (waiting.length) {
      waiting.shift()!();
      await Promise.resolve();
      await new Promise((r) => setImmediate(r));
    }
  };
  return { write, written, releaseAll, waiting };
}

const open = { deliveryId: 'd', journalId: 7, kind: 'open' as const };
const click = (linkId: number) => ({ deliveryId: 'd', journalId: 7, kind: 'click' as const, linkId });

describe('pending tracking events', () => {
  it('stay visible to the reads while they are being written', async () => {
    const db = heldWrite();
    const pending = new PendingEvents(db.write);
    const now = new Date('2026-12-01T10:00:00Z');
    pending.add(open, now);
    pending.add(click(1), now);
    const flushing = pending.flush();
    await new Promise((r) => setImmediate(r));
    expect(db.waiting).toHaveLength(1); // handed to the database, not written yet
    expect(pending.opened(7)).toBe(true);
    expect(pending.otherLinks(7, 2, '2026-12-01T09:59:59Z')).toEqual([1]);
    await db.releaseAll();
    await flushing;
    expect(db.written.map((e) => e.kind)).toEqual(['open', 'click']);
    expect(pending.opened(7)).toBe(false); // now the database's to answer
  });

  it('resolve a flush only once the writes already under way have ended', async () => {
    const db = heldWrite();
    const pending = new PendingEvents(db.write);
    pending.add(open, new Date());
    const first = pending.flush();
    let second = false;
    // Nothing waits any more, but a read that flushes first must still see the open.
    const reading = pending.flush().then(() => (second = true));
    await new Promise((r) => setImmediate(r));
    expect(second).toBe(false);
    await db.releaseAll();
    await Promise.all([first, reading]);
    expect(second).toBe(true);
    expect(db.written).toHaveLength(1);
  });

  it('say when a machine’s burst marks events already on their way, so the store marks them in the database too', async () => {
    const db = heldWrite();
    const pending = new PendingEvents(db.write);
    const now = new Date('2026-12-01T10:00:00Z');
    pending.add(click(1), now);
    const flushing = pending.flush();
    await new Promise((r) => setImmediate(r));
    expect(pending.markMachine(7, '2026-12-01T09:59:59Z')).toBe(true);
    pending.add(click(2), now);
    expect(pending.markMachine(7, '2026-12-01T09:59:59Z')).toBe(false); // only waiting ones: marked before written
    const rest = pending.flush();
    await db.releaseAll();
    await Promise.all([flushing, rest]);
    expect(db.written.map((e) => [e.linkId, Boolean(e.machine)])).toEqual([
      [1, false], // serialized as a person's before the burst: the store re-marks it in the database
      [2, true],
    ]);
  });

  it('keep a batch whose write failed, in front of newer events', async () => {
    let fail = true;
    const written: string[] = [];
    const pending = new PendingEvents(async (events) => {
      if (fail) throw new Error('connection lost');
      written.push(...events.map((e) => `${e.kind}${e.linkId ?? ''}`));
    });
    pending.add(click(1), new Date());
    await expect(pending.flush()).rejects.toThrow('connection lost');
    pending.add(click(2), new Date());
    fail = false;
    await pending.flush();
    expect(written).toEqual(['click1', 'click2']);
  });
});
