/**
 * The preparation of a delivery as a pure computation: fed the replica's profiles in
 * chunks, it returns recipients and exclusions per chunk and, at the end, the KPIs, the
 * log and the status. The worker owns the I/O around it; this module owns the rules.
 */

import { compileAudience, type ProfilePredicate } from './audience-filter';
import { compileMessage, recipientValues, renderMessage, type CompiledMessage } from './message';
import { checkMessage, HTML_CLIP_BYTES, RULE_BY_CAUSE } from './typology';
import { AnalysisBuilder, firstCause, type AudienceAnalysis } from './what-if';
import type {
  AttributeDefinition,
  Delivery,
  Exclusion,
  ExclusionCause,
  LogLevel,
  LogLine,
  PreparationKpis,
  PreparedRecipient,
  Profile,
} from './types';

export interface PreparationResult {
  status: 'prepared' | 'failed';
  kpis: PreparationKpis;
  log: LogLine[];
}

export interface ChunkResult {
  recipients: PreparedRecipient[];
  exclusions: Exclusion[];
}

/** The unsubscribe URL previews and preparation render with; the server signs a real one. */
export const PREVIEW_UNSUBSCRIBE_URL = 'https://unsubscribe.invalid/preview';

export class Preparation {
  private readonly log: LogLine[] = [];
  /** Mailboxes already kept in this delivery: the first profile reaching a mailbox wins. */
  private readonly kept = new Set<number>();
  private readonly analysis = new AnalysisBuilder();
  private readonly kpis: PreparationKpis = { targeted: 0, toDeliver: 0, excluded: 0, excludedByCause: {} };
  /** The recipient whose values are longest: their message is the largest, checked once at the end. */
  private largest: { size: number; values: Record<string, string> } = { size: -1, values: {} };

  private constructor(
    private readonly message: CompiledMessage,
    private readonly inAudience: ProfilePredicate,
    private readonly now: () => Date,
  ) {}

  /**
   * Returns a running preparation, or the failed result when the message cannot be sent at
   * all (a template syntax error or a control rule of severity error).
   */
  static start(
    delivery: Delivery,
    schema: readonly AttributeDefinition[] = [],
    now: () => Date = () => new Date(),
  ): { ok: true; preparation: Preparation } | { ok: false; result: PreparationResult } {
    const log: LogLine[] = [];
    const write = (level: LogLevel, message: string) => log.push({ at: now().toISOString(), level, message });
    write('info', `Preparation of "${delivery.name}" (version ${delivery.version}) started.`);
    const compiled = compileMessage(delivery, schema);
    if (!compiled.ok) {
      const { line, column, message } = compiled.error;
      const part = compiled.part === 'subject' ? 'subject' : 'HTML body';
      write('error', `Template error in the ${part} at line ${line}, column ${column}: ${message}.`);
      return { ok: false, result: finishLog(log, now, { targeted: 0, toDeliver: 0, excluded: 0, excludedByCause: {} }) };
    }
    for (const finding of checkMessage(delivery, compiled.message, schema)) write(finding.level, `${finding.rule}: ${finding.message}`);
    if (log.some((l) => l.level === 'error')) {
      return { ok: false, result: finishLog(log, now, { targeted: 0, toDeliver: 0, excluded: 0, excludedByCause: {} }) };
    }
    const preparation = new Preparation(compiled.message, compileAudience(delivery.audience, schema, now()), now);
    preparation.log.push(...log);
    return { ok: true, preparation };
  }

  /** Returns the recipients and exclusions among `profiles` that are in the delivery's audience, numbering recipients in order. */
  addProfiles(profiles: readonly Profile[]): ChunkResult {
    const recipients: PreparedRecipient[] = [];
    const exclusions: Exclusion[] = [];
    for (const profile of profiles) {
      if (!this.inAudience(profile)) continue;
      this.kpis.targeted++;
      // The rules are evaluated once, into the what-if analysis; the first that applies excludes.
      const { mask, mailbox } = this.analysis.add(profile);
      let cause: ExclusionCause | null = firstCause(mask);
      if (!cause && mailbox >= 0) {
        if (this.kept.has(mailbox)) cause = 'duplicate-address';
        else this.kept.add(mailbox);
      }
      const rule = cause && RULE_BY_CAUSE[cause];
      if (rule) {
        this.kpis.excluded++;
        this.kpis.excludedByCause[rule.cause] = (this.kpis.excludedByCause[rule.cause] ?? 0) + 1;
        exclusions.push({ profileId: profile.id, email: profile.email, rule: rule.name, cause: rule.cause });
        continue;
      }
      // Only the subject is rendered per recipient; the body renders from the same values when
      // previewed or sent, deterministically, so rendering a million bodies here would add nothing.
      const values = recipientValues(profile, this.message.profileFields);
      let size = 0;
      for (const field in values) size += values[field].length;
      if (size > this.largest.size) this.largest = { size, values };
      this.kpis.toDeliver++;
      recipients.push({
        seq: this.kpis.toDeliver,
        profileId: profile.id,
        email: profile.email,
        subject: this.message.subject.render(values, 'header'),
        values,
      });
    }
    return { recipients, exclusions };
  }

  /** Returns what a what-if needs of the targeted profiles (call after the last chunk). */
  whatIfAnalysis(): AudienceAnalysis {
    return this.analysis.finish();
  }

  /** Returns the final result: failed when the target is empty, prepared otherwise. */
  finish(): PreparationResult {
    const write = (level: LogLevel, message: string) => this.log.push({ at: this.now().toISOString(), level, message });
    const { targeted, toDeliver, excluded, excludedByCause } = this.kpis;
    write('info', `Targeted ${targeted}, to deliver ${toDeliver}, excluded ${excluded}.`);
    for (const [cause, count] of Object.entries(excludedByCause)) write('info', `Excluded as ${cause}: ${count}.`);
    if (targeted === 0) write('error', 'The target is empty: no profile matches the audience. Change the audience and prepare again.');
    else if (toDeliver === 0) write('error', 'Every targeted profile was excluded: there is nobody to send to.');
    else {
      const html = renderMessage(this.message, this.largest.values, { unsubscribeUrl: PREVIEW_UNSUBSCRIBE_URL }).html;
      const bytes = new TextEncoder().encode(html).length;
      if (bytes > HTML_CLIP_BYTES)
        write('warning', `HTML size: the largest message is ${Math.ceil(bytes / 1024)} KB once personalized; Gmail clips it above 102 KB.`);
      else write('info', `Messages personalized; the largest HTML part is ${Math.ceil(bytes / 1024)} KB.`);
    }
    return finishLog(this.log, this.now, { ...this.kpis, excludedByCause: { ...excludedByCause } });
  }
}

function finishLog(log: LogLine[], now: () => Date, kpis: PreparationKpis): PreparationResult {
  const errors = log.filter((l) => l.level === 'error').length;
  const warnings = log.filter((l) => l.level === 'warning').length;
  const status = errors > 0 ? 'failed' : 'prepared';
  log.push({
    at: now().toISOString(),
    level: errors > 0 ? 'error' : warnings > 0 ? 'warning' : 'info',
    message: `Preparation ${status === 'failed' ? 'failed' : 'finished'}: ${errors} error${errors === 1 ? '' : 's'}, ${warnings} warning${warnings === 1 ? '' : 's'}.`,
  });
  return { status, kpis, log };
}
