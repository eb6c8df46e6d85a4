/** Domain types shared by the app, the worker and the server. Pure data: no behaviour. */

import type { AudienceFilter } from './audience-filter';
import type { ContentSource } from './content-source';
import type { Experiment, Translation } from './experiment';
import type { LocalTime, Waves } from './send-time';

export type SubscriptionStatus = 'subscribed' | 'unsubscribed';

/** The types a custom attribute can have. Dates are ISO dates (YYYY-MM-DD); tags are a list of words. */
export type AttributeType = 'text' | 'number' | 'date' | 'boolean' | 'tags';

export type AttributeValue = string | number | boolean | string[] | null;

/** A custom attribute declared in the audience schema; `name` is how templates and filters refer to it. */
export interface AttributeDefinition {
  name: string;
  label: string;
  type: AttributeType;
}

/** A profile as the audience of record holds it and as the replica copies it. */
export interface Profile {
  id: number;
  /** Trimmed and lower-cased; unique in the audience. */
  email: string;
  firstName: string;
  lastName: string;
  locale: string;
  timeZone: string;
  status: SubscriptionStatus;
  statusChangedAt: string | null;
  /** Where the status came from: "import", "unsubscribe link of delivery …", "operator". */
  statusSource: string | null;
  /** On the denylist of record (by address). */
  denylisted: boolean;
  /** Quarantined after a hard bounce or a complaint. */
  quarantined: boolean;
  /** Signed up through a double opt-in form and not confirmed yet: never mailed (absent: false). */
  pending?: boolean;
  attributes: Record<string, AttributeValue>;
  createdAt: string;
  updatedAt: string;
}

/** A profile as an import, the demo seed or a test provides it: the address is normalized on the way in. */
export interface ProfileInput {
  email: string;
  firstName?: string;
  lastName?: string;
  locale?: string;
  timeZone?: string;
  status?: SubscriptionStatus;
  attributes?: Record<string, AttributeValue>;
  /**
   * A new profile signed up through a double opt-in form: pending until confirmed (true), or
   * confirmed now (false clears it). Absent: unchanged. A pending profile may be written at an
   * erased address: it is not mailed unless its owner confirms.
   */
  pending?: boolean;
}

export type DeliveryStatus = 'draft' | 'preparing' | 'prepared' | 'failed' | 'scheduled' | 'sending' | 'paused' | 'stopped' | 'completed';

/** What the marketer edits. Any change to it invalidates a preparation. */
export interface DeliveryContent {
  name: string;
  fromName: string;
  fromAddress: string;
  subject: string;
  /** The hidden text inboxes show after the subject (Liquid); '' for none of its own. */
  preheader: string;
  html: string;
  /** The text part as written (Liquid); '' to derive it from the HTML. */
  text: string;
  /**
   * Where the HTML comes from when it is made, not written: MJML, or the visual builder's
   * blocks (content-source.ts); `html` then holds what they compile to. Absent or null: written as HTML.
   */
  source?: ContentSource | null;
  audience: AudienceFilter;
  /** ISO date-time at which sending starts by itself, or null to send on demand. */
  scheduledAt: string | null;
  /** The typology whose rules the preparation applies. */
  typologyId: string;
  /**
   * The relay it is sent through (an id of the sending settings' relays: 'main' or a further
   * one); absent or null routes by the From domain. It changes no message: no new preparation.
   */
  relayId?: string | null;
  /** An A/B test of variants of the subject, From name, preheader or content (experiment.ts); absent or null: none. */
  experiment?: Experiment | null;
  /** Seed addresses of this delivery, besides its typology's: each gets a copy of every variant, marked as a seed, in no figure. */
  seeds?: string[];
  /** Each recipient's message is due at this time of day in their own time zone (send-time.ts); absent or null: at once. */
  localTime?: LocalTime | null;
  /** The messages go in waves from the start of sending (send-time.ts); absent or null: all at once. */
  waves?: Waves | null;
  /** Content by language (shared/experiment.ts): each recipient gets their locale's, the others the delivery's own. */
  translations?: Translation[] | null;
}

export interface Delivery extends DeliveryContent {
  id: string;
  version: number;
  createdAt: string;
  updatedAt: string;
}

/** Why a profile of the target population will not receive the message. */
export type ExclusionCause =
  | 'unsubscribed'
  | 'denylisted'
  | 'quarantined'
  | 'invalid-address'
  | 'duplicate-address'
  /** A marketer-defined filtering condition. */
  | 'condition'
  | 'pressure'
  | 'capacity'
  /** Held out at random by a control group rule: not mailed, so that the report can compare. */
  | 'control-group'
  /** Signed up through a double opt-in form and not confirmed yet. */
  | 'pending';

export interface Exclusion {
  profileId: number;
  email: string;
  rule: string;
  cause: ExclusionCause;
}

export type LogLevel = 'info' | 'warning' | 'error';

export interface LogLine {
  at: string;
  level: LogLevel;
  message: string;
}

/** The three preparation figures; targeted = toDeliver + excluded, always. */
export interface PreparationKpis {
  targeted: number;
  toDeliver: number;
  excluded: number;
  excludedByCause: Partial<Record<ExclusionCause, number>>;
  /** Exclusions per rule, by the rule's name (names are unique in a typology). */
  excludedByRule: Record<string, number>;
  /** With an A/B test: the test population, how many of it get each variant (A first), and the rest, who wait for the winner. */
  experiment?: { test: number; perVariant: number[]; remainder: number };
}

/**
 * A profile's value as a template reads it, typed as the audience holds it: text (dates as
 * ISO text), a number, yes/no, tags, or nil. Nil may also be left out of a values record.
 */
export type TemplateValue = string | number | boolean | readonly string[] | null;

/** One recipient of a prepared batch: who, and the values their message needs (a field without a value is left out). */
export interface PreparedRecipient {
  seq: number;
  profileId: number;
  email: string;
  subject: string;
  values: Record<string, TemplateValue>;
  /**
   * With an A/B test: the variant the recipient gets (0 for A), or absent for the rest, who
   * wait for the winner (their subject is '' until then: the winner's is rendered at sending).
   */
  variant?: number;
  /** With a local time: when the message is due (ms since the epoch); absent: when sending reaches it. */
  dueAt?: number;
}

/** Live figures of a delivery on the server. */
export interface SendKpis {
  status: DeliveryStatus;
  /** Why the delivery is in its status, when the server says (a pause by the error budget, an unreachable relay…). */
  statusReason: string | null;
  targeted: number;
  toDeliver: number;
  /** Accepted by the receiving server (2xx). */
  delivered: number;
  /** Not delivered: refused (5xx) or bounced; `bounced` of them were hard bounces. */
  failed: number;
  bounced: number;
  excludedAtSend: number;
  cancelled: number;
  unknown: number;
  remaining: number;
  /** People who opened (a click counts as an open), and their opens in all. */
  opens: number;
  totalOpens: number;
  /** People who clicked, and their clicks in all. */
  clicks: number;
  totalClicks: number;
  /** Opens by privacy proxies and clicks by link scanners: kept apart from the people's. */
  machineOpens: number;
  machineClicks: number;
  unsubscribes: number;
  firstOpenAt: string | null;
  lastOpenAt: string | null;
  firstClickAt: string | null;
  lastClickAt: string | null;
  /** Messages delivered in the last minute. */
  sendRate: number;
  updatedAt: string;
}

/** The messages one delivery sent or is to send, as pressure and capacity rules count them. */
export interface ContactHistoryEntry {
  deliveryId: string;
  /** When it sent (its first message) or is scheduled to. */
  at: string;
  profileIds: ArrayLike<number>;
}
