/**
 * The recipient rules of a typology (filtering, pressure, capacity, control groups),
 * compiled for one delivery and applied the same way by the preparation, the what-if and
 * the why.
 *
 * Order: the filtering and pressure rules in the typology's order (the first that applies
 * excludes); then duplicates (the first profile reaching a mailbox is kept); then capacity,
 * over the profiles still kept, the overflow taken from the end of the rule's order; then
 * control groups, drawn at random from those still kept.
 *
 * While preparing, every targeted profile is recorded once in an analysis: ALL the
 * per-profile rules that would exclude it (as bits, switched on or off), its mailbox, its
 * message count per pressure rule and its rank key per capacity rule. A what-if then walks
 * those typed arrays with other settings, without reading the audience again.
 */

import { compileAudienceColumns } from './audience-filter';
import { mailboxKey } from './email-address';
import type { EngagementIndex } from './engagement';
import {
  DENYLISTED,
  INVALID_ADDRESS,
  MAILBOX_DIFFERS,
  profilesView,
  PENDING,
  QUARANTINED,
  timeOf,
  UNSUBSCRIBED,
  type ProfileBlockView,
} from './profile-fields';
import { causeOf, type CapacityRule, type HoldoutRule, type RecipientRule } from './typology';
import type { AttributeDefinition, AttributeValue, ContactHistoryEntry, ExclusionCause, PreparationKpis, Profile } from './types';

const DAY = 86_400_000;

export interface RuleContext {
  deliveryId: string;
  /** When the delivery sends: its schedule, or now. Pressure and capacity windows are around it. */
  sendAt: Date;
  /** Messages of other deliveries, sent or scheduled. */
  history: readonly ContactHistoryEntry[];
  schema: readonly AttributeDefinition[];
  now: Date;
  /** Who received, opened and clicked recent deliveries (blocks come through its view; a single profile is seen through it here). */
  engagement?: EngagementIndex;
  /**
   * With a local send time: when a recipient of a time zone is sent (send-time.ts localDue).
   * Pressure rules then count around each recipient's own send time, not the delivery's.
   */
  sendTimeOf?: (zone: string | null | undefined) => number;
}

/** Which rules are on, and the limits of pressure and capacity rules (a what-if changes these). */
export interface RuleSettings {
  enabled: ReadonlySet<string>;
  limits: ReadonlyMap<string, number>;
}

/** Returns the settings a typology's rules carry. */
export function settingsOf(rules: readonly RecipientRule[]): RuleSettings {
  return {
    enabled: new Set(rules.filter((r) => r.enabled).map((r) => r.id)),
    limits: new Map(
      rules.flatMap((r) => (r.kind === 'holdout' || r.kind === 'pressure' || r.kind === 'capacity' ? [[r.id, limitOf(r)] as const] : [])),
    ),
  };
}

/** The number a what-if may change: a pressure or capacity rule's messages, a control group's percentage or count. */
export function limitOf(rule: Extract<RecipientRule, { kind: 'pressure' | 'capacity' | 'holdout' }>): number {
  if (rule.kind !== 'holdout') return rule.maxMessages;
  return 'percent' in rule.share ? rule.share.percent : rule.share.count;
}

/** What the rules say about one profile on its own (duplicates and capacity depend on others). */
export interface ProfileVerdicts {
  /** Bit `b` set: per-profile rule `b` (see CompiledRules.profileRules) would exclude it. */
  mask: number;
  /** The mailbox the address reaches (null for an invalid address). */
  mailbox: string | null;
  /** Messages in the window, per pressure rule. */
  counts: number[];
  /** Rank keys per capacity rule: higher is kept first. */
  keys: number[];
  /** Places in the draw per control group rule: lowest is held out first; -1 when its condition leaves the profile out. */
  draws: number[];
}

/** A per-profile rule, compiled once and bound to each block: tests the profile at a position. */
type ColumnTest = (block: ProfileBlockView) => (position: number, validAddress: boolean) => boolean;
type ColumnKey = (block: ProfileBlockView) => (position: number) => number;

