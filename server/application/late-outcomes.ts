/**
 * What Mailroom does with a bounce or a complaint that arrives later (server/bounces/): the
 * report is matched to its journal row — by the signed return path it was sent to, else by
 * the original message's Message-ID — kept, and acted on as the policy says, with Adobe's
 * defaults: a hard bounce quarantines at once; soft bounces count, and the fifth within 30
 * days quarantines (a full mailbox's quarantine ends after 30 days by itself); a complaint
 * denylists the address and unsubscribes the profile. Quarantine and denylist change the
 * profile, so every replica hears of them with its next pull. A delivery whose hard bounces
 * or complaints pass their threshold (5 %, and Gmail's 0.3 % for complaints, once 100
 * messages are out) is paused, saying why.
 */

import { messageIdRow, readReport, type LateReport } from '../bounces/reports';
import { journalOfBounceAddress } from '../bounces/verp';
import type { LiveBus } from '../live/live-bus';
import type { AudienceStore } from '../store/audience';
import type { LateOutcomeStore, SentRow } from '../store/late-outcomes';
import type { SettingsStore } from '../store/settings';
import type { DeliveryCommands } from './delivery-commands';

/** An outcome a relay provider's webhook reported, as Mailroom reads it. */
export interface ProviderEvent extends LateReport {
  /** The Message-ID header of the message, as the provider passes it on; null when it does not. */
  messageId: string | null;
  email: string | null;
}

export interface BouncePolicy {
  /** Soft bounces of an address within `softDays` that quarantine it. */
  softLimit: number;
  softDays: number;
  /** How long a quarantine for a full mailbox lasts. */
  mailboxFullDays: number;
  /** The share of a delivery's sent messages reported as hard bounces, and as complaints, that pauses it. */
  hardBounceRate: number;
  complaintRate: number;
  /** Rates are judged once this many messages of the delivery are sent (a few early reports are no rate). */
  minimumSent: number;
}

/** Where the policy the settings page saved is kept (settings of record, every node reads it). */
export const BOUNCE_POLICY_KEY = 'bounce_policy';

export const BOUNCE_POLICY: BouncePolicy = {
  softLimit: 5,
  softDays: 30,
  mailboxFullDays: 30,
  hardBounceRate: 0.05,
  complaintRate: 0.003,
  minimumSent: 100,
};

const DAY_MS = 86_400_000;

export interface LateOutcomeDeps {
  lateOutcomes: LateOutcomeStore;
  /** Where the policy is kept; without it (or before it is saved) the defaults apply. */
  settings?: SettingsStore;
  audience: AudienceStore;
  commands: Pick<DeliveryCommands, 'pause'>;
  bus: LiveBus;
  /** The secret return paths are signed with. */
  secret: string;
  now: () => Date;
  policy?: BouncePolicy;
  log?: (line: string) => void;
  /** Hears each outcome kept: the webhooks' bounced and complained. */
  emit?: (event: 'bounced' | 'complained', data: Record<string, unknown>) => void;
}

/** What became of a report received. */
export interface Received {
  /** Outcomes kept (0 for mail that is no report, or names no message of ours). */
  recorded: number;
  /** The delivery paused because of it, with why. */
  paused: { deliveryId: string; reason: string } | null;
}

export class LateOutcomes {
  constructor(private readonly deps: LateOutcomeDeps) {}

  /** The policy as saved in the settings (read per report: reports are few), else the one given, else the defaults. */
  async policy(): Promise<BouncePolicy> {
    const saved = await this.deps.settings?.get(BOUNCE_POLICY_KEY);
    return { ...BOUNCE_POLICY, ...this.deps.policy, ...(saved ? (JSON.parse(saved) as Partial<BouncePolicy>) : {}) };
  }

  /** Keeps a new policy for every node. */
  async setPolicy(policy: BouncePolicy): Promise<void> {
    await this.deps.settings?.set(BOUNCE_POLICY_KEY, JSON.stringify(policy));
  }

  /** Reads and acts on a message received for these envelope recipients. */
  async receive(raw: Buffer, recipients: readonly string[]): Promise<Received> {
    const { reports, originalJournalId } = readReport(raw);
    if (reports.length === 0) return { recorded: 0, paused: null };
    const fromPath = recipients.map((r) => journalOfBounceAddress(r, this.deps.secret)).find((id) => id !== null);
    const journalId = fromPath ?? originalJournalId?.journalId;
    const row = journalId ? await this.deps.lateOutcomes.sentRow(journalId) : undefined;
    // The Message-ID is not signed: a report found by it must name the row's delivery, and its address (below).
    if (!row || (fromPath === undefined && originalJournalId?.deliveryId !== row.deliveryId)) {
      this.deps.log?.(`A report about a message Mailroom did not send was ignored (journal row ${journalId ?? 'not named'}).`);
      return { recorded: 0, paused: null };
    }
    // With VERP each report is about one message: the report for its address, or its only one.
    const forAddress = reports.find((r) => r.recipient?.toLowerCase() === row.email.toLowerCase());
    const report = forAddress ?? (fromPath !== undefined && reports.length === 1 ? reports[0] : undefined);
    return this.apply(report ? [[row, report]] : []);
  }

