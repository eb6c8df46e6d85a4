/** Every store over one PostgreSQL database, shared by any number of nodes (see ../stores.ts). */

import { PostgresBus } from '../../live/postgres-bus';
import { maskUrl, type Stores } from '../stores';
import { postgresAudienceStore } from './audience';
import { postgresAssetStore } from './assets';
import { postgresAuditStore } from './audit';
import { postgresWebhookStore } from './webhooks';
import { postgresSubscriberStore } from './subscribers';
import { postgresLateOutcomeStore } from './late-outcomes';
import { numbered, openPostgres } from './database';
import { postgresDeliveryStore } from './deliveries';
import { postgresSendJournal } from './journal';
import { postgresMailboxStore } from './mailbox';
import { postgresNodeStore } from './nodes';
import { postgresOperatorStore } from './operators';
import { postgresReportStore } from './reports';
import { postgresSettingsStore } from './settings';
import { postgresTrackingStore } from './tracking';
import { postgresWorkStore } from './work';

export async function openPostgresStores(url: string, nodeId: string, liveIntervalMs?: number): Promise<Stores> {
  const { sql, created } = await openPostgres(url);
  const tracking = postgresTrackingStore(sql);
  const flushEvents = () => tracking.flush();
  const bus = await PostgresBus.open(sql, liveIntervalMs);
  return {
    engine: 'postgres',
    location: maskUrl(url),
    nodeId,
    created,
    audience: postgresAudienceStore(sql),
    deliveries: postgresDeliveryStore(sql, flushEvents),
    journal: postgresSendJournal(sql, nodeId, flushEvents),
    tracking,
    reports: postgresReportStore(sql, flushEvents),
    operators: postgresOperatorStore(sql),
    settings: postgresSettingsStore(sql),
    mailbox: postgresMailboxStore(sql),
    nodes: postgresNodeStore(sql),
    audit: postgresAuditStore(sql),
    webhooks: postgresWebhookStore(sql),
    subscribers: postgresSubscriberStore(sql),
    lateOutcomes: postgresLateOutcomeStore(sql),
    assets: postgresAssetStore(sql),
    work: postgresWorkStore(sql),
    bus,
    async ping() {
      await sql`SELECT count(*) FROM meta`;
    },
    query: async <T>(text: string, params: readonly unknown[] = []) =>
      (await sql.unsafe(numbered(text), params as never[])) as unknown as T[],
    async close() {
      await tracking.flush().catch(() => undefined);
      bus.close();
      await sql.end({ timeout: 5 });
    },
  };
}
