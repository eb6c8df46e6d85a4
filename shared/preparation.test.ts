import { describe, expect, it } from 'vitest';
import { Preparation } from './preparation';
import { makeProfile } from './test-profile';
import type { Delivery, Profile } from './types';

const delivery: Delivery = {
  id: 'd1',
  version: 3,
  name: 'Autumn',
  fromName: 'Shop',
  fromAddress: 'news@shop.example.com',
  subject: 'Hi {{ first_name | default: "there" }}',
  html: '<p>Hi {{ first_name }}</p><a href="{{ unsubscribe_url }}">unsubscribe</a>',
  audience: { kind: 'condition', field: 'city', operator: 'equals', value: 'Gent' },
  scheduledAt: null,
  createdAt: '',
  updatedAt: '',
};

const p = (email: string, city: string, extra: Partial<Profile> = {}): Profile =>
  makeProfile({ email, firstName: 'Eva', locale: 'nl', attributes: { city }, ...extra });

const clock = () => new Date('2026-11-28T10:00:00Z');

function prepare(d: Delivery, chunks: Profile[][]) {
  const started = Preparation.start(d, [{ name: 'city', label: 'City', type: 'text' }], clock);
  if (!started.ok) return { result: started.result, recipients: [], exclusions: [] };
  const recipients = [];
  const exclusions = [];
  for (const chunk of chunks) {
    const out = started.preparation.addProfiles(chunk);
    recipients.push(...out.recipients);
    exclusions.push(...out.exclusions);
  }
  return { result: started.preparation.finish(), recipients, exclusions };
}

describe('Preparation', () => {
  it('computes Targeted = To deliver + Excluded, per cause, across chunks', () => {
    const { result, recipients, exclusions } = prepare(delivery, [
      [p('a@example.com', 'Gent'), p('b@example.com', 'Utrecht'), p('c@example.com', 'Gent', { status: 'unsubscribed' })],
      [p('bad', 'Gent'), p('A@example.com', 'gent', { firstName: '' }), p('d@example.com', 'Gent', { firstName: '' })],
    ]);
    expect(result.status).toBe('prepared');
    expect(result.kpis).toEqual({
      targeted: 5,
      toDeliver: 2,
      excluded: 3,
      excludedByCause: { unsubscribed: 1, 'invalid-address': 1, 'duplicate-address': 1 },
    });
    expect(recipients.map((r) => [r.seq, r.email, r.subject])).toEqual([
      [1, 'a@example.com', 'Hi Eva'],
      [2, 'd@example.com', 'Hi there'],
    ]);
    expect(recipients[0].values).toEqual({ first_name: 'Eva' });
    expect(exclusions.map((e) => `${e.email}: ${e.rule}`)).toEqual([
      'c@example.com: Unsubscribed',
      'bad: Invalid address',
      'A@example.com: Duplicate address',
    ]);
  });

  it('ends the log with the number of errors and warnings', () => {
    const { result } = prepare({ ...delivery, html: '<p>no unsubscribe link</p>' }, [[p('a@example.com', 'Gent')]]);
    expect(result.status).toBe('prepared');
    expect(result.log.at(-1)?.message).toBe('Preparation finished: 0 errors, 1 warning.');
  });

  it('fails on a template error, naming the part, line and column', () => {
    const { result } = prepare({ ...delivery, html: '<p>\n  {{ first_name </p>' }, [[p('a@example.com', 'Gent')]]);
    expect(result.status).toBe('failed');
    expect(result.log.map((l) => l.message)).toContain(
      'Template error in the HTML body at line 2, column 3: "{{" is not closed with "}}".',
    );
    expect(result.log.at(-1)?.message).toBe('Preparation failed: 1 error, 0 warnings.');
  });

  it('fails when the target is empty', () => {
    const { result } = prepare(delivery, [[p('a@example.com', 'Utrecht')]]);
    expect(result.status).toBe('failed');
    expect(result.kpis.targeted).toBe(0);
    expect(result.log.some((l) => l.level === 'error' && l.message.startsWith('The target is empty'))).toBe(true);
  });

  it('fails when a control rule of severity error fails', () => {
    const { result } = prepare({ ...delivery, fromAddress: 'nobody' }, [[p('a@example.com', 'Gent')]]);
    expect(result.status).toBe('failed');
    expect(result.log.at(-1)?.message).toBe('Preparation failed: 1 error, 0 warnings.');
  });

  it('warns when a personalized message grows past the 102 KB clipping limit', () => {
    const long = p('long@example.com', 'Gent', { firstName: 'x'.repeat(110 * 1024) });
    const { result } = prepare(delivery, [[p('a@example.com', 'Gent'), long]]);
    expect(result.status).toBe('prepared');
    expect(result.log.map((l) => l.message)).toContain(
      'HTML size: the largest message is 111 KB once personalized; Gmail clips it above 102 KB.',
    );
  });

  it('puts every subject on one line', () => {
    const { recipients } = prepare(delivery, [[p('a@example.com', 'Gent', { firstName: 'Eve\r\nBcc: x@example.com' })]]);
    expect(recipients[0].subject).toBe('Hi Eve Bcc: x@example.com');
  });
});
