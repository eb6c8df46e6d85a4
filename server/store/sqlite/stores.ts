/** Every store over one SQLite file (see ../stores.ts). */

import { existsSync } from 'node:fs';
import { InProcessBus } from '../../live/live-bus';
import type { Stores } from '../stores';
import { sqliteAudienceStore } from './audience';
import { sqliteAssetStore } from './assets';
import { sqliteAuditStore } from './audit';
import { sqliteWebhookStore } from './webhooks';
import { sqliteSubscriberStore } from './subscribers';
import { sqliteLateOutcomeStore } from './late-outcomes';
import { openDatabase } from './database';
import { sqliteDeliveryStore } from './deliveries';
import { sqliteSendJournal } from './journal';
import { sqliteMailboxStore } from './mailbox';
import { sqliteNodeStore } from './nodes';
import { sqliteOperatorStore } from './operators';
import { sqliteReportStore } from './reports';
import { sqliteSettingsStore } from './settings';
import { sqliteTrackingStore } from './tracking';
import { sqliteWorkStore } from './work';

export async function openSqliteStores(file: string, nodeId: string, liveIntervalMs?: number): Promise<Stores> {
  const created = file === ':memory:' || !existsSync(file);
  const db = await openDatabase(file);
  const tracking = sqliteTrackingStore(db);
  const flushEvents = () => tracking.flush();
  const bus = new InProcessBus(liveIntervalMs);
  return {
    engine: 'sqlite',
    location: file,
    nodeId,
    created,
    audience: sqliteAudienceStore(db),
    deliveries: sqliteDeliveryStore(db, flushEvents),
    journal: sqliteSendJournal(db, nodeId, flushEvents),
    tracking,
    reports: sqliteReportStore(db, flushEvents),
    operators: sqliteOperatorStore(db),
    settings: sqliteSettingsStore(db),
    mailbox: sqliteMailboxStore(db),
    nodes: sqliteNodeStore(db),
    audit: sqliteAuditStore(db),
    webhooks: sqliteWebhookStore(db),
    subscribers: sqliteSubscriberStore(db),
    lateOutcomes: sqliteLateOutcomeStore(db),
    assets: sqliteAssetStore(db),
    work: sqliteWorkStore(db),
    bus,
    async ping() {
      db.prepare('SELECT count(*) FROM meta').pluck().get();
    },
    async query<T>(text: string, params: readonly unknown[] = []) {
      const statement = db.prepare(text);
      return (statement.reader ? statement.all(...params) : (statement.run(...params), [])) as T[];
    },
    async close() {
      await tracking.flush();
      bus.close();
      db.close();
    },
  };
}
