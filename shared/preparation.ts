/**
 * The preparation of a delivery as a pure computation: fed the replica's profiles in
 * chunks, it returns recipients and exclusions per chunk and, at the end, the KPIs, the
 * log and the status. The worker owns the I/O around it; this module owns the rules. The log
 * is said in the words it is given (preparation-words.ts), English unless told otherwise.
 */

import { compileAudienceColumns } from './audience-filter';
import {
  contentVariants,
  experimentProblem,
  testSize,
  translationFor,
  translationsProblem,
  VARIANT_NAMES,
  variantContent,
  variantCount,
  type Experiment,
  type Translation,
} from './experiment';
import { localDue, localTimeProblem, waveCount, wavesProblem, type Waves } from './send-time';
import type { EngagementIndex } from './engagement';
import { compileMessage, renderMessage, type CompiledMessage } from './message';
import { ENGLISH_WORDS, type ContentOf, type PreparationWords } from './preparation-words';
import { profilesView, templateValue, type ProfileBlockView, type ProfileColumns } from './profile-fields';
import {
  AnalysisBuilder,
  CompiledRules,
  decideAmongKept,
  decidesAtTheEnd,
  Decider,
  KpiTally,
  placeInDraw,
  settingsOf,
  stringSeed,
  type Analysis,
  type BoundRules,
  type RuleSettings,
} from './recipient-rules';
import { causeOf, checkMessage, HTML_CLIP_BYTES, recipientRules, seedsOf, type Typology } from './typology';
import type {
  AttributeDefinition,
  ContactHistoryEntry,
  Delivery,
  Exclusion,
  LogLevel,
  LogLine,
  PreparationKpis,
  PreparedRecipient,
  Profile,
  TemplateValue,
} from './types';

export interface PreparationResult {
  status: 'prepared' | 'failed';
  kpis: PreparationKpis;
  log: LogLine[];
  /** The seed addresses (the typology's and the delivery's): each gets a copy of every variant, in no figure. */
  seeds?: string[];
}

export interface ChunkResult {
  recipients: PreparedRecipient[];
  exclusions: Exclusion[];
}

/** What a preparation reads besides the delivery. */
export interface PreparationInputs {
  typology: Typology;
  schema?: readonly AttributeDefinition[];
  /** Messages of other deliveries, for pressure and per-day capacity rules. */
  history?: readonly ContactHistoryEntry[];
  now?: () => Date;
  /** The server's address for tracking and unsubscribe links, as last heard (control rule "Links reachable"). */
  publicUrl?: string;
  /** The sizes of the images uploaded to Mailroom, by URL (control rule "Total size with images"). */
  imageSizes?: Readonly<Record<string, number>>;
  /** Who received, opened and clicked recent deliveries, for conditions on engagement. */
  engagement?: EngagementIndex;
  /** The words of the log (English when not given). */
  words?: PreparationWords;
}

/** How long a message is tried for from the start of sending (the engine's validity period): waves must start within it. */
export const VALIDITY_HOURS = 72;

/** The unsubscribe URL previews and preparation render with; the server signs a real one. */
export const PREVIEW_UNSUBSCRIBE_URL = 'https://unsubscribe.invalid/preview';

const EMPTY_KPIS: PreparationKpis = { targeted: 0, toDeliver: 0, excluded: 0, excludedByCause: {}, excludedByRule: {} };

type Column = ReturnType<ProfileColumns['column']>;