/** The rules bound to one block. */
export interface BoundRules {
  readonly block: ProfileBlockView;
  readonly emails: ArrayLike<AttributeValue | undefined>;
  readonly flags: ArrayLike<number>;
  readonly tests: ((position: number, validAddress: boolean) => boolean)[];
  readonly keys: ((position: number) => number)[];
  readonly draws: ((position: number) => number)[];
  /** With a local send time: per pressure rule, the counts around the profile's own send time; null: the delivery's. */
  readonly pressureCounts: ((position: number) => MessageCounts)[] | null;
}

export class CompiledRules {
  /** Per-profile filtering rules, by bit. */
  readonly profileRules: { rule: number; test: ColumnTest }[] = [];
  /** Per pressure rule: the counts around the delivery's send time, and around another send time (a zone's local hour), made once each. */
  readonly pressure: { rule: number; counts: MessageCounts; countsAt: (at: number) => MessageCounts }[] = [];
  readonly #sendTimeOf: RuleContext['sendTimeOf'];
  readonly capacity: { rule: number; used: number; key: ColumnKey }[] = [];
  readonly holdout: { rule: number; draw: ColumnKey }[] = [];
  /** The rule index of the duplicate-address rule, or -1. */
  readonly duplicate: number;
  readonly #engagement: EngagementIndex | undefined;

  constructor(
    readonly rules: readonly RecipientRule[],
    context: RuleContext,
  ) {
    let duplicate = -1;
    rules.forEach((rule, index) => {
      if (rule.kind === 'filtering') {
        if (rule.check === 'duplicate-address') duplicate = index;
        else this.profileRules.push({ rule: index, test: columnTest(rule, context) });
      } else if (rule.kind === 'pressure') {
        const around = new Map<number, MessageCounts>();
        const counts = countMessages(context, rule.days);
        around.set(context.sendAt.getTime(), counts);
        const countsAt = (at: number) => {
          let found = around.get(at);
          if (!found) around.set(at, (found = countMessages({ ...context, sendAt: new Date(at) }, rule.days)));
          return found;
        };
        this.pressure.push({ rule: index, counts, countsAt });
      } else if (rule.kind === 'holdout') {
        this.holdout.push({ rule: index, draw: drawKey(rule, context) });
      } else {
        this.capacity.push({ rule: index, used: rule.per === 'day' ? sentOnSendDay(context) : 0, key: rankKey(rule, context.deliveryId) });
      }
    });
    this.duplicate = duplicate;
    this.#engagement = context.engagement;
    this.#sendTimeOf = context.sendTimeOf;
  }

  /** Returns the rules bound to a block: each reads only the columns it needs. */
  bind(block: ProfileBlockView): BoundRules {
    return {
      block,
      emails: block.column('email'),
      flags: block.flags(),
      tests: this.profileRules.map((r) => r.test(block)),
      keys: this.capacity.map((c) => c.key(block)),
      draws: this.holdout.map((h) => h.draw(block)),
      pressureCounts: this.pressureCountsOf(block),
    };
  }

  /**
   * Returns, per pressure rule, the counts that apply to the profile at a position: around its
   * own send time with a local time; null without one (the delivery's counts apply to all).
   */
  private pressureCountsOf(block: ProfileBlockView): ((position: number) => MessageCounts)[] | null {
    const sendTimeOf = this.#sendTimeOf;
    if (!sendTimeOf || this.pressure.length === 0) return null;
    const zones = block.column('time_zone');
    return this.pressure.map((p) => (i) => p.countsAt(sendTimeOf(zones[i] as string | null | undefined)));
  }

