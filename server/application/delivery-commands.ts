/**
 * What an operator does to a delivery on the server — hand its batch over, send it, schedule
 * or unschedule it, pause, resume, stop it, settle the messages whose outcome is unknown — in
 * one place: each command moves the delivery by the status table (shared/status.ts), tells
 * every node's listeners it changed, and wakes the engine. Routes only speak HTTP; they call
 * these and turn the outcome into an answer.
 *
 * A Send with a time in the past is refused (`schedule-passed`), never sent at once: the
 * marketer chose a time, and a delivery sent hours late, or at a moment nobody picked, is
 * worse than one not sent. The exception is a time that passed moments ago, within
 * SCHEDULE_GRACE_MS: the hand-over of a large batch, or clocks a little apart, take that long,
 * and the delivery then starts at once, which is as close to the time as it can get.
 */

import { standing, VARIANT_NAMES, variantCount, type Standing, type VariantFigures } from '../../shared/experiment';
import type { DeliveryStatus, SendKpis } from '../../shared/types';
import type { LiveBus } from '../live/live-bus';
import type { BatchHeader, BatchPart, DeliveryStore, Outcome } from '../store/deliveries';
import { refuse } from '../store/deliveries';
import type { SendJournal } from '../store/journal';

/** How long after its time a scheduled Send still starts (at once) rather than being refused. */
export const SCHEDULE_GRACE_MS = 5 * 60_000;

/** What the commands need of the engine: to look for work now. */
export interface EngineWake {
  scan(): Promise<void> | void;
}

export interface CommandDeps {
  deliveries: DeliveryStore;
  journal: SendJournal;
  bus: LiveBus;
  engine: EngineWake;
  now: () => Date;
  /** Why a Send of this preparation must wait for an approval, or null when it need not (store/work.ts's documents say). */
  approval?: (id: string, contentHash: string) => Promise<string | null>;
}

export type KpisOutcome = Outcome<{ kpis: SendKpis }>;

/** Where a delivery's A/B test stands: its variants' figures, what they show, when the winner is chosen, and the winner once it is. */
export interface ExperimentStatus {
  criterion: string;
  waitHours: number;
  /** When the winner is chosen by itself: the start plus the wait; null before the start. */
  decidesAt: string | null;
  figures: VariantFigures[];
  standing: Standing;
  winner: number | null;
  winnerReason: string | null;
  winnerAt: string | null;
}

export class DeliveryCommands {
  constructor(private readonly deps: CommandDeps) {}

  /** Opens (or reopens) the hand-off of a batch. */
  beginBatch(header: BatchHeader): Promise<Outcome> {
    return this.deps.deliveries.beginBatch(header, this.deps.now());
  }

  /** Stores one part of a batch (idempotent). */
  putPart(id: string, contentHash: string, seq: number, part: BatchPart): Promise<Outcome<{ received: number }>> {
    return this.deps.deliveries.putChunk(id, contentHash, seq, part);
  }

  /** Makes a complete batch the delivery's; its figures change. */
  async commitBatch(id: string, contentHash: string): Promise<Outcome<{ recipients: number }>> {
    const result = await this.deps.deliveries.commitBatch(id, contentHash, this.deps.now());
    if (result.ok) this.deps.bus.changed(id);
    return result;
  }

  /** Sends the committed batch now, or schedules it for `scheduledAt`; see the module's note on times past. */
  async send(id: string, contentHash: string, scheduledAt: string | null): Promise<KpisOutcome> {
    const { deliveries, now } = this.deps;
    const delivery = await deliveries.get(id);
    if (delivery && delivery.contentHash !== contentHash) {
      return refuse(409, 'stale-batch', 'The server holds another preparation of this delivery. Prepare again and send.');
    }
    const waiting = await this.deps.approval?.(id, contentHash);
    if (waiting) return refuse(409, 'approval-needed', waiting);
    const at = scheduledAt === null ? null : Date.parse(scheduledAt);
    if (at !== null && at < now().getTime() - SCHEDULE_GRACE_MS) {
      return refuse(
        422,
        'schedule-passed',
        `The scheduled time (${new Date(at).toISOString().slice(0, 16).replace('T', ' ')} UTC) has passed, so the delivery was not sent. Set a later Send at, prepare again and schedule it, or clear Send at to send it now.`,
      );
    }
    const later = at !== null && at > now().getTime();
    return this.move(id, later ? 'scheduled' : 'sending', { scheduledAt });
  }

  /** Back to prepared: the journal rows stay queued, and a later Send (now or at another time) uses them. */
  unschedule(id: string): Promise<KpisOutcome> {
    return this.move(id, 'prepared', { scheduledAt: null });
  }

  /** Pauses the delivery; `reason` says why when it is not an operator's decision (the dashboard shows it). */
  pause(id: string, reason: string | null = null): Promise<KpisOutcome> {
    return this.move(id, 'paused', { reason });
  }

