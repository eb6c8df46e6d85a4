/**
 * Opens, clicks and unsubscribes as the server counts and reports them: people apart from
 * machines, unique apart from total, over time, per link, per failure reason, and the
 * per-recipient log with its CSV export (the excluded with their rules: routes/deliveries.test.ts).
 * Tracking URLs are taken from the sent messages.
 */

import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createKit, eventually, handOver, newProfile, PUBLIC_URL, recordingMessenger, SAMPLE_DELIVERY, type Kit } from '../test-kit';
import type { OutgoingMessage } from '../sending/compose';
import type { SendKpis } from '../../shared/types';
import { DEFAULT_TYPOLOGY } from '../../shared/typology';

const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const GMAIL_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const HTML =
  '<html><body><p>Hi {{ first_name }}</p><a href="https://shop.example.com/coats">Coats</a> <a href="https://shop.example.com/boots">Boots</a> ' +
  '<a href="https://shop.example.com/hats">Hats</a> <a href="{{ unsubscribe_url }}">Unsubscribe</a></body></html>';

let kit: Kit;
let sent: OutgoingMessage[];
let clock = Date.now();
/** While set, messages of the delivery "later" wait for it: that delivery is running, mid-way. */
let gate: Promise<void> | null = null;

beforeEach(async () => {
  gate = null;
  const recorder = recordingMessenger(async (message) => {
    if (gate && message.headers['X-Mailroom-Delivery'] === 'later') await gate;
    if (message.to.startsWith('bounce'))
      return { kind: 'bounced', reply: `550 5.1.1 <${message.to}>: Recipient address rejected: User unknown` };
    if (message.to.startsWith('policy')) return { kind: 'failed', reply: '554 5.7.1 Message rejected as spam' };
  });
  sent = recorder.sent;
  kit = await createKit({ messenger: recorder.messenger, engine: { concurrency: 4 } });
  clock = Date.now();
  kit.services.now = () => new Date(clock);
  await kit.services.audience.upsertMany(
    [
      ...Array.from({ length: 6 }, () => newProfile()),
      newProfile({ email: 'bounce.one@example.com' }),
      newProfile({ email: 'bounce.two@example.com' }),
      newProfile({ email: 'policy@example.com' }),
    ],
    'test',
    new Date(),
  );
  const { contentHash } = await handOver(kit, 'r', { ...SAMPLE_DELIVERY, html: HTML });
  await kit.request('/api/deliveries/r/send', { json: { contentHash, scheduledAt: null } });
  await eventually(async () => (await kit.services.deliveries.status('r')) === 'completed');
  clock += 10 * 60_000; // people read their mail ten minutes later
});
afterEach(() => kit.close());

const message = (n: number) => sent.filter((m) => !/^(bounce|policy)/.test(m.to))[n];
const links = (m: OutgoingMessage) => [...m.html.matchAll(/href="([^"]+)"/g)].map((match) => match[1].slice(PUBLIC_URL.length));
const pixel = (m: OutgoingMessage) => /<img src="([^"]+)"/.exec(m.html)![1].slice(PUBLIC_URL.length);
const get = (path: string, userAgent = CHROME) => kit.app.request(path, { headers: { 'user-agent': userAgent } });
const kpis = async () => (await (await kit.request('/api/deliveries/r')).json()) as SendKpis;