  /** Returns what the rules say about one profile (for a trace). */
  evaluate(profile: Profile): ProfileVerdicts {
    const view = profilesView([profile]);
    const bound = this.bind(this.#engagement ? this.#engagement.view(view) : view);
    const valid = (bound.flags[0] & INVALID_ADDRESS) === 0;
    return {
      mask: maskAt(bound, 0, valid),
      mailbox: valid ? mailboxAt(bound, 0) : null,
      counts: this.pressure.map((p, k) => (bound.pressureCounts ? bound.pressureCounts[k](0) : p.counts)[profile.id] ?? 0),
      keys: bound.keys.map((key) => key(0)),
      draws: bound.draws.map((draw) => draw(0)),
    };
  }
}

/** The per-profile rules that would exclude the profile at a position, as bits. */
function maskAt(bound: BoundRules, position: number, validAddress: boolean): number {
  let mask = 0;
  for (let b = 0; b < bound.tests.length; b++) if (bound.tests[b](position, validAddress)) mask |= 1 << b;
  return mask;
}

/** The mailbox of the (valid) address at a position: the address itself, unless its flags say otherwise. */
function mailboxAt(bound: BoundRules, position: number): string {
  const email = String(bound.emails[position] ?? '');
  return bound.flags[position] & MAILBOX_DIFFERS ? mailboxKey(email) : email;
}

function columnTest(rule: Extract<RecipientRule, { kind: 'filtering' }>, context: RuleContext): ColumnTest {
  const flag =
    (bit: number): ColumnTest =>
    (block) => {
      const flags = block.flags();
      return (i) => (flags[i] & bit) !== 0;
    };
  switch (rule.check) {
    case 'unsubscribed':
      return flag(UNSUBSCRIBED);
    case 'denylisted':
      return flag(DENYLISTED);
    case 'quarantined':
      return flag(QUARANTINED);
    case 'pending':
      return flag(PENDING);
    case 'invalid-address':
      return () => (_, valid) => !valid;
    case 'condition': {
      const matches = compileAudienceColumns(rule.filter, context.schema, context.now);
      return (block) => {
        const test = matches(block);
        return (i) => test(i);
      };
    }
    case 'duplicate-address':
      throw new Error('duplicates are not decided per profile');
  }
}

/** Messages per profile id (undefined past the highest id counted). */
type MessageCounts = Uint16Array;

/** Messages per profile of the other deliveries within `days` days either side of the send time. */
function countMessages(context: RuleContext, days: number): MessageCounts {
  const at = context.sendAt.getTime();
  const counted = context.history.filter((e) => e.deliveryId !== context.deliveryId && Math.abs(Date.parse(e.at) - at) < days * DAY);
  let highest = 0;
  for (const entry of counted) for (let i = 0; i < entry.profileIds.length; i++) highest = Math.max(highest, entry.profileIds[i]);
  // Indexed by profile id: ids are dense (assigned in order), so this is the fastest lookup.
  const counts = new Uint16Array(counted.length ? highest + 1 : 0);
  for (const entry of counted) {
    for (let i = 0; i < entry.profileIds.length; i++) {
      const id = entry.profileIds[i];
      if (counts[id] < 65_535) counts[id]++;
    }
  }
  return counts;
}

/** Messages of the other deliveries on the send day (UTC). */
function sentOnSendDay(context: RuleContext): number {
  const day = context.sendAt.toISOString().slice(0, 10);
  let sent = 0;
  for (const entry of context.history) {
    if (entry.deliveryId !== context.deliveryId && new Date(entry.at).toISOString().slice(0, 10) === day) sent += entry.profileIds.length;
  }
  return sent;
}

/** Returns the key a capacity rule keeps profiles by (higher first; no value last). */
function rankKey(rule: CapacityRule, deliveryId: string): ColumnKey {
  const order = rule.keepFirst;
  if (order.by === 'random') {
    // Deterministic: the same delivery ranks the same profiles the same way every time.
    const seed = stringSeed(deliveryId);
    return (block) => (i) => mix(seed ^ block.ids[i]);
  }
  const sign = order.direction === 'desc' ? 1 : -1;
  return (block) => {
    const values = block.column(order.field);
    return (i) => {
      const value = values[i];
      const n = typeof value === 'number' ? value : typeof value === 'boolean' ? Number(value) : timeOf(value);
      return Number.isNaN(n) ? -Infinity : sign * n;
    };
  };
}

/**
 * Returns a control group's draw: a profile's place, from the delivery's id, the rule's and
 * its own (the same delivery draws the same people every time it is prepared; another
 * delivery, or another control group, draws others); -1 for a profile its condition leaves out.
 */
function drawKey(rule: HoldoutRule, context: RuleContext): ColumnKey {
  const seed = stringSeed(`${context.deliveryId}\u0000${rule.id}`);
  const among = rule.among && rule.among.kind !== 'all' ? compileAudienceColumns(rule.among, context.schema, context.now) : null;
  return (block) => {
    const matches = among ? among(block) : null;
    return (i) => (matches && !matches(i) ? -1 : placeInDraw(seed, block.ids[i]));
  };
}

export function stringSeed(text: string): number {
  return fnv1a(text) >>> 0;
}

/** A profile's place in a random draw of the given seed (stringSeed): the same every time, spread evenly over consecutive ids. */
export const placeInDraw = (seed: number, id: number) => mix(seed ^ mix(id));

// A 32-bit integer hash (lowbias32): spreads consecutive ids evenly.
function mix(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** Targeted profiles as decisions need them, in preparation order. */
export interface Analysis {
  length: number;
  masks: Uint32Array;
  /** A number per mailbox (same number, same mailbox); -1 for an invalid address. */
  mailboxes: Int32Array;
  /** Per pressure rule (CompiledRules.pressure order): messages in the window. */
  counts: Uint16Array[];
  /** Per capacity rule: rank keys. */
  keys: Float64Array[];
  /** Per control group rule: places in its draw (-1: not drawn from). */
  draws: Float64Array[];
}

/** Records targeted profiles into an analysis. */
export class AnalysisBuilder {
  private capacity = 1024;
  private readonly mailboxIds = new MailboxNumbers();
  readonly analysis: Analysis;

  constructor(readonly compiled: CompiledRules) {
    this.analysis = {
      length: 0,
      masks: new Uint32Array(this.capacity),
      mailboxes: new Int32Array(this.capacity),
      counts: compiled.pressure.map(() => new Uint16Array(this.capacity)),
      keys: compiled.capacity.map(() => new Float64Array(this.capacity)),
      draws: compiled.holdout.map(() => new Float64Array(this.capacity)),
    };
  }

  /** Records the profile at `position` of a bound block; returns its index in the analysis. */
  add(bound: BoundRules, position: number): number {
    const a = this.analysis;
    if (a.length === this.capacity) this.grow();
    const i = a.length++;
    // Validity and mailbox were worked out when the profile was written (profileFlags).
    const valid = (bound.flags[position] & INVALID_ADDRESS) === 0;
    a.masks[i] = maskAt(bound, position, valid);
    let mailbox = -1;
    if (valid) mailbox = this.mailboxIds.numberOf(mailboxAt(bound, position));
    a.mailboxes[i] = mailbox;
    const id = bound.block.ids[position];
    const pressure = this.compiled.pressure;
    const own = bound.pressureCounts;
    for (let p = 0; p < pressure.length; p++) a.counts[p][i] = (own ? own[p](position) : pressure[p].counts)[id] ?? 0;
    for (let c = 0; c < bound.keys.length; c++) a.keys[c][i] = bound.keys[c](position);
    for (let h = 0; h < bound.draws.length; h++) a.draws[h][i] = bound.draws[h](position);
    return i;
  }

  /** Returns the analysis trimmed to its length (call after the last profile). */
  finish(): Analysis {
    const a = this.analysis;
    return {
      length: a.length,
      masks: a.masks.slice(0, a.length),
      mailboxes: a.mailboxes.slice(0, a.length),
      counts: a.counts.map((c) => c.slice(0, a.length)),
      keys: a.keys.map((k) => k.slice(0, a.length)),
      draws: a.draws.map((d) => d.slice(0, a.length)),
    };
  }

  private grow(): void {
    const a = this.analysis;
    this.capacity *= 2;
    const grown = <T extends Uint32Array | Int32Array | Uint16Array | Float64Array>(array: T, make: (n: number) => T): T => {
      const next = make(this.capacity);
      next.set(array);
      return next;
    };
    a.masks = grown(a.masks, (n) => new Uint32Array(n));
    a.mailboxes = grown(a.mailboxes, (n) => new Int32Array(n));
    a.counts = a.counts.map((c) => grown(c, (n) => new Uint16Array(n)));
    a.keys = a.keys.map((k) => grown(k, (n) => new Float64Array(n)));
    a.draws = a.draws.map((d) => grown(d, (n) => new Float64Array(n)));
  }
}

/**
 * Numbers mailboxes in the order they are first seen: an open-addressing hash table over
 * typed arrays. A Map of a million fresh strings spends most of a preparation's time; this
 * hashes each key once and compares strings only on a hash match.
 */
class MailboxNumbers {
  private keys: string[] = [];
  private hashes: Int32Array<ArrayBuffer> = new Int32Array(0);
  /** Slot → mailbox number + 1 (0: empty). */
  private slots = new Int32Array(1 << 12);

  numberOf(key: string): number {
    if (this.keys.length * 2 >= this.slots.length) this.grow();
    const hash = fnv1a(key);
    const mask = this.slots.length - 1;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot];
      if (entry === 0) {
        const number = this.keys.length;
        this.keys.push(key);
        if (number >= this.hashes.length) this.hashes = growInt32(this.hashes, Math.max(1024, number * 2));
        this.hashes[number] = hash;
        this.slots[slot] = number + 1;
        return number;
      }
      if (this.hashes[entry - 1] === hash && this.keys[entry - 1] === key) return entry - 1;
    }
  }

