import 'fake-indexeddb/auto';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { PreparedRecipient } from '$shared/types';
import { MailroomDb, type StoredPreparation } from './db';
import {
  BatchWriter,
  CHUNK_SIZE,
  exclusionChunkCount,
  exclusionsOfChunk,
  findRecipient,
  recipientAt,
  recipientsOfChunk,
  savePreparedBatch,
  unpackExclusions,
  unpackRecipients,
  type RecipientChunk,
} from './prepared-batch';

let db: MailroomDb;
beforeEach(() => (db = new MailroomDb(`batch-test-${Math.random()}`)));
afterEach(() => db.close());

const recipient = (seq: number): PreparedRecipient => ({
  seq,
  profileId: 1000 + seq,
  email: `r${seq}@example.com`,
  subject: `Hello R${seq}`,
  values: { first_name: `R${seq}`, city: seq % 2 ? 'Gent' : '' },
});

const preparation = (deliveryId: string, toDeliver: number): StoredPreparation => ({
  deliveryId,
  version: 1,
  contentHash: 'abc',
  preparedAt: '2026-11-28T00:00:00Z',
  status: 'prepared',
  kpis: { targeted: toDeliver + 1, toDeliver, excluded: 1, excludedByCause: { unsubscribed: 1 }, excludedByRule: { Unsubscribed: 1 } },
  log: [],
});

describe('prepared batches, packed per chunk', () => {
  it('stores 2,500 recipients as three chunks and reads them back exactly', async () => {
    const writer = new BatchWriter('d1');
    for (let seq = 1; seq <= 2_500; seq++) writer.addRecipient(recipient(seq));
    writer.addExclusion({ profileId: 7, email: 'gone@example.com', rule: 'Unsubscribed', cause: 'unsubscribed' });
    writer.finish();
    await savePreparedBatch(db, preparation('d1', 2_500), writer);
    expect(await db.recipientChunks.count()).toBe(3);
    const second = await recipientsOfChunk(db, 'd1', 2);
    expect(second).toHaveLength(CHUNK_SIZE);
    expect(second[0]).toEqual(recipient(1_001));
    expect(await recipientAt(db, 'd1', 2_500)).toEqual(recipient(2_500));
    expect(await recipientAt(db, 'd1', 2_501)).toBeUndefined();
    expect(unpackExclusions((await db.exclusionChunks.get(['d1', 1]))!)).toEqual([
      { profileId: 7, email: 'gone@example.com', rule: 'Unsubscribed', cause: 'unsubscribed' },
    ]);
  });

  it('keeps 2,500 exclusions as three parts of at most a chunk each, in order, as the outbox uploads them', async () => {
    const writer = new BatchWriter('dx');
    writer.addRecipient(recipient(1));
    const exclusion = (n: number) => ({
      profileId: 5000 + n,
      email: n % 2 ? `bad-address-${n}` : `ex${n}@пример.рф`,
      rule: n % 3 ? 'Invalid address' : 'VIP only',
      cause: n % 3 ? ('invalid-address' as const) : ('condition' as const),
    });
    for (let n = 1; n <= 2_500; n++) writer.addExclusion(exclusion(n));
    writer.finish();
    await savePreparedBatch(db, preparation('dx', 1), writer);
    expect(await exclusionChunkCount(db, 'dx')).toBe(3);
    expect(await exclusionChunkCount(db, 'other')).toBe(0);
    const parts = await Promise.all([1, 2, 3].map((chunk) => exclusionsOfChunk(db, 'dx', chunk)));
    expect(parts.map((p) => p.length)).toEqual([1_000, 1_000, 500]);
    expect(parts.flat()).toEqual(Array.from({ length: 2_500 }, (_, i) => exclusion(i + 1)));
    expect(await exclusionsOfChunk(db, 'dx', 4)).toEqual([]);
  });

  it('finds a recipient by address, exactly or by part of it', async () => {
    const writer = new BatchWriter('d2');
    for (let seq = 1; seq <= 1_500; seq++) writer.addRecipient(recipient(seq));
    writer.finish();
    await savePreparedBatch(db, preparation('d2', 1_500), writer);
    expect((await findRecipient(db, 'd2', 'R1234@EXAMPLE.COM'))?.seq).toBe(1_234);
    expect((await findRecipient(db, 'd2', 'r149'))?.seq).toBe(149);
    expect(await findRecipient(db, 'd2', 'nobody')).toBeUndefined();
  });

  it('replaces an earlier batch of the same delivery and leaves others alone', async () => {
    for (const [id, count] of [
      ['a', 1_200],
      ['b', 10],
      ['a', 5],
    ] as const) {
      const writer = new BatchWriter(id);
      for (let seq = 1; seq <= count; seq++) writer.addRecipient(recipient(seq));
      writer.finish();
      await savePreparedBatch(db, preparation(id, count), writer);
    }
    expect(await recipientsOfChunk(db, 'a', 1)).toHaveLength(5);
    expect(await recipientsOfChunk(db, 'a', 2)).toEqual([]);
    expect(await recipientsOfChunk(db, 'b', 1)).toHaveLength(10);
  });

  it('keeps each value its type: text, numbers, yes/no, tags, nil left out, mixed types, separators dropped', async () => {
    const typed = (seq: number): PreparedRecipient => ({
      seq,
      profileId: 5000 + seq,
      email: `t${seq}@example.com`,
      subject: 'Hi',
      values: {
        first_name: seq % 3 === 0 ? 'Zoë 😀' : `T${seq}`,
        ...(seq % 2 ? { city: 'Gent' } : {}),
        vip: seq % 2 === 0,
        ...(seq % 5 ? { loyalty_points: seq * 1.5 - 100 } : {}),
        interests: seq % 4 === 0 ? [] : ['shoes', `tag${seq}`],
        mixed: seq % 2 ? 'text' : seq,
        note: 'a\u001fb\u001ec\u0000d',
      },
    });
    const writer = new BatchWriter('typed');
    for (let seq = 1; seq <= 1_200; seq++) writer.addRecipient(typed(seq));
    writer.finish();
    await savePreparedBatch(db, preparation('typed', 1_200), writer);
    const clean = (r: PreparedRecipient) => ({ ...r, values: { ...r.values, note: 'abcd' } });
    expect(await recipientsOfChunk(db, 'typed', 1)).toEqual(Array.from({ length: 1_000 }, (_, i) => clean(typed(i + 1))));
    expect(await recipientAt(db, 'typed', 1_200)).toEqual(clean(typed(1_200)));
  });

  it('reads a chunk packed before values were typed (all text, "" for none)', () => {
    const legacy: RecipientChunk = {
      deliveryId: 'old',
      chunk: 1,
      profileIds: Float64Array.from([1, 2]),
      emails: 'a@example.com\u001fb@example.com',
      subjects: 'Hi A\u001fHi',
      values: { first_name: 'A\u001f', city: '\u001fGent' } as unknown as RecipientChunk['values'],
    };
    expect(unpackRecipients(legacy).map((r) => r.values)).toEqual([{ first_name: 'A' }, { city: 'Gent' }]);
  });
});
