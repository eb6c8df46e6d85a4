/** What a delivery's dashboard shows and allows, derived from what the app knows about it. */

import type { SendItem, StoredPreparation } from './db/db';
import type { DeliveryStatus, SendKpis } from '$shared/types';
import { i18n, m } from '$lib/i18n.svelte';

export type DeliveryState =
  | { kind: 'draft' }
  | { kind: 'stale'; previous: StoredPreparation['status'] }
  | { kind: 'prepared' }
  | { kind: 'failed' }
  | { kind: 'outbox'; item: SendItem }
  | { kind: 'server'; status: DeliveryStatus; kpis: SendKpis };

/**
 * Returns the delivery's state: the server's word once it sends (or will send) it, else the
 * outbox, else the preparation. A server that only holds the batch (`prepared`: a hand-over
 * cancelled half-way, or a delivery unscheduled) does not decide anything: the delivery is
 * the app's again, to send, schedule or edit, and the next Send replaces what the server holds.
 */
export function deliveryState(input: {
  server: SendKpis | null;
  outbox: SendItem | undefined;
  preparation: StoredPreparation | undefined;
  currentHash: string;
}): DeliveryState {
  if (input.server && input.server.status !== 'prepared') return { kind: 'server', status: input.server.status, kpis: input.server };
  if (input.outbox) return { kind: 'outbox', item: input.outbox };
  const { preparation } = input;
  if (!preparation) return { kind: 'draft' };
  if (preparation.contentHash !== input.currentHash) return { kind: 'stale', previous: preparation.status };
  return preparation.status === 'prepared' ? { kind: 'prepared' } : { kind: 'failed' };
}

/** Each state's label, in the app's language when called. */
export const STATE_LABELS: Record<DeliveryState['kind'] | DeliveryStatus, () => string> = {
  draft: m.deliveries_state_draft,
  stale: m.deliveries_state_stale,
  prepared: m.deliveries_state_prepared,
  failed: m.deliveries_state_failed,
  outbox: m.deliveries_state_outbox,
  server: m.deliveries_state_server,
  preparing: m.deliveries_state_preparing,
  scheduled: m.deliveries_state_scheduled,
  sending: m.deliveries_state_sending,
  paused: m.deliveries_state_paused,
  stopped: m.deliveries_state_stopped,
  completed: m.deliveries_state_completed,
};

/** Returns the label of a state for badges and lists, in the app's language. */
export function stateLabel(state: DeliveryState): string {
  return state.kind === 'server' ? STATE_LABELS[state.status]() : STATE_LABELS[state.kind]();
}

/**
 * Returns a moment as a sentence names it, in the locale and time zone given (the app's
 * locale tag and the browser's time zone by default): "Tue 1 Dec at 19:04" in en-GB,
 * "Tue, Dec 1 at 7:04 PM" in en-US, "di 1 dec om 19:04" in nl; the year only when it is not
 * the year of `now`.
 */
export function formatWhen(at: Date, options: { locale?: string; timeZone?: string; now?: Date } = {}): string {
  const { locale = i18n.tag, timeZone, now = new Date() } = options;
  const year = (d: Date) => new Intl.DateTimeFormat('en', { year: 'numeric', timeZone }).format(d);
  const day = new Intl.DateTimeFormat(locale, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: year(at) === year(now) ? undefined : 'numeric',
    timeZone,
  }).format(at);
  const time = new Intl.DateTimeFormat(locale, { hour: 'numeric', minute: '2-digit', timeZone }).format(at);
  return m.deliveries_when({ day, time });
}

/**
 * Returns the time until a moment in words of the app's language, to the minute, e.g. "in
 * 2 h 5 min", "in 3 days 4 h", "in 40 s" in its last minute, or "now" once it has come.
 */
export function timeLeft(ms: number): string {
  if (ms <= 0) return m.deliveries_left_now();
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return m.deliveries_left_seconds({ seconds });
  const minutes = Math.ceil(seconds / 60);
  const days = Math.floor(minutes / 1440);
  const hours = Math.floor((minutes % 1440) / 60);
  const rest = minutes % 60;
  if (days > 0) return hours ? m.deliveries_left_days_hours({ days, hours }) : m.deliveries_left_days({ days });
  if (hours > 0) return rest ? m.deliveries_left_hours_minutes({ hours, minutes: rest }) : m.deliveries_left_hours({ hours });
  return m.deliveries_left_minutes({ minutes: rest });
}