  private grow(): void {
    const slots = new Int32Array(this.slots.length * 2);
    const mask = slots.length - 1;
    for (let number = 0; number < this.keys.length; number++) {
      let slot = this.hashes[number] & mask;
      while (slots[slot] !== 0) slot = (slot + 1) & mask;
      slots[slot] = number + 1;
    }
    this.slots = slots;
  }
}

function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h ^ (h >>> 15);
}

function growInt32(array: Int32Array<ArrayBuffer>, size: number): Int32Array<ArrayBuffer> {
  const next = new Int32Array(size);
  next.set(array);
  return next;
}

/**
 * Decides, profile by profile in preparation order, which rule (if any) before capacity
 * excludes each recorded profile. Keeps the mailboxes already kept, so call it once per
 * index, in order.
 */
export class Decider {
  /** Mailboxes already kept, by mailbox number. */
  private kept = new Uint8Array(1024);
  private readonly order: { rule: number; bit: number; pressure: number; limit: number }[] = [];
  private readonly dedupe: boolean;

  constructor(
    private readonly compiled: CompiledRules,
    settings: RuleSettings,
  ) {
    const { rules } = compiled;
    rules.forEach((rule, index) => {
      // Someone who has not confirmed a double opt-in is never mailed: no what-if switches that off.
      const always = rule.kind === 'filtering' && rule.check === 'pending';
      if (!settings.enabled.has(rule.id) && !always) return;
      const bit = compiled.profileRules.findIndex((p) => p.rule === index);
      const pressure = compiled.pressure.findIndex((p) => p.rule === index);
      if (bit >= 0 || pressure >= 0) this.order.push({ rule: index, bit, pressure, limit: settings.limits.get(rule.id) ?? Infinity });
    });
    this.dedupe = compiled.duplicate >= 0 && settings.enabled.has(rules[compiled.duplicate].id);
  }

