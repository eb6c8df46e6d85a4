/**
 * The same bytes everywhere: the Liquid corpus as one delivery, prepared by the worker API
 * over a replica in IndexedDB (fake-indexeddb), then each recipient's message as the
 * preview renders it (from the prepared batch in Dexie), as a proof renders it (the real
 * route, the values as JSON through its schema), and as the engine composes it for SMTP
 * (the values as the send journal stores them, JSON). One clock for all: "now" agrees.
 */

import 'fake-indexeddb/auto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { CORPUS, PROFILES } from '$shared/liquid/differential-corpus';
import { compileMessage, renderMessage } from '$shared/message';
import { makeProfile } from '$shared/test-profile';
import type { AttributeDefinition, PreparedRecipient, Profile } from '$shared/types';
import { composeMessage } from '../../../server/sending/compose';
import type { OutgoingMessage } from '../../../server/sending/compose';
import { PROOF_UNSUBSCRIBE_URL } from '../../../server/routes/proofs';
import type { JournalEntry } from '../../../server/store/journal';
import { createKit, recordingMessenger, type Kit } from '../../../server/test-kit';
import { addTracking } from '../../../server/tracking/rewrite';
import { createTokenSigner } from '../../../server/tracking/tokens';
import { MailroomDb } from '../db/db';
import { createDelivery, saveContent } from '../db/deliveries';
import { recipientsOfChunk } from '../db/prepared-batch';
import { applyChangePage } from '../db/replica';
import { createPreparationApi } from './preparation-api';

const SEND_AT = new Date('2026-11-28T10:00:00Z');
const schema: AttributeDefinition[] = [
  { name: 'city', label: 'City', type: 'text' },
  { name: 'vip', label: 'VIP', type: 'boolean' },
  { name: 'loyalty_points', label: 'Points', type: 'number' },
  { name: 'birth_date', label: 'Birth date', type: 'date' },
  { name: 'interests', label: 'Interests', type: 'tags' },
  { name: 'note', label: 'Note', type: 'text' },
  { name: 'bio', label: 'Bio', type: 'text' },
  // Names the corpus reads that no profile has a value for: known, so the "personalization fields" rule passes.
  { name: 'missing', label: 'Missing', type: 'text' },
  { name: 'missing_field', label: 'Missing field', type: 'text' },
  { name: 'tag', label: 'Tag', type: 'text' },
];
const CORE: Record<string, keyof Profile> = { first_name: 'firstName', last_name: 'lastName', email: 'email', locale: 'locale' };

/** The corpus's profiles as the audience holds them. */
function profiles(): Profile[] {
  return Object.values(PROFILES).map((values, i) => {
    const profile = makeProfile({ id: i + 1, attributes: {} });
    for (const [field, value] of Object.entries(values)) {
      if (CORE[field]) (profile as unknown as Record<string, unknown>)[CORE[field]] = value ?? '';
      else profile.attributes[field] = Array.isArray(value) ? [...value] : (value as Exclude<typeof value, readonly string[]>);
    }
    return profile;
  });
}

const content = {
  subject: '{% if vip %}VIP{% else %}Member{% endif %} {{ first_name | default: "there" | truncate: 20 }}, {{ "now" | date: "%A %-d %B" }}',
  html: `<html><body>${CORPUS.join('\n<hr>\n')}\n<a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>`,
};

let db: MailroomDb;
let kit: Kit;
let proofs: OutgoingMessage[];
beforeAll(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(SEND_AT);
});
afterAll(() => vi.useRealTimers());
beforeEach(async () => {
  db = new MailroomDb(`identity-test-${Math.random()}`);
  await applyChangePage(
    db,
    { profiles: profiles(), deleted: [], cursor: 8, total: 8, hasMore: false },
    schema,
    SEND_AT.toISOString(),
    'blocks',
  );
  const recorder = recordingMessenger();
  proofs = recorder.sent;
  kit = await createKit({ messenger: recorder.messenger });
});
afterEach(async () => {
  db.close();
  await kit.close();
});