  /** Sending again; back to scheduled when its time has not come yet. */
  async resume(id: string): Promise<KpisOutcome> {
    const delivery = await this.deps.deliveries.get(id);
    const stillScheduled = delivery?.scheduledAt && Date.parse(delivery.scheduledAt) > this.deps.now().getTime();
    return this.move(id, stillScheduled ? 'scheduled' : 'sending');
  }

  /** Ends the delivery for good: what remains is cancelled. */
  stop(id: string): Promise<KpisOutcome> {
    return this.move(id, 'stopped');
  }

  /**
   * Resends (or cancels) the messages whose outcome is unknown; a delivery paused for this
   * decision carries on by itself once it is made. Resolves how many were settled.
   */
  async settleUnknown(id: string, resend: boolean): Promise<Outcome<{ settled: number }>> {
    const { deliveries, journal, bus, engine, now } = this.deps;
    const delivery = await deliveries.get(id);
    if (!delivery) return refuse(404, 'delivery-not-found', 'There is no such delivery on the server.');
    const settled = await journal.settleUnknown(id, resend, now());
    if (settled > 0 && delivery.status === 'paused') await deliveries.transition(id, 'sending', now(), { reason: null });
    bus.changed(id);
    await engine.scan();
    return { ok: true, settled };
  }

  /** Returns where the delivery's A/B test stands, or a refusal when it has none. */
  async experiment(id: string): Promise<Outcome<{ experiment: ExperimentStatus }>> {
    const { deliveries, journal } = this.deps;
    const delivery = await deliveries.get(id);
    if (!delivery) return refuse(404, 'delivery-not-found', 'There is no such delivery on the server.');
    const experiment = delivery.experiment;
    if (!experiment) return refuse(404, 'no-experiment', `"${delivery.name}" has no A/B test.`);
    const figures = await journal.variantFigures(id, variantCount(experiment));
    const decidesAt = delivery.startedAt ? new Date(Date.parse(delivery.startedAt) + experiment.waitHours * 3_600_000).toISOString() : null;
    return {
      ok: true,
      experiment: {
        criterion: experiment.criterion,
        waitHours: experiment.waitHours,
        decidesAt,
        figures,
        standing: standing(experiment.criterion, figures),
        winner: delivery.winner,
        winnerReason: delivery.winnerReason,
        winnerAt: delivery.winnerAt,
      },
    };
  }

  /**
   * The operator picks the winner before the wait is over: the rest of the audience gets it as
   * soon as the delivery sends. Refused once a winner is known, or before sending started.
   */
  async chooseWinner(id: string, variant: number, by: string): Promise<Outcome<{ winner: number; reason: string }>> {
    const { deliveries, journal, bus, engine, now } = this.deps;
    const delivery = await deliveries.get(id);
    if (!delivery) return refuse(404, 'delivery-not-found', 'There is no such delivery on the server.');
    const experiment = delivery.experiment;
    if (!experiment) return refuse(404, 'no-experiment', `"${delivery.name}" has no A/B test.`);
    if (!Number.isInteger(variant) || variant < 0 || variant >= variantCount(experiment)) {
      return refuse(
        422,
        'no-such-variant',
        `"${delivery.name}" has variants A to ${VARIANT_NAMES[variantCount(experiment) - 1]}: choose one of them.`,
      );
    }
    if (delivery.winner !== null) {
      return refuse(409, 'winner-chosen', `The winner of "${delivery.name}" is already chosen: ${VARIANT_NAMES[delivery.winner]}.`);
    }
    if (!delivery.startedAt || delivery.status === 'stopped' || delivery.status === 'completed') {
      const why =
        delivery.status === 'stopped'
          ? 'it was stopped'
          : delivery.status === 'completed'
            ? 'the delivery is complete: nobody is left to send a variant to'
            : 'the test has not started: send the delivery first';
      return refuse(409, 'winner-not-now', `The winner of "${delivery.name}" cannot be chosen now: ${why}.`);
    }
    const shown = standing(experiment.criterion, await journal.variantFigures(id, variantCount(experiment))).statement;
    const reason = `${VARIANT_NAMES[variant]} chosen by ${by} before the wait was over. ${shown}`;
    if (!(await journal.chooseWinner(id, variant, reason, now()))) {
      const current = await deliveries.get(id);
      return refuse(409, 'winner-chosen', `The winner of "${delivery.name}" is already chosen: ${VARIANT_NAMES[current?.winner ?? 0]}.`);
    }
    bus.changed(id);
    await engine.scan();
    return { ok: true, winner: variant, reason };
  }

  private async move(
    id: string,
    to: DeliveryStatus,
    fields: { scheduledAt?: string | null; reason?: string | null } = {},
  ): Promise<KpisOutcome> {
    const { deliveries, bus, engine, now } = this.deps;
    const result = await deliveries.transition(id, to, now(), { reason: null, ...fields });
    if (!result.ok) return result;
    bus.changed(id);
    await engine.scan();
    return { ok: true, kpis: (await deliveries.kpis(id, now()))! };
  }
}