  /** Returns the index of the rule that excludes profile `i` of the analysis, or -1 when it stays a candidate. */
  decide(a: Analysis, i: number): number {
    const mask = a.masks[i];
    for (const step of this.order) {
      if (step.bit >= 0 ? (mask >>> step.bit) & 1 : a.counts[step.pressure][i] >= step.limit) return step.rule;
    }
    const mailbox = a.mailboxes[i];
    if (this.dedupe && mailbox >= 0) {
      if (mailbox >= this.kept.length) {
        const kept = new Uint8Array(Math.max(mailbox + 1, this.kept.length * 2));
        kept.set(this.kept);
        this.kept = kept;
      }
      if (this.kept[mailbox]) return this.compiled.duplicate;
      this.kept[mailbox] = 1;
    }
    return -1;
  }
}

/** True when a rule that decides over all the candidates together (capacity, control group) is on: candidates wait for the end. */
export function decidesAtTheEnd(compiled: CompiledRules, settings: RuleSettings): boolean {
  return [...compiled.capacity, ...compiled.holdout].some((r) => settings.enabled.has(compiled.rules[r.rule].id));
}

/**
 * Applies the enabled capacity rules, then the control groups, to the candidates (analysis
 * indexes, in preparation order): returns, per candidate, the index of the rule that
 * excludes it (as overflow, or held out), or -1.
 */