describe('opens and clicks', () => {
  it('count people once each (unique) and every time (total), with the first and last time', async () => {
    await get(pixel(message(0)));
    clock += 60_000;
    await get(pixel(message(0)));
    await get(pixel(message(1)));
    clock += 60_000;
    expect((await get(links(message(0))[0])).status).toBe(302);
    clock += 5_000;
    await get(links(message(0))[0]);
    await get(links(message(2))[1]); // a click without the images shown also counts as an open
    expect(await kpis()).toMatchObject({ opens: 3, totalOpens: 4, clicks: 2, totalClicks: 3, machineOpens: 0, machineClicks: 0 });
    const figures = await kpis();
    expect(Date.parse(figures.lastOpenAt!) - Date.parse(figures.firstOpenAt!)).toBe(125_000); // the last: the click on message 2
    expect(Date.parse(figures.lastClickAt!) - Date.parse(figures.firstClickAt!)).toBe(5_000);
  });

  it('keep privacy proxies and link scanners apart, so Opens and Clicks mean people', async () => {
    await get(pixel(message(0)), GMAIL_PROXY);
    await get(pixel(message(1)), 'Mozilla/5.0'); // Apple Mail Privacy Protection
    // A scanner follows every link of a message within a second, with a browser's agent.
    for (const link of links(message(2)).slice(0, 3)) await get(link);
    await get(links(message(3))[0], 'Mozilla/5.0 (compatible; SafeLinks)');
    // The scanner's first click looked like a person's open until its burst gave it away: that open is the scanner's too.
    expect(await kpis()).toMatchObject({ opens: 0, clicks: 0, machineOpens: 3, machineClicks: 4 });
    // The person behind message 2 reads it a minute later: that counts.
    clock += 60_000;
    await get(links(message(2))[0]);
    expect(await kpis()).toMatchObject({ opens: 1, clicks: 1 });
  });

  it('treat a click in the first seconds after delivery as a scanner', async () => {
    const [first] = await kit.sql<{ email: string; updated_at: string }>(
      "SELECT email, updated_at FROM journal WHERE status = 'sent' ORDER BY id LIMIT 1",
    );
    clock = Date.parse(first.updated_at);
    await get(links(sent.find((m) => m.to === first.email)!)[0]);
    expect(await kpis()).toMatchObject({ clicks: 0, machineClicks: 1 });
  });
});

describe('reports', () => {
  it('give opens and clicks by minute, top links, failures by reason and exclusions by cause', async () => {
    await get(pixel(message(0)));
    await get(links(message(0))[1]);
    clock += 120_000;
    await get(pixel(message(1)));
    await get(links(message(1))[1]);
    await get(links(message(1))[0]);
    const report = await (await kit.request('/api/deliveries/r/report')).json();
    expect(report.bucket).toBe('minute');
    expect(report.timeline.map((p: { opens: number; clicks: number }) => [p.opens, p.clicks])).toEqual([
      [1, 1],
      [1, 2],
    ]);
    expect(Date.parse(report.timeline[1].at) - Date.parse(report.timeline[0].at)).toBe(120_000);
    expect(report.topLinks).toEqual([
      { url: 'https://shop.example.com/boots', clickers: 2, clicks: 2 },
      { url: 'https://shop.example.com/coats', clickers: 1, clicks: 1 },
    ]);
    expect(report.failuresByReason).toEqual([
      { reason: '5.1.1 recipient address rejected: user', count: 2 },
      { reason: '5.7.1 message rejected as spam', count: 1 },
    ]);
    expect(report.exclusionsByCause).toEqual([]);
  });

  it('list every recipient with status, reply, opened and clicked; filter, search and export as CSV', async () => {
    await get(pixel(message(0)));
    await get(links(message(1))[0]);
    const list = async (query: string) =>
      ((await (await kit.request(`/api/deliveries/r/recipients?${query}`)).json()).recipients as { email: string; status: string }[]).map(
        (r) => `${r.email} ${r.status}`,
      );
    expect(await list('status=bounced')).toEqual(['bounce.one@example.com bounced', 'bounce.two@example.com bounced']);
    // Listed in batch order, which is not the order the relay received them in.
    expect((await list('status=opened')).sort()).toEqual([`${message(0).to} sent`, `${message(1).to} sent`].sort());
    expect(await list('status=clicked')).toEqual([`${message(1).to} sent`]);
    expect(await list('q=POLICY')).toEqual(['policy@example.com failed']);
    expect(await list('limit=3')).toHaveLength(3);
    expect((await kit.request('/api/deliveries/r/recipients?status=nonsense')).status).toBe(400);

    const csv = await kit.request('/api/deliveries/r/recipients.csv?status=bounced');
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe('attachment; filename="Autumn-recipients.csv"');
    const lines = (await csv.text()).trim().split('\r\n');
    expect(lines[0]).toBe('seq,email,status,smtp_reply,attempts,opened,clicked,updated_at,rule,cause');
    expect(lines).toHaveLength(3);
    // A recipient was excluded by no rule: the last two cells are empty.
    expect(lines[1]).toMatch(
      /^\d+,bounce\.one@example\.com,bounced,550 5\.1\.1 <bounce\.one@example\.com>: Recipient address rejected: User unknown,1,no,no,[^,]+,,$/,
    );
  });
});

