/**
 * Several nodes (kits: the real app and engine each, with a node id of its own) on one
 * PostgreSQL database: a scheduled delivery starts once, on one of them, and its recipients
 * are spread over all; settings saved on one node are used by the others. Only in the
 * unit-pg project.
 */

import { afterEach, describe, expect, it } from 'vitest';
import { startFaultRelay, type FaultRelay } from '../../test/support/relay';
import { createKit, eventually, handOver, newProfile, recordingMessenger, SAMPLE_DELIVERY, testDatabaseUrl, type Kit } from '../test-kit';

const kits: Kit[] = [];
const relays: FaultRelay[] = [];
afterEach(async () => {
  await Promise.all(kits.splice(0).map((k) => k.close()));
  await Promise.all(relays.splice(0).map((r) => r.stop()));
});

describe('nodes sharing one PostgreSQL database', () => {
  it('start a scheduled delivery once, on one node, and share its recipients', async () => {
    const databaseUrl = await testDatabaseUrl();
    const events: string[] = [];
    const nodes = await Promise.all(
      [1, 2, 3].map(async () => {
        const recorder = recordingMessenger(async () => {
          await new Promise((resolve) => setTimeout(resolve, 2));
        });
        const kit = await createKit({
          databaseUrl,
          messenger: recorder.messenger,
          engine: { batchSize: 6, concurrency: 6 },
          log: (_line, event) => {
            if (event?.event) events.push(event.event);
          },
        });
        kits.push(kit);
        return { kit, sent: recorder.sent };
      }),
    );
    const [first] = nodes;
    await first.kit.services.audience.upsertMany(
      Array.from({ length: 300 }, () => newProfile()),
      'test',
      new Date(),
    );
    const { contentHash, recipients } = await handOver(first.kit, 'sched', SAMPLE_DELIVERY);
    const at = new Date(Date.now() + 1_500).toISOString();
    expect((await first.kit.request('/api/deliveries/sched/send', { json: { contentHash, scheduledAt: at } })).status).toBe(200);
    await eventually(async () => (await first.kit.services.deliveries.status('sched')) === 'completed', 20_000);

    // Each node's engine saw the time come; one of them started it.
    expect(events.filter((e) => e === 'schedule-due')).toHaveLength(1);
    const all = nodes.flatMap((n) => n.sent.map((m) => m.to));
    expect(all).toHaveLength(recipients.length);
    expect(new Set(all).size).toBe(recipients.length);
    expect(nodes.filter((n) => n.sent.length > 0).length).toBeGreaterThan(1);
  }, 30_000);

  it('use the settings saved on any node: the others switch to the new relay', async () => {
    const databaseUrl = await testDatabaseUrl();
    const relay = await startFaultRelay();
    relays.push(relay);
    const a = await createKit({ databaseUrl });
    const b = await createKit({ databaseUrl });
    kits.push(a, b);
    const settings = {
      relayUrl: `smtp://127.0.0.1:${relay.port}`,
      connections: 4,
      messagesPerConnection: 50,
      ratePerSecond: 0,
      dkim: null,
    };
    expect((await a.request('/api/settings', { method: 'PUT', json: settings })).status).toBe(200);
    // B hears of it through the bus and reads the settings of record.
    await eventually(async () => (await (await b.request('/api/settings')).json()).connections === 4);
    expect(await (await b.request('/api/settings')).json()).toMatchObject({ relayUrl: settings.relayUrl, messagesPerConnection: 50 });

    // And sends through it: with A gone, a delivery started on B reaches the relay, every recipient once.
    await a.close();
    kits.splice(kits.indexOf(a), 1);
    await b.services.audience.upsertMany(
      Array.from({ length: 20 }, () => newProfile()),
      'test',
      new Date(),
    );
    const { contentHash, recipients } = await handOver(b, 'via-b', SAMPLE_DELIVERY);
    await b.request('/api/deliveries/via-b/send', { json: { contentHash, scheduledAt: null } });
    await eventually(async () => (await b.services.deliveries.status('via-b')) === 'completed', 10_000);
    expect(recipients.every((r) => relay.received.get(r.email) === 1)).toBe(true);
    expect(relay.received.size).toBe(recipients.length);
  }, 30_000);
});
