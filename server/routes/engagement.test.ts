/**
 * The engagement the replica pulls (GET /api/audience/engagement): who received a delivery,
 * who of them opened and clicked — a person, not a privacy proxy — and each profile's last
 * open and click; then a preparation with the shared code targets "received, did not open"
 * from exactly that, as the worker does offline. Tracking URLs are taken from the sent messages.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EngagementIndex, type EngagementSnapshot } from '../../shared/engagement';
import { Preparation } from '../../shared/preparation';
import { DEFAULT_TYPOLOGY } from '../../shared/typology';
import type { OutgoingMessage } from '../sending/compose';
import { createKit, eventually, handOver, newProfile, PUBLIC_URL, recordingMessenger, SAMPLE_DELIVERY, type Kit } from '../test-kit';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const GMAIL_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const HTML =
  '<html><body><p>Hi {{ first_name }}</p><a href="https://shop.example.com/coats">Coats</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>';

let kit: Kit;
let sent: OutgoingMessage[];
let clock = Date.now();
const ids = new Map<string, number>();

beforeEach(async () => {
  const recorder = recordingMessenger((message) =>
    message.to.startsWith('bounce') ? { kind: 'bounced', reply: '550 5.1.1 User unknown' } : undefined,
  );
  sent = recorder.sent;
  kit = await createKit({ messenger: recorder.messenger });
  clock = Date.now();
  kit.services.now = () => new Date(clock);
  const people = ['reader', 'proxied', 'clicker', 'silent', 'bounce'].map((name) => newProfile({ email: `${name}@example.com` }));
  await kit.services.audience.upsertMany(people, 'test', new Date());
  for (const p of (await kit.services.audience.changesSince(0, 100)).profiles) ids.set(p.email.split('@')[0], p.id);
  const { contentHash } = await handOver(kit, 'spring', { ...SAMPLE_DELIVERY, name: 'Spring sale', html: HTML });
  await kit.request('/api/deliveries/spring/send', { json: { contentHash, scheduledAt: null } });
  await eventually(async () => (await kit.services.deliveries.status('spring')) === 'completed');
  clock += 10 * 60_000;
});
afterEach(() => kit.close());

const to = (name: string) => sent.find((m) => m.to === `${name}@example.com`)!;
const get = (url: string, userAgent = CHROME) => kit.app.request(url.slice(PUBLIC_URL.length), { headers: { 'user-agent': userAgent } });
const pixel = (m: OutgoingMessage) => /<img src="([^"]+)"/.exec(m.html)![1];
const firstLink = (m: OutgoingMessage) => /href="([^"]+)"/.exec(m.html)![1];
const engagement = async (days = 365) => (await (await kit.request(`/api/audience/engagement?days=${days}`)).json()) as EngagementSnapshot;
const sorted = (values: ArrayLike<number>) => [...Array.from(values)].sort((a, b) => a - b);
const idsOf = (...names: string[]) => sorted(names.map((n) => ids.get(n)!));

describe('engagement for the replica', () => {
  it('names who received, opened and clicked each delivery, a proxy’s open apart', async () => {
    await get(pixel(to('reader')));
    await get(pixel(to('proxied')), GMAIL_PROXY);
    clock += 60_000;
    expect((await get(firstLink(to('clicker')))).status).toBe(302); // a click counts as an open
    const snapshot = await engagement();
    expect(snapshot.deliveries).toHaveLength(1);
    const [spring] = snapshot.deliveries;
    expect(spring).toMatchObject({ deliveryId: 'spring', name: 'Spring sale' });
    expect(sorted(spring.received)).toEqual(idsOf('reader', 'proxied', 'clicker', 'silent')); // not the bounce
    expect(sorted(spring.opened)).toEqual(idsOf('reader', 'clicker'));
    expect(sorted(spring.clicked)).toEqual(idsOf('clicker'));
    expect(sorted(snapshot.lastOpen.ids)).toEqual(idsOf('reader', 'clicker'));
    const clickerAt = snapshot.lastClick.at[Array.from(snapshot.lastClick.ids).indexOf(ids.get('clicker')!)];
    expect(clickerAt).toBe(clock);
  });

  it('answers 304 to a replica that has it already, and the new snapshot once something changed', async () => {
    const first = await kit.request('/api/audience/engagement?days=365');
    const tag = first.headers.get('ETag')!;
    expect(tag).toMatch(/^"[0-9a-f]+"$/);
    const again = await kit.app.request('/api/audience/engagement?days=365', { headers: { cookie: kit.cookie, 'If-None-Match': tag } });
    expect(again.status).toBe(304);
    await get(pixel(to('reader')));
    const changed = await kit.app.request('/api/audience/engagement?days=365', { headers: { cookie: kit.cookie, 'If-None-Match': tag } });
    expect(changed.status).toBe(200);
    expect(changed.headers.get('ETag')).not.toBe(tag);
    expect(((await changed.json()) as EngagementSnapshot).deliveries[0].opened).toEqual([ids.get('reader')]);
  });

  it('leaves out deliveries that started before the window', async () => {
    await get(pixel(to('reader')));
    clock += 3 * 86_400_000;
    expect((await engagement(2)).deliveries).toEqual([]);
    expect((await engagement(4)).deliveries).toHaveLength(1);
  });

  it('is what a preparation of "received, did not open" targets', async () => {
    await get(pixel(to('reader')));
    await get(pixel(to('proxied')), GMAIL_PROXY);
    await get(firstLink(to('clicker')));
    const index = new EngagementIndex(await engagement());
    const audience = { kind: 'condition' as const, field: 'delivery', operator: 'notOpened' as const, value: 'spring' };
    const started = Preparation.start({ ...SAMPLE_DELIVERY, id: 'again', audience }, { typology: DEFAULT_TYPOLOGY, engagement: index });
    if (!started.ok) throw new Error('the preparation did not start');
    const profiles = (await kit.services.audience.changesSince(0, 100)).profiles;
    const { recipients } = started.preparation.addProfiles(profiles);
    const { last } = started.preparation.finish();
    expect([...recipients, ...last.recipients].map((r) => r.email).sort()).toEqual(['proxied@example.com', 'silent@example.com']);
  });
});