export class Preparation {
  private readonly log: LogLine[] = [];
  private readonly analysis: AnalysisBuilder;
  private readonly decider: Decider;
  private readonly settings: RuleSettings;
  private readonly tally: KpiTally;
  private readonly inAudienceColumns: (block: ProfileColumns) => (position: number) => boolean;
  /** With a capacity rule, a control group or an A/B test, candidates wait for the end, when the overflow and the draws are known. */
  private readonly held: { index: number; recipient: PreparedRecipient }[] | null;
  private seq = 0;
  private seeds: string[] | undefined;
  /** The profile fields the messages read: A's, and every other variant's. */
  private readonly fieldNames: string[];
  /** With content by language: the translations and every variant's message, the default's first. */
  private translated: { translations: readonly Translation[]; messages: CompiledMessage[]; counts: number[] } | null = null;
  /** With a local time: when a recipient of a zone is due. */
  private due: ((zone: string | null | undefined) => number) | null = null;
  private waves: Waves | null = null;
  /** With a local time: the hours after it a message may still go. */
  private window: number | null = null;
  /** The earliest and latest due times, for the log. */
  private dueSpan: [number, number] = [Infinity, -Infinity];
  /** The recipient whose values are longest: their message is the largest, checked once at the end. */
  private largest: { size: number; values: Record<string, TemplateValue> } = { size: -1, values: {} };

  /**
   * @param sendAt what "now" means in the subject, rendered here: the delivery's scheduled
   * time, or the preparation's own for a delivery sent on demand (as the rules' send time).
   */
  private constructor(
    private readonly message: CompiledMessage,
    readonly rules: CompiledRules,
    private readonly now: () => Date,
    audienceColumns: (block: ProfileColumns) => (position: number) => boolean,
    private readonly sendAt: Date,
    private readonly engagement: EngagementIndex | undefined,
    /** With an A/B test: the test, the delivery's id (its draw) and every variant's message, A's first. */
    private readonly test: { experiment: Experiment; deliveryId: string; variants: CompiledMessage[] } | null,
    private readonly words: PreparationWords,
  ) {
    this.analysis = new AnalysisBuilder(rules);
    this.settings = settingsOf(rules.rules);
    this.decider = new Decider(rules, this.settings);
    this.tally = new KpiTally(rules.rules);
    this.inAudienceColumns = audienceColumns;
    this.held = test || decidesAtTheEnd(rules, this.settings) ? [] : null;
    this.fieldNames = [...new Set((test?.variants ?? [message]).flatMap((m) => m.profileFields))];
  }

  /** Gives each recipient the content of their locale (set right after start). */
  private translate(translations: readonly Translation[], messages: CompiledMessage[]) {
    this.translated = { translations, messages, counts: messages.map(() => 0) };
    for (const name of new Set(messages.flatMap((m) => m.profileFields))) if (!this.fieldNames.includes(name)) this.fieldNames.push(name);
  }