  /**
   * Acts on outcomes a relay provider's webhook reported (server/bounces/providers.ts): each
   * names its message by the Message-ID Mailroom gave it when the provider passes it on, else
   * by its address (the latest message sent to it). Resolves how many were kept.
   */
  async receiveEvents(events: readonly ProviderEvent[]): Promise<number> {
    const found: [SentRow, LateReport][] = [];
    for (const event of events) {
      // The provider's request is verified; still, the message it names must be of the address it names.
      if (!event.email) continue;
      const named = messageIdRow(event.messageId);
      const row = named ? await this.deps.lateOutcomes.sentRow(named.journalId) : await this.deps.lateOutcomes.latestSentTo(event.email);
      if (!row || row.email.toLowerCase() !== event.email.toLowerCase() || (named && named.deliveryId !== row.deliveryId)) continue;
      found.push([row, event]);
    }
    return (await this.apply(found)).recorded;
  }

  /** Keeps and acts on each outcome, then judges the rates of the deliveries they touched and tells their listeners. */
  private async apply(found: readonly [SentRow, LateReport][]): Promise<Received> {
    if (found.length === 0) return { recorded: 0, paused: null };
    const policy = await this.policy();
    let recorded = 0;
    const touched = new Set<string>();
    for (const [row, report] of found) {
      if (!(await this.act(row, report, policy))) continue;
      recorded++;
      touched.add(row.deliveryId);
    }
    let paused: Received['paused'] = null;
    for (const deliveryId of touched) {
      paused = (await this.judgeRates(deliveryId, policy)) ?? paused;
      this.deps.bus.changed(deliveryId);
    }
    return { recorded, paused };
  }

  /** Keeps the outcome and applies the policy; resolves false for a report already received. */
  private async act(row: SentRow, report: LateReport, policy: BouncePolicy): Promise<boolean> {
    const { lateOutcomes, audience } = this.deps;
    const now = this.deps.now();
    const kept = await lateOutcomes.record({
      journalId: row.journalId,
      deliveryId: row.deliveryId,
      email: row.email,
      kind: report.kind,
      status: report.status,
      diagnostic: report.diagnostic,
      mailboxFull: report.mailboxFull,
      receivedAt: now.toISOString(),
    });
    if (!kept) return false;
    const about = {
      deliveryId: row.deliveryId,
      journalId: row.journalId,
      email: row.email,
      status: report.status,
      diagnostic: report.diagnostic,
    };
    this.deps.emit?.(report.kind === 'complaint' ? 'complained' : 'bounced', { ...about, kind: report.kind, late: true });
    const reply = `${report.status} ${report.diagnostic}`.trim();
    if (report.kind === 'hard-bounce') {
      await audience.quarantine(row.email, 'hard-bounce', `bounced later: ${reply}`, row.deliveryId, now);
    } else if (report.kind === 'complaint') {
      await audience.denylist(row.email, `Complaint (${report.status}) reported by a feedback loop`, 'feedback-loop', now);
      await audience.unsubscribe(row.profileId, 'complaint', now);
    } else {
      const since = new Date(now.getTime() - policy.softDays * DAY_MS).toISOString();
      const count = await lateOutcomes.softBouncesSince(row.email, since);
      if (count >= policy.softLimit) {
        const full = report.mailboxFull;
        const liftAt = full ? new Date(now.getTime() + policy.mailboxFullDays * DAY_MS) : null;
        const why = `${count} soft bounces in ${policy.softDays} days, the last: ${reply}`;
        await audience.quarantine(row.email, full ? 'mailbox-full' : 'soft-bounces', why, row.deliveryId, now, liftAt);
      }
    }
    return true;
  }

  /** Pauses the delivery when its hard bounces or complaints pass their threshold. */
  private async judgeRates(deliveryId: string, policy: BouncePolicy): Promise<Received['paused']> {
    const { sent, hardBounces, complaints } = await this.deps.lateOutcomes.rates(deliveryId);
    if (sent < policy.minimumSent) return null;
    const percent = (n: number) => `${((n / sent) * 100).toFixed(1)} %`;
    let reason: string | null = null;
    if (hardBounces / sent > policy.hardBounceRate) {
      reason = `Paused: ${hardBounces} of ${sent} messages (${percent(hardBounces)}) bounced later as hard bounces, more than ${policy.hardBounceRate * 100} %. Check the list's source, then resume or stop.`;
    } else if (complaints / sent > policy.complaintRate) {
      reason = `Paused: ${complaints} of ${sent} recipients (${percent(complaints)}) complained, more than Gmail's ${policy.complaintRate * 100} %. Check who is targeted and why, then resume or stop.`;
    }
    if (!reason) return null;
    const outcome = await this.deps.commands.pause(deliveryId, reason);
    if (!outcome.ok) return null; // already paused, stopped or finished
    this.deps.log?.(reason);
    return { deliveryId, reason };
  }

  /** Ends the quarantines whose time has come. */
  liftDue(): Promise<number> {
    return this.deps.audience.liftQuarantines(this.deps.now());
  }
}
