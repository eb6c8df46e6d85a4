/**
 * Several relays: routing (the delivery's choice, then the From domain, then the order of
 * the settings), failover when a relay cannot be reached and its return, and the throttles
 * per recipient domain — first the routing messenger with a clock of its own, then the
 * engine through it (a throttle holding under load, deferred rows costing no attempt), then
 * over real TCP through the settings route: the main relay refuses connections and every
 * message arrives, once, through the second.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { freePort, startFaultRelay, type FaultRelay } from '../../test/support/relay';
import { createKit, eventually, handOver, newProfile, recordingMessenger, SAMPLE_DELIVERY, type Kit } from '../test-kit';
import type { OutgoingMessage } from './compose';
import type { Messenger, SmtpOutcome } from './messenger';
import { createRoutingMessenger, DOWN_MS, SlidingLimit, ThrottleLimits, type RelayRoute } from './relays';

const message = (to: string, from = 'news@shop.example.com', relayId?: string): OutgoingMessage => ({
  from: { name: 'Shop', address: from },
  to,
  subject: 'Hello',
  html: '<p>Hello</p>',
  text: 'Hello',
  messageId: `<${to}.test@shop.example.com>`,
  headers: {},
  relayId,
});

/** A relay that records what it was handed, answering `unsent` while `down` is set. */
function fakeRelay(id: string, fromDomains: string[] = []) {
  const handed: string[] = [];
  const state = { down: false };
  const messenger: Messenger = {
    async send(m): Promise<SmtpOutcome> {
      handed.push(m.to);
      if (state.down) return { kind: 'unsent', reply: 'connect ECONNREFUSED', relay: `The relay at ${id}:25 refuses connections` };
      return { kind: 'sent', reply: `250 ${id}` };
    },
    async probe() {
      return state.down ? { kind: 'unsent', reply: 'connect ECONNREFUSED', relay: `The relay at ${id}:25 refuses connections` } : null;
    },
    async close() {},
  };
  const route: RelayRoute = { id, name: id, messenger, fromDomains, ratePerSecond: 0 };
  return { route, handed, state };
}

describe('routing between relays', () => {
  it('sends by the delivery’s choice, then by the From domain, then through the first relay', async () => {
    const main = fakeRelay('main');
    const other = fakeRelay('other', ['club.example.org']);
    const routing = createRoutingMessenger([main.route, other.route], []);
    await routing.send(message('a@example.com'));
    await routing.send(message('b@example.com', 'hello@club.example.org'));
    await routing.send(message('c@example.com', 'news@shop.example.com', 'other'));
    await routing.send(message('d@example.com', 'hello@club.example.org', 'main'));
    expect(main.handed).toEqual(['a@example.com', 'd@example.com']);
    expect(other.handed).toEqual(['b@example.com', 'c@example.com']);
  });

  it('fails over to the next relay at once, passes the one down over, and tries it again after a while', async () => {
    let clock = 1_000_000;
    const lines: string[] = [];
    const main = fakeRelay('main');
    const backup = fakeRelay('backup');
    const routing = createRoutingMessenger([main.route, backup.route], [], { now: () => clock, log: (l) => lines.push(l) });
    main.state.down = true;
    expect(await routing.send(message('a@example.com'))).toEqual({ kind: 'sent', reply: '250 backup' });
    expect(await routing.send(message('b@example.com'))).toEqual({ kind: 'sent', reply: '250 backup' });
    expect(main.handed).toEqual(['a@example.com']); // passed over while it is down
    expect(lines).toEqual(['The relay at main:25 refuses connections (connect ECONNREFUSED): the next relay takes its messages.']);
    main.state.down = false;
    clock += DOWN_MS;
    await routing.send(message('c@example.com'));
    expect(main.handed).toEqual(['a@example.com', 'c@example.com']);
    expect(lines.at(-1)).toBe('Relay main answers again.');
  });

  it('tries a relay whose time down is up with one message at a time: the others go on through the next', async () => {
    let clock = 1_000_000;
    const main = fakeRelay('main');
    const backup = fakeRelay('backup');
    // The main relay, tried again with b, takes its time to answer it (as one that does not answer would).
    let answer: () => void = () => {};
    const slow: Messenger = {
      ...main.route.messenger,
      async send(m) {
        const outcome = await main.route.messenger.send(m);
        if (m.to === 'b@example.com') await new Promise<void>((resolve) => (answer = resolve));
        return outcome;
      },
    };
    const routing = createRoutingMessenger([{ ...main.route, messenger: slow }, backup.route], [], { now: () => clock });
    main.state.down = true;
    await routing.send(message('a@example.com')); // main down: through the backup
    main.state.down = false;
    clock += DOWN_MS;
    const first = routing.send(message('b@example.com')); // tries main again, and waits for it
    await new Promise((resolve) => setImmediate(resolve));
    expect(await routing.send(message('c@example.com'))).toEqual({ kind: 'sent', reply: '250 backup' });
    answer();
    expect(await first).toEqual({ kind: 'sent', reply: '250 main' });
    expect(main.handed).toEqual(['a@example.com', 'b@example.com']);
    expect(await routing.send(message('d@example.com'))).toEqual({ kind: 'sent', reply: '250 main' }); // up again
  });

  it('answers unsent, naming the trouble, only when no relay can be reached; the probe finds the one that can', async () => {
    const main = fakeRelay('main');
    const backup = fakeRelay('backup');
    const routing = createRoutingMessenger([main.route, backup.route], []);
    main.state.down = backup.state.down = true;
    expect(await routing.send(message('a@example.com'))).toMatchObject({
      kind: 'unsent',
      relay: 'No relay can be reached: the relay at backup:25 refuses connections',
    });
    // While both are down, a message is answered at once from what they said, without waiting on them again.
    expect(await routing.send(message('z@example.com'))).toMatchObject({ kind: 'unsent', relay: /^No relay can be reached/ });
    expect([main.handed, backup.handed]).toEqual([['a@example.com'], ['a@example.com']]);
    expect(await routing.probe!()).toMatchObject({ kind: 'unsent' });
    backup.state.down = false;
    expect(await routing.probe!()).toBeNull();
    expect(await routing.send(message('b@example.com'))).toEqual({ kind: 'sent', reply: '250 backup' });
  });
});