  /**
   * Returns a running preparation, or the failed result when the message cannot be sent at
   * all (a template syntax error or a control rule of severity error).
   */
  static start(
    delivery: Delivery,
    inputs: PreparationInputs,
  ): { ok: true; preparation: Preparation } | { ok: false; result: PreparationResult } {
    const {
      typology,
      schema = [],
      history = [],
      now = () => new Date(),
      publicUrl,
      imageSizes,
      engagement,
      words = ENGLISH_WORDS,
    } = inputs;
    const log: LogLine[] = [];
    const write = (level: LogLevel, message: string) => log.push({ at: now().toISOString(), level, message });
    const failed = () => ({ ok: false as const, result: finishLog(log, now, EMPTY_KPIS, words) });
    write('info', words.started({ delivery: delivery.name, version: delivery.version, typology: typology.name }));
    const experiment = delivery.experiment ?? null;
    const translations = delivery.translations?.length ? delivery.translations : null;
    const problem =
      (experiment && experimentProblem(experiment, words)) ||
      (translations && translationsProblem(translations, words)) ||
      (experiment && translations ? words.abTestWithLanguages() : null);
    if (problem) {
      write('error', translations && !experiment ? words.languagesProblem({ problem }) : words.abTestProblem({ problem }));
      return failed();
    }
    const variants = contentVariants(delivery);
    // Whose content a line is about (null for the delivery's own content without variants).
    const contentOf = (v: number): ContentOf =>
      experiment ? { variant: VARIANT_NAMES[v] } : translations && v > 0 ? { translation: translations[v - 1].locale } : null;
    // Every variant compiles and passes the control rules, or the delivery cannot be sent.
    const messages: CompiledMessage[] = [];
    for (let v = 0; v < variantCount(variants); v++) {
      const content = variantContent(delivery, variants, v);
      const compiled = compileMessage(content, schema);
      if (!compiled.ok) {
        write('error', words.templateError({ of: contentOf(v), part: compiled.part, ...compiled.error }));
        return failed();
      }
      for (const finding of checkMessage(content, compiled.message, schema, typology.rules, { publicUrl, imageSizes, words }))
        write(finding.level, words.control({ of: contentOf(v), rule: finding.rule, message: finding.message }));
      messages.push(compiled.message);
    }
    const timing = [
      delivery.localTime ? localTimeProblem(delivery.localTime, words) : null,
      delivery.waves ? wavesProblem(delivery.waves, words) : null,
      delivery.waves && experiment ? words.wavesWithAbTest() : null,
      delivery.localTime && experiment ? words.localTimeWithAbTest() : null,
      delivery.localTime && delivery.waves ? words.localTimeWithWaves() : null,
      // Due times count from the send time: a delivery sent on demand would have them fixed at preparation, and past by the Send.
      delivery.localTime && !delivery.scheduledAt ? words.localTimeWithoutSendAt() : null,
    ];
    for (const problem of timing) if (problem) write('error', problem);
    const seeds = seedsOf(typology, delivery, words);
    if ('problem' in seeds) write('error', seeds.problem);
    else if (seeds.seeds.length)
      write('info', words.seeds({ seeds: seeds.seeds, variants: variants ? variants.variants.length + 1 : null }));
    if (log.some((l) => l.level === 'error')) return failed();
    const at = now();
    const sendAt = delivery.scheduledAt ? new Date(delivery.scheduledAt) : at;
    // With a local send time, pressure counts around each recipient's own send time.
    const sendTimeOf = delivery.localTime && !localTimeProblem(delivery.localTime) ? localDue(delivery.localTime, sendAt) : undefined;
    const rules = new CompiledRules(recipientRules(typology), {
      deliveryId: delivery.id,
      sendAt,
      history,
      schema,
      now: at,
      engagement,
      sendTimeOf,
    });
    const audience = compileAudienceColumns(delivery.audience, schema, at);
    const test = experiment ? { experiment, deliveryId: delivery.id, variants: messages } : null;
    const preparation = new Preparation(messages[0], rules, now, audience, sendAt, engagement, test, words);
    if (sendTimeOf) preparation.due = sendTimeOf;
    if (translations) preparation.translate(translations, messages);
    preparation.window = delivery.localTime?.windowHours ?? null;
    if (delivery.waves) preparation.waves = delivery.waves;
    preparation.log.push(...log);
    if ('seeds' in seeds && seeds.seeds.length) preparation.seeds = seeds.seeds;
    return { ok: true, preparation };
  }

  /** Returns the recipients and exclusions among `profiles` that are in the delivery's audience, numbering recipients in order. */
  addProfiles(profiles: readonly Profile[]): ChunkResult {
    return this.addBlock(profilesView(profiles));
  }

