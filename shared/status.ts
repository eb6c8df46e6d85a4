/** Delivery status transitions: the one table every part of Mailroom consults. */

import type { DeliveryStatus } from './types';

const NEXT: Record<DeliveryStatus, readonly DeliveryStatus[]> = {
  draft: ['preparing'],
  preparing: ['prepared', 'failed', 'draft'],
  prepared: ['draft', 'preparing', 'scheduled', 'sending'],
  failed: ['draft', 'preparing'],
  // Unschedule takes a scheduled delivery back to prepared: its journal rows stay queued.
  scheduled: ['sending', 'paused', 'stopped', 'prepared'],
  sending: ['paused', 'stopped', 'completed'],
  paused: ['sending', 'scheduled', 'stopped'],
  stopped: [],
  completed: [],
};

/** Returns true when a delivery in status `from` may move to `to`. */
export function canTransition(from: DeliveryStatus, to: DeliveryStatus): boolean {
  return NEXT[from].includes(to);
}

/** Returns true when the delivery has ended for good. */
export function isFinal(status: DeliveryStatus): boolean {
  return NEXT[status].length === 0;
}
