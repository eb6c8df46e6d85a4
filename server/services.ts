/** Everything a request handler may use, built once at start and handed to the app. */

import type { LiveBus } from './live/live-bus';
import type { SendEngine } from './sending/engine';
import type { Messenger } from './sending/messenger';
import type { AudienceStore } from './store/audience-store';
import type { Db } from './store/database';
import type { DeliveryStore } from './store/delivery-store';
import type { MailboxStore } from './store/mailbox-store';
import type { OperatorStore } from './store/operator-store';
import type { SendJournal } from './store/send-journal';
import type { TrackingStore } from './store/tracking-store';
import type { TokenSigner } from './tracking/tokens';

export interface Services {
  db: Db;
  audience: AudienceStore;
  deliveries: DeliveryStore;
  journal: SendJournal;
  tracking: TrackingStore;
  operators: OperatorStore;
  mailbox: MailboxStore;
  engine: SendEngine;
  /** The pooled SMTP transport the engine sends through; proofs use it too. */
  messenger: Messenger;
  bus: LiveBus;
  signer: TokenSigner;
  /** Where the built app lives (index.html and assets); null to serve the API only. */
  appDir: string | null;
  /** True when the server is reached over https: session cookies are then Secure. */
  secureCookies: boolean;
  now: () => Date;
}

export type AppEnv = { Variables: { services: Services; user: string } };