  /**
   * As addProfiles, for a block read column by column: the audience, the rules and the
   * recipients' values read only the columns they need, and no profile object is built.
   */
  addBlock(replicaBlock: ProfileBlockView): ChunkResult {
    const block = this.engagement ? this.engagement.view(replicaBlock) : replicaBlock;
    const out: ChunkResult = { recipients: [], exclusions: [] };
    const inAudience = this.inAudienceColumns(block);
    let bound: BoundRules | null = null;
    let columns: { emails: Column; fields: [string, Column][]; zones: Column | null; locales: Column | null } | null = null;
    for (let i = 0; i < block.length; i++) {
      if (!inAudience(i)) continue;
      bound ??= this.rules.bind(block);
      columns ??= {
        emails: block.column('email'),
        // Every variant's fields: a variant may personalize with a field A does not use.
        fields: this.fieldNames.map((f) => [f, block.column(f)]),
        zones: this.due ? block.column('time_zone') : null,
        locales: this.translated ? block.column('locale') : null,
      };
      this.tally.targeted++;
      // The rules are evaluated once, into the what-if analysis; the decision reads it back.
      const index = this.analysis.add(bound, i);
      const rule = this.decider.decide(this.analysis.analysis, index);
      const profileId = block.ids[i];
      const email = String(columns.emails[i] ?? '');
      if (rule >= 0) {
        this.tally.exclude(rule);
        out.exclusions.push(this.exclusion(profileId, email, rule));
        continue;
      }
      // Only the subject is rendered per recipient; the body renders from the same values when
      // previewed or sent, deterministically, so rendering a million bodies here would add nothing.
      // Values keep their type; a field without one is left out (nil).
      const values: Record<string, TemplateValue> = {};
      let size = 0;
      const fields = columns.fields;
      for (let f = 0; f < fields.length; f++) {
        const value = templateValue(fields[f][1][i]);
        if (value === undefined) continue;
        values[fields[f][0]] = value;
        size += typeof value === 'string' ? value.length : Array.isArray(value) ? value.join().length : 5;
      }
      if (size > this.largest.size) this.largest = { size, values };
      // With content by language, the recipient's locale chooses their variant (0: the delivery's own).
      const variant = this.translated ? translationFor(this.translated.translations, columns.locales![i] as string | null) : 0;
      const subject = (variant ? this.translated!.messages[variant] : this.message).subject.render(values, 'header', this.sendAt);
      // One object per recipient, numbered now (held ones when they are decided, at the end).
      const recipient: PreparedRecipient = { seq: this.held ? 0 : ++this.seq, profileId, email, subject, values };
      if (variant) recipient.variant = variant;
      if (this.due) {
        const dueAt = this.due(columns.zones![i] as string | null | undefined);
        recipient.dueAt = dueAt;
        if (dueAt < this.dueSpan[0]) this.dueSpan[0] = dueAt;
        if (dueAt > this.dueSpan[1]) this.dueSpan[1] = dueAt;
      }
      if (this.held) this.held.push({ index, recipient });
      else {
        out.recipients.push(recipient);
        if (this.translated) this.translated.counts[variant]++;
      }
    }
    return out;
  }

  /**
   * Splits the recipients (all of them, held until the end) into the test population, drawn at
   * random and the same every time the same delivery is prepared, and the rest; the test
   * population gets the variants in turn, in the draw's order, so the split is even. A test
   * recipient's subject is their variant's; the rest have none until the winner is known.
   */
  private split(recipients: PreparedRecipient[]): NonNullable<PreparationKpis['experiment']> {
    const { experiment, deliveryId, variants } = this.test!;
    const size = testSize(experiment, recipients.length);
    const seed = stringSeed(`${deliveryId}\u0000ab`);
    const order = Int32Array.from(recipients.keys());
    const places = Float64Array.from(recipients, (r) => placeInDraw(seed, r.profileId));
    order.sort((x, y) => places[x] - places[y] || x - y);
    const perVariant = variants.map(() => 0);
    for (let k = 0; k < order.length; k++) {
      const recipient = recipients[order[k]];
      if (k >= size) {
        recipient.subject = '';
        continue;
      }
      const variant = k % variants.length;
      recipient.variant = variant;
      perVariant[variant]++;
      if (variant > 0) recipient.subject = variants[variant].subject.render(recipient.values, 'header', this.sendAt);
    }
    return { test: size, perVariant, remainder: recipients.length - size };
  }

  private exclusion(profileId: number, email: string, rule: number): Exclusion {
    const r = this.rules.rules[rule];
    return { profileId, email, rule: r.name, cause: causeOf(r) };
  }

  /** Returns what a what-if needs of the targeted profiles (call after finish). */
  whatIfAnalysis(): Analysis {
    return this.analysis.finish();
  }