async function prepared(): Promise<{ id: string; recipients: PreparedRecipient[] }> {
  const id = await createDelivery(db);
  await saveContent(db, id, { ...(await db.deliveries.get(id))!, ...content });
  const outcome = await createPreparationApi(db).prepare(id, () => {});
  expect(outcome).toMatchObject({ ok: true, status: 'prepared' });
  return { id, recipients: await recipientsOfChunk(db, id, 1) };
}

describe('one corpus, the same bytes in the preparation, the preview, proofs and the send', () => {
  it('carries typed values through the prepared batch', async () => {
    const { recipients } = await prepared();
    expect(recipients).toHaveLength(Object.keys(PROFILES).length);
    const typical = recipients.find((r) => r.email === 'anna@example.com')!;
    expect(typical.values).toMatchObject({ vip: true, loyalty_points: 1200, interests: ['shoes', 'sale'], birth_date: '1990-04-05' });
    // Empty text and missing values are nil: left out.
    const edges = recipients.find((r) => r.email === 'edge@example.com')!;
    expect(edges.values).toMatchObject({ vip: false, loyalty_points: 0, interests: [], first_name: '  ' });
    expect('city' in edges.values || 'last_name' in edges.values).toBe(false);
  });

  it('renders each recipient identically in the preview, a proof and the composed message', async () => {
    const { id, recipients } = await prepared();
    const compiled = compileMessage(content);
    if (!compiled.ok) throw new Error(compiled.error.message);

    const response = await kit.request('/api/proofs', {
      json: {
        fromName: 'Shop',
        fromAddress: 'news@shop.example.com',
        ...content,
        to: ['me@example.com'],
        recipients: recipients.slice(0, 5).map((r) => ({ email: r.email, values: r.values })),
      },
    });
    expect(response.status).toBe(200);
    const rest = await kit.request('/api/proofs', {
      json: {
        fromName: 'Shop',
        fromAddress: 'news@shop.example.com',
        ...content,
        to: ['me@example.com'],
        recipients: recipients.slice(5).map((r) => ({ email: r.email, values: r.values })),
      },
    });
    expect(rest.status).toBe(200);
    expect(proofs).toHaveLength(recipients.length);

    const signer = createTokenSigner('identity');
    const context = { publicUrl: 'https://mail.example.com', signer, tracking: { linkId: async () => 1 } as never, now: () => SEND_AT };
    for (const [i, recipient] of recipients.entries()) {
      const preview = renderMessage(compiled.message, recipient.values, { unsubscribeUrl: PROOF_UNSUBSCRIBE_URL, sendAt: new Date() });
      // The subject rendered when preparing is the one previewed.
      expect(recipient.subject).toBe(preview.subject);
      expect(proofs[i]).toMatchObject({ subject: `[Proof] ${preview.subject}`, html: preview.html, text: preview.text });

      const entry: JournalEntry = {
        id: 100 + i,
        deliveryId: id,
        seq: recipient.seq,
        profileId: recipient.profileId,
        email: recipient.email,
        subject: recipient.subject,
        values: JSON.parse(JSON.stringify(recipient.values)),
        attempts: 0,
        variant: null,
      };
      const composed = await composeMessage(
        { id, fromName: 'Shop', fromAddress: 'news@shop.example.com' },
        compiled.message,
        entry,
        context,
      );
      const claims = { deliveryId: id, journalId: entry.id };
      const unsubscribeUrl = `https://mail.example.com/u/${signer.sign({ purpose: 'u', ...claims })}`;
      const sent = renderMessage(compiled.message, recipient.values, { unsubscribeUrl, sendAt: SEND_AT });
      const noLinks = () => {
        throw new Error('the corpus has no link to track');
      };
      const pixel = `https://mail.example.com/t/o/${signer.sign({ purpose: 'o', ...claims })}`;
      expect(composed.html).toBe(addTracking(sent.html, noLinks, pixel, unsubscribeUrl));
      expect(composed.text).toBe(sent.text);
      expect(composed.subject).toBe(preview.subject);
      // And the preview with that link is the same message.
      expect(sent.html).toBe(preview.html.replaceAll(PROOF_UNSUBSCRIBE_URL, unsubscribeUrl));
    }
  });
});