describe('throttles per recipient domain', () => {
  it('let at most N a minute through to the domains, across relays, and defer the rest to their turn', async () => {
    let clock = 5_000_000;
    const main = fakeRelay('main');
    const other = fakeRelay('other', ['club.example.org']);
    const routing = createRoutingMessenger([main.route, other.route], [{ domains: ['gmail.com', 'googlemail.com'], perMinute: 3 }], {
      now: () => clock,
    });
    const outcomes = [];
    for (let i = 0; i < 6; i++) {
      const to = i % 2 ? `p${i}@googlemail.com` : `p${i}@gmail.com`;
      outcomes.push(await routing.send(message(to, i < 3 ? 'news@shop.example.com' : 'hi@club.example.org')));
    }
    expect(outcomes.map((o) => o.kind)).toEqual(['sent', 'sent', 'sent', 'deferred', 'deferred', 'deferred']);
    expect(outcomes[3]).toEqual({ kind: 'deferred', until: 5_060_000, reply: 'deferred: at most 3 a minute to gmail.com, googlemail.com' });
    // At most 3 are told each minute: the fourth deferred comes back a minute later.
    const later = await routing.send(message('p6@gmail.com'));
    expect([outcomes[4], outcomes[5], later].map((o) => (o as { until: number }).until)).toEqual([5_060_000, 5_060_000, 5_120_000]);
    expect(await routing.send(message('x@yahoo.example'))).toMatchObject({ kind: 'sent' }); // other domains go on
    clock += 60_000;
    expect(await routing.send(message('p9@gmail.com'))).toMatchObject({ kind: 'sent' });
  });

  it('keep their minute across new messengers (a save of the settings, a node joining)', async () => {
    const limits = new ThrottleLimits();
    const throttles = [{ domains: ['gmail.com'], perMinute: 2 }];
    const first = createRoutingMessenger([fakeRelay('main').route], throttles, { limits, now: () => 0 });
    await first.send(message('a@gmail.com'));
    await first.send(message('b@gmail.com'));
    const second = createRoutingMessenger([fakeRelay('main').route], throttles, { limits, now: () => 1_000 });
    expect(await second.send(message('c@gmail.com'))).toMatchObject({ kind: 'deferred', until: 60_000 });
  });

  it('never let more than N into any window of the period, whatever the arrival times', () => {
    const limit = new SlidingLimit(5, 1_000);
    const given: number[] = [];
    let now = 0;
    for (let i = 0; i < 2_000; i++) {
      now += (i * 7919) % 13; // irregular arrivals, bursts and gaps
      const taken = limit.take(now, 250);
      if ('wait' in taken) given.push(now + taken.wait);
      else expect(taken.until - now).toBeGreaterThan(250);
    }
    given.sort((a, b) => a - b);
    for (let i = 5; i < given.length; i++) expect(given[i] - given[i - 5]).toBeGreaterThanOrEqual(1_000);
    expect(given.length).toBeGreaterThan(40);
  });
});

