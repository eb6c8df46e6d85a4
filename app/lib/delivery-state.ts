/** What a delivery's dashboard shows and allows, derived from what the app knows about it. */

import type { SendItem, StoredPreparation } from './db/db';
import type { DeliveryStatus, SendKpis } from '$shared/types';

export type DeliveryState =
  | { kind: 'draft' }
  | { kind: 'stale'; previous: StoredPreparation['status'] }
  | { kind: 'prepared' }
  | { kind: 'failed' }
  | { kind: 'outbox'; item: SendItem }
  | { kind: 'server'; status: DeliveryStatus; kpis: SendKpis };

/** Returns the delivery's state: the server's word once handed over, else the outbox, else the preparation. */
export function deliveryState(input: {
  server: SendKpis | null;
  outbox: SendItem | undefined;
  preparation: StoredPreparation | undefined;
  currentHash: string;
}): DeliveryState {
  if (input.server) return { kind: 'server', status: input.server.status, kpis: input.server };
  if (input.outbox) return { kind: 'outbox', item: input.outbox };
  const { preparation } = input;
  if (!preparation) return { kind: 'draft' };
  if (preparation.contentHash !== input.currentHash) return { kind: 'stale', previous: preparation.status };
  return preparation.status === 'prepared' ? { kind: 'prepared' } : { kind: 'failed' };
}

export const STATE_LABELS: Record<DeliveryState['kind'] | DeliveryStatus, string> = {
  draft: 'Draft',
  stale: 'Needs a new preparation',
  prepared: 'Prepared',
  failed: 'Preparation failed',
  outbox: 'Waiting to send',
  server: 'On the server',
  preparing: 'Preparing',
  scheduled: 'Scheduled',
  sending: 'Sending',
  paused: 'Paused',
  stopped: 'Stopped',
  completed: 'Sent',
};

/** Returns the label of a state for badges and lists. */
export function stateLabel(state: DeliveryState): string {
  return state.kind === 'server' ? STATE_LABELS[state.status] : STATE_LABELS[state.kind];
}