  /**
   * Returns the final result (failed when nobody is left to send to) and the last
   * recipients and exclusions: with a capacity rule or a control group on, the candidates held until now.
   */
  finish(): { result: PreparationResult; last: ChunkResult } {
    const last: ChunkResult = { recipients: [], exclusions: [] };
    if (this.held) {
      const candidates = Int32Array.from(this.held, (h) => h.index);
      const overflow = decideAmongKept(this.rules, this.settings, this.analysis.analysis, candidates);
      this.held.forEach(({ recipient }, k) => {
        if (overflow[k] < 0) {
          recipient.seq = ++this.seq;
          last.recipients.push(recipient);
          if (this.translated) this.translated.counts[recipient.variant ?? 0]++;
        } else {
          this.tally.exclude(overflow[k]);
          last.exclusions.push(this.exclusion(recipient.profileId, recipient.email, overflow[k]));
        }
      });
      this.held.length = 0;
    }
    const write = (level: LogLevel, message: string) => this.log.push({ at: this.now().toISOString(), level, message });
    const words = this.words;
    const kpis = this.tally.kpis();
    write('info', words.figures(kpis));
    if (this.translated) {
      const { translations, counts } = this.translated;
      write('info', words.languages({ counts: translations.map((t, k) => ({ locale: t.locale, count: counts[k + 1] })), own: counts[0] }));
    }
    for (const [rule, count] of Object.entries(kpis.excludedByRule)) write('info', words.excludedByRule({ rule, count }));
    if (this.due && kpis.toDeliver > 0) {
      const [first, latest] = this.dueSpan.map((t) => new Date(t).toISOString().slice(0, 16).replace('T', ' '));
      write('info', words.localTime({ first, latest, windowHours: this.window || null }));
    }
    if (this.waves && kpis.toDeliver > 0) {
      const count = waveCount(this.waves, kpis.toDeliver);
      const { everyHours } = this.waves;
      const hours = (count - 1) * everyHours;
      if (hours > VALIDITY_HOURS) write('error', words.wavesTooLong({ count, everyHours, hours, validityHours: VALIDITY_HOURS }));
      else write('info', words.waves({ messages: kpis.toDeliver, count, everyHours }));
    }
    if (this.test) {
      kpis.experiment = this.split(last.recipients);
      const { test, perVariant, remainder } = kpis.experiment;
      const { criterion, waitHours } = this.test.experiment;
      if (test < perVariant.length && kpis.toDeliver > 0) write('error', words.abTestTooSmall({ test, variants: perVariant.length }));
      else {
        const each = perVariant.map((count, v) => ({ name: VARIANT_NAMES[v], count }));
        write('info', words.abTest({ test, perVariant: each, remainder, criterion, waitHours }));
      }
    }
    if (kpis.targeted === 0) write('error', words.targetEmpty());
    else if (kpis.toDeliver === 0) write('error', words.allExcluded());
    else {
      // The largest of every variant's HTML.
      const bytes = Math.max(
        ...(this.test?.variants ?? [this.message]).map(
          (m) =>
            new TextEncoder().encode(
              renderMessage(m, this.largest.values, { unsubscribeUrl: PREVIEW_UNSUBSCRIBE_URL, sendAt: this.sendAt }).html,
            ).length,
        ),
      );
      const kilobytes = Math.ceil(bytes / 1024);
      if (bytes > HTML_CLIP_BYTES) write('warning', words.htmlClipped({ kilobytes }));
      else write('info', words.personalized({ kilobytes }));
    }
    const result = finishLog(this.log, this.now, kpis, words);
    if (this.seeds) result.seeds = this.seeds;
    return { result, last };
  }
}

function finishLog(log: LogLine[], now: () => Date, kpis: PreparationKpis, words: PreparationWords): PreparationResult {
  const errors = log.filter((l) => l.level === 'error').length;
  const warnings = log.filter((l) => l.level === 'warning').length;
  const status = errors > 0 ? 'failed' : 'prepared';
  log.push({
    at: now().toISOString(),
    level: errors > 0 ? 'error' : warnings > 0 ? 'warning' : 'info',
    message: words.finished({ failed: status === 'failed', errors, warnings }),
  });
  return { status, kpis, log };
}