const kits: Kit[] = [];
const relays: FaultRelay[] = [];
afterEach(async () => {
  await Promise.all(kits.splice(0).map((k) => k.close()));
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});

describe('the engine through the relays', () => {
  it('holds a throttle under load: the other domains are all sent, the throttled rows wait their turn without an attempt', async () => {
    const recorder = recordingMessenger();
    const routing = createRoutingMessenger(
      [{ id: 'main', name: 'main', messenger: recorder.messenger, fromDomains: [], ratePerSecond: 0 }],
      [{ domains: ['slow.example'], perMinute: 5 }],
    );
    const kit = await createKit({ messenger: routing, engine: { concurrency: 8 } });
    kits.push(kit);
    const people = Array.from({ length: 40 }, (_, i) => newProfile({ email: `p${i}@${i % 4 === 0 ? 'slow' : 'fast'}.example` }));
    await kit.services.audience.upsertMany(people, 'test', new Date());
    const { contentHash } = await handOver(kit, 'd', SAMPLE_DELIVERY);
    const sendingAt = Date.now();
    await kit.request('/api/deliveries/d/send', { json: { contentHash, scheduledAt: null } });
    await eventually(() => recorder.sent.filter((m) => m.to.endsWith('@fast.example')).length === 30);
    const waiting = await eventually(async () => {
      const rows = await kit.sql<{ attempts: number; next: number }>(
        "SELECT attempts, next_attempt_at AS next FROM journal WHERE delivery_id = 'd' AND status = 'retrying'",
      );
      return rows.length === 5 ? rows : null;
    });
    expect(recorder.sent.filter((m) => m.to.endsWith('@slow.example'))).toHaveLength(5);
    for (const row of waiting!) {
      expect(row.attempts).toBe(0); // a deferral is no attempt
      expect(Number(row.next)).toBeGreaterThanOrEqual(sendingAt + 59_000);
    }
    expect(await kit.services.deliveries.status('d')).toBe('sending'); // no failure budget spent on a limit of ours
  });

  it('sends a delivery through the relay chosen for it, carried by its hand-off', async () => {
    const main = recordingMessenger();
    const second = recordingMessenger();
    const routing = createRoutingMessenger(
      [
        { id: 'main', name: 'main', messenger: main.messenger, fromDomains: [], ratePerSecond: 0 },
        { id: 'second', name: 'second', messenger: second.messenger, fromDomains: [], ratePerSecond: 0 },
      ],
      [],
    );
    const kit = await createKit({ messenger: routing });
    kits.push(kit);
    await kit.services.audience.upsertMany([newProfile(), newProfile(), newProfile()], 'test', new Date());
    for (const [id, relayId] of [
      ['chosen', 'second'],
      ['automatic', null],
    ] as const) {
      const { contentHash } = await handOver(kit, id, { ...SAMPLE_DELIVERY, relayId });
      await kit.request(`/api/deliveries/${id}/send`, { json: { contentHash, scheduledAt: null } });
      await eventually(async () => (await kit.services.deliveries.status(id)) === 'completed');
    }
    expect(second.sent.map((m) => m.headers['X-Mailroom-Delivery'])).toEqual(['chosen', 'chosen', 'chosen']);
    expect(main.sent.map((m) => m.headers['X-Mailroom-Delivery'])).toEqual(['automatic', 'automatic', 'automatic']);
  });

  it('refuses relays and throttles it cannot use, saying why, and keeps the settings as they were', async () => {
    const kit = await createKit();
    kits.push(kit);
    const relay = {
      id: 'second',
      name: 'Second',
      url: 'smtp://relay2.example.com:587',
      connections: 2,
      messagesPerConnection: 100,
      ratePerSecond: 0,
    };
    const base = { relayUrl: null, connections: 5, messagesPerConnection: 100, ratePerSecond: 0, dkim: null, relays: [], throttles: [] };
    const refused = async (json: unknown) => {
      const answer = await kit.request('/api/settings', { method: 'PUT', json });
      expect(answer.status).toBe(400);
      return (await answer.json()).message as string;
    };
    expect(await refused({ ...base, relays: [relay, { ...relay, name: 'Again' }] })).toContain('each relay needs an id of its own');
    expect(await refused({ ...base, relays: [{ ...relay, id: 'main' }] })).toContain('each relay needs an id of its own');
    expect(await refused({ ...base, relays: [{ ...relay, url: 'http://relay2.example.com' }] })).toContain(
      'the relay must look like smtp://',
    );
    expect(await refused({ ...base, relays: [{ ...relay, fromDomains: ['not a domain'] }] })).toContain('a domain looks like example.com');
    expect(
      await refused({
        ...base,
        throttles: [
          { domains: ['gmail.com'], perMinute: 600 },
          { domains: ['GMAIL.com', 'googlemail.com'], perMinute: 300 },
        ],
      }),
    ).toContain('a domain can be in one throttle only');
    expect(await refused({ ...base, throttles: [{ domains: ['gmail.com'], perMinute: 0 }] })).toContain('throttles.0.perMinute');
    expect(await (await kit.request('/api/settings')).json()).toMatchObject({ relays: [], throttles: [] });
  });

  it('fails over for real: the main relay refuses connections, and every message arrives once through the second', async () => {
    const lines: string[] = [];
    const kit = await createKit({ log: (line) => lines.push(line) });
    kits.push(kit);
    const second = await startFaultRelay();
    relays.push(second);
    const refused = await freePort();
    const body = {
      relayUrl: `smtp://127.0.0.1:${refused}`,
      connections: 2,
      messagesPerConnection: 100,
      ratePerSecond: 0,
      dkim: null,
      relays: [
        {
          id: 'second',
          name: 'Second relay',
          url: `smtp://127.0.0.1:${second.port}`,
          connections: 2,
          messagesPerConnection: 100,
          ratePerSecond: 0,
          fromDomains: [],
        },
      ],
      throttles: [],
    };
    const saved = await kit.request('/api/settings', { method: 'PUT', json: body });
    expect(saved.status).toBe(200);
    const people = Array.from({ length: 12 }, (_, i) => newProfile({ email: `reader${i}@example.com` }));
    await kit.services.audience.upsertMany(people, 'test', new Date());
    const { contentHash } = await handOver(kit, 'f', SAMPLE_DELIVERY);
    await kit.request('/api/deliveries/f/send', { json: { contentHash, scheduledAt: null } });
    await eventually(async () => (await kit.services.deliveries.status('f')) === 'completed', 15_000);
    expect([...second.received.keys()].sort()).toEqual(people.map((p) => p.email).sort());
    expect([...second.received.values()].every((n) => n === 1)).toBe(true);
    // At once, message by message: the engine never saw the relays as unreachable.
    expect(lines.filter((l) => /no message is claimed until it answers again/.test(l))).toEqual([]);
    expect(lines).toContainEqual(expect.stringMatching(/refuses connections .*: the next relay takes its messages\./));
    const [audit] = (await (await kit.request('/api/audit?action=settings-changed')).json()).entries;
    expect(audit.detail).toContain(`the further relays (now Second relay at 127.0.0.1:${second.port})`);
    // A further relay's password changed alone is audited by name, never quoted.
    const withLogin = (pass: string) => ({
      ...body,
      relays: [{ ...body.relays[0], url: `smtp://mailroom:${pass}@127.0.0.1:${second.port}` }],
    });
    expect((await kit.request('/api/settings', { method: 'PUT', json: withLogin('first-secret') })).status).toBe(200);
    expect((await kit.request('/api/settings', { method: 'PUT', json: withLogin('second-secret') })).status).toBe(200);
    const [changed] = (await (await kit.request('/api/audit?action=settings-changed')).json()).entries;
    expect(changed.detail).toBe('Changed the password of Second relay.');
    expect(JSON.stringify(await (await kit.request('/api/settings')).json())).not.toContain('secret');
  });
});