export function decideAmongKept(compiled: CompiledRules, settings: RuleSettings, a: Analysis, candidates: Int32Array): Int32Array {
  const outcome = new Int32Array(candidates.length).fill(-1);
  compiled.capacity.forEach((capacity, c) => {
    const rule = compiled.rules[capacity.rule];
    if (!settings.enabled.has(rule.id)) return;
    const cap = Math.max(0, (settings.limits.get(rule.id) ?? Infinity) - capacity.used);
    const remaining: number[] = [];
    for (let k = 0; k < candidates.length; k++) if (outcome[k] < 0) remaining.push(k);
    if (remaining.length <= cap) return;
    const keys = a.keys[c];
    // Highest key first; ties keep preparation order. The end of the order is the overflow.
    remaining.sort((x, y) => keys[candidates[y]] - keys[candidates[x]] || x - y);
    for (let r = cap; r < remaining.length; r++) outcome[remaining[r]] = capacity.rule;
  });
  compiled.holdout.forEach((holdout, h) => {
    const rule = compiled.rules[holdout.rule] as HoldoutRule;
    if (!settings.enabled.has(rule.id)) return;
    const draws = a.draws[h];
    const eligible: number[] = [];
    for (let k = 0; k < candidates.length; k++) if (outcome[k] < 0 && draws[candidates[k]] >= 0) eligible.push(k);
    const value = settings.limits.get(rule.id) ?? limitOf(rule);
    const size = 'percent' in rule.share ? Math.round((eligible.length * value) / 100) : Math.min(value, eligible.length);
    // Lowest place first; ties (a hash collision) keep preparation order.
    eligible.sort((x, y) => draws[candidates[x]] - draws[candidates[y]] || x - y);
    for (let r = 0; r < size; r++) outcome[eligible[r]] = holdout.rule;
  });
  return outcome;
}

/** Counts exclusions per rule index into KPIs. */
export class KpiTally {
  private readonly perRule: Int32Array;
  targeted = 0;

  constructor(private readonly rules: readonly RecipientRule[]) {
    this.perRule = new Int32Array(rules.length);
  }

  exclude(rule: number): void {
    this.perRule[rule]++;
  }

  kpis(): PreparationKpis {
    const excludedByCause: Partial<Record<ExclusionCause, number>> = {};
    const excludedByRule: Record<string, number> = {};
    let excluded = 0;
    this.rules.forEach((rule, index) => {
      const count = this.perRule[index];
      if (count === 0) return;
      excluded += count;
      const cause = causeOf(rule);
      excludedByCause[cause] = (excludedByCause[cause] ?? 0) + count;
      excludedByRule[rule.name] = count;
    });
    return { targeted: this.targeted, toDeliver: this.targeted - excluded, excluded, excludedByCause, excludedByRule };
  }
}

/** Returns the KPIs the analysed profiles would give under `settings`, without reading the audience again. */
export function whatIf(compiled: CompiledRules, a: Analysis, settings: RuleSettings): PreparationKpis {
  const decider = new Decider(compiled, settings);
  const tally = new KpiTally(compiled.rules);
  tally.targeted = a.length;
  const candidates = new Int32Array(a.length);
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    const rule = decider.decide(a, i);
    if (rule >= 0) tally.exclude(rule);
    else candidates[n++] = i;
  }
  const overflow = decideAmongKept(compiled, settings, a, candidates.subarray(0, n));
  for (const rule of overflow) if (rule >= 0) tally.exclude(rule);
  return tally.kpis();
}