describe('unsubscribe', () => {
  it('in one click suppresses the profile at once: a delivery that is sending skips it', async () => {
    // Prepared and handed over before the unsubscribe: the profile is in its batch.
    const { contentHash, recipients } = await handOver(kit, 'later', SAMPLE_DELIVERY);
    const last = recipients.at(-1)!;
    const m = sent.find((s) => s.to === last.email)!;
    let open!: () => void;
    gate = new Promise((resolve) => (open = resolve));
    sent.length = 0;
    await kit.request('/api/deliveries/later/send', { json: { contentHash, scheduledAt: null } });
    await eventually(() => sent.length > 0); // sending, the first messages held at the relay
    expect(await kit.services.deliveries.status('later')).toBe('sending');

    const url = /<(https?:[^>]+)>/.exec(m.headers['List-Unsubscribe'])![1].slice(PUBLIC_URL.length);
    const response = await kit.app.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('Unsubscribed.');
    expect((await kpis()).unsubscribes).toBe(1);
    open();
    await eventually(async () => (await kit.services.deliveries.status('later')) === 'completed');
    expect(sent.map((s) => s.to)).not.toContain(last.email);
    expect((await (await kit.request('/api/deliveries/later')).json()).excludedAtSend).toBe(1);
  });
});

describe('control group', () => {
  it('is never mailed, and the report compares it with the recipients on later deliveries and unsubscribes', async () => {
    await kit.services.audience.upsertMany(
      Array.from({ length: 40 }, () => newProfile()),
      'test',
      new Date(),
    );
    const typology = {
      ...DEFAULT_TYPOLOGY,
      id: 'held',
      name: 'With a control group',
      rules: [
        ...DEFAULT_TYPOLOGY.rules,
        { id: 'cg', name: 'Control group', kind: 'holdout' as const, share: { count: 10 }, among: null, enabled: true },
      ],
    };
    sent.length = 0;
    const held = await handOver(kit, 'cg', SAMPLE_DELIVERY, { typology });
    const control = held.exclusions.filter((e) => e.cause === 'control-group');
    expect(control).toHaveLength(10);
    await kit.request('/api/deliveries/cg/send', { json: { contentHash: held.contentHash, scheduledAt: null } });
    await eventually(async () => (await kit.services.deliveries.status('cg')) === 'completed');
    const heldOut = new Set(control.map((e) => e.email));
    expect(sent.filter((m) => heldOut.has(m.to))).toEqual([]);
    const report = async () => (await (await kit.request('/api/deliveries/cg/report')).json()).controlGroup;
    const delivered = (await kit.sql<{ n: number }>("SELECT COUNT(*) AS n FROM journal WHERE delivery_id = 'cg' AND status = 'sent'"))[0].n;
    const nobody = { unsubscribed: 0, openedLater: 0, clickedLater: 0 };
    expect(await report()).toMatchObject({
      recipients: { people: Number(delivered), ...nobody },
      control: { people: 10, ...nobody },
      laterDeliveries: 0,
    });

    // A later delivery to everyone: two of the control group and five recipients click it, one of the control group leaves the list.
    clock += 60 * 60_000;
    sent.length = 0;
    const next = await handOver(kit, 'next', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/next/send', { json: { contentHash: next.contentHash, scheduledAt: null } });
    await eventually(async () => (await kit.services.deliveries.status('next')) === 'completed');
    clock += 10 * 60_000;
    const to = (email: string) => sent.find((m) => m.to === email)!;
    const recipients = sent.filter((m) => !heldOut.has(m.to) && !/^(bounce|policy)/.test(m.to));
    for (const email of [...heldOut].slice(0, 2)) expect((await get(links(to(email))[0])).status).toBe(302);
    for (const m of recipients.slice(0, 5)) await get(links(m)[0]);
    await get(pixel(recipients[5])); // an open alone
    const leaving = to([...heldOut][2]);
    const url = /<(https?:[^>]+)>/.exec(leaving.headers['List-Unsubscribe'])![1].slice(PUBLIC_URL.length);
    await kit.app.request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'List-Unsubscribe=One-Click',
    });

    expect(await report()).toMatchObject({
      recipients: { people: Number(delivered), unsubscribed: 0, openedLater: 6, clickedLater: 5 },
      control: { people: 10, unsubscribed: 1, openedLater: 2, clickedLater: 2 },
      laterDeliveries: 1,
    });
    // The delivery without a control group has none to report.
    expect((await (await kit.request('/api/deliveries/next/report')).json()).controlGroup).toBeNull();
  });
});
