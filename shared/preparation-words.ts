/**
 * The words of a preparation: every line of its log, and every problem the checks it runs can
 * find (the A/B test, the translations, the send time, the seeds, the control rules), one
 * function per kind, fed its figures and names. ENGLISH_WORDS are the default: the server's
 * preparations, and every check called without words, say them. The app gives the preparation
 * (and the checks it shows) words in the marketer's language instead.
 *
 * English figures are written bare ("Targeted 12345"), as they always were; other words may
 * group them as their language does.
 */

import type { AddressProblem } from './email-address';
import type { WinnerCriterion } from './experiment';
import { PART_NAMES, type MessagePart } from './message';

/** Whose content a line is about: a variant of the A/B test, a translation (by its locale), or null for the delivery's own. */
export type ContentOf = { variant: string } | { translation: string } | null;

export interface PreparationWords {
  // The preparation's own lines.
  started(p: { delivery: string; version: number; typology: string }): string;
  abTestProblem(p: { problem: string }): string;
  languagesProblem(p: { problem: string }): string;
  /** Said after "A/B test: ". */
  abTestWithLanguages(): string;
  templateError(p: { of: ContentOf; part: MessagePart; line: number; column: number; message: string }): string;
  /** What a control rule found, `rule` being its name. */
  control(p: { of: ContentOf; rule: string; message: string }): string;
  wavesWithAbTest(): string;
  localTimeWithAbTest(): string;
  localTimeWithWaves(): string;
  localTimeWithoutSendAt(): string;
  /** `variants`: how many variants each seed gets a copy of, or null for one message. */
  seeds(p: { seeds: readonly string[]; variants: number | null }): string;
  figures(p: { targeted: number; toDeliver: number; excluded: number }): string;
  /** `own`: how many get the delivery's own content. */
  languages(p: { counts: readonly { locale: string; count: number }[]; own: number }): string;
  excludedByRule(p: { rule: string; count: number }): string;
  /** `first` and `latest` as "2026-11-28 10:00" (UTC). */
  localTime(p: { first: string; latest: string; windowHours: number | null }): string;
  wavesTooLong(p: { count: number; everyHours: number; hours: number; validityHours: number }): string;
  waves(p: { messages: number; count: number; everyHours: number }): string;
  abTestTooSmall(p: { test: number; variants: number }): string;
  abTest(p: {
    test: number;
    perVariant: readonly { name: string; count: number }[];
    remainder: number;
    criterion: WinnerCriterion;
    waitHours: number;
  }): string;
  targetEmpty(): string;
  allExcluded(): string;
  htmlClipped(p: { kilobytes: number }): string;
  personalized(p: { kilobytes: number }): string;
  finished(p: { failed: boolean; errors: number; warnings: number }): string;

  // What is wrong with an A/B test (experimentProblem).
  variantCount(p: { max: number }): string;
  variantUnchanged(p: { name: string }): string;
  testPercent(): string;
  testCount(): string;
  criterionMissing(): string;
  winnerWait(p: { min: number; max: number }): string;

  // What is wrong with the translations (translationsProblem).
  translationsMax(p: { max: number }): string;
  notALocale(p: { locale: string }): string;
  localeTwice(p: { locale: string }): string;
  translationUnchanged(p: { locale: string }): string;

  // What is wrong with a local send time or waves (localTimeProblem, wavesProblem).
  notATime(p: { at: string }): string;
  notATimeZone(p: { zone: string }): string;
  sendingWindow(): string;
  waveSizes(p: { max: number }): string;
  waveInterval(): string;

  // What is wrong with the seed addresses (seedsOf).
  seedAddress(p: { typed: string; problem: AddressProblem }): string;
  seedsMax(p: { count: number; max: number }): string;

  // What the control rules find (checkMessage, publicUrlProblems).
  subjectEmpty(): string;
  subjectLong(): string;
  fromUnusable(p: { address: string; problem: AddressProblem }): string;
  unknownField(p: { field: string }): string;
  noUnsubscribeLink(): string;
  linkNotAbsolute(p: { link: string }): string;
  textPartEmpty(): string;
  htmlLarge(): string;
  /** `images`: the sources of the images without alt text. */
  imagesWithoutAlt(p: { images: readonly string[] }): string;
  /** `links`: the targets of the links without text. */
  linksWithoutText(p: { links: readonly string[] }): string;
  noPreheader(): string;
  darkText(p: { colours: readonly string[] }): string;
  /** `images`: how many images were weighed; `uncounted`: how many come from elsewhere, unweighed. */
  totalSize(p: { totalBytes: number; htmlBytes: number; imageBytes: number; images: number; uncounted: number }): string;
  publicUrlInvalid(p: { url: string }): string;
  publicUrlLocal(p: { origin: string }): string;
  publicUrlHttp(p: { origin: string }): string;
}

/**
 * Returns the first three items quoted (each cut to 60 characters) and joined with ", ", as
 * `more(shown, left)` says them when `left` more are left out: the list of offending images
 * or links, in every language.
 */
export function quotedList(items: readonly string[], more: (shown: string, left: number) => string): string {
  const shown = items
    .slice(0, 3)
    .map((item) => `"${item.length > 60 ? `${item.slice(0, 57)}...` : item}"`)
    .join(', ');
  return items.length > 3 ? more(shown, items.length - 3) : shown;
}

/** The English name of a variant or translation in the middle of a sentence. */
const nameOf = (of: NonNullable<ContentOf>) => ('variant' in of ? `variant ${of.variant}` : `the ${of.translation} translation`);
const atStart = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
const andMore = (shown: string, left: number) => `${shown} and ${left} more`;
const megabytes = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(2)} MB`;

/** CRITERION_LABELS (experiment.ts), which cannot be imported here: experiment.ts imports these words. */
const CRITERIA: Record<WinnerCriterion, string> = {
  opens: 'unique opens',
  clicks: 'unique clicks',
  unsubscribes: 'the lowest unsubscribe rate',
};

export const ENGLISH_WORDS: PreparationWords = {
  started: ({ delivery, version, typology }) =>
    `Preparation of "${delivery}" (version ${version}) started with the typology "${typology}".`,
  abTestProblem: ({ problem }) => `A/B test: ${problem}`,
  languagesProblem: ({ problem }) => `Content by language: ${problem}`,
  abTestWithLanguages: () => 'an A/B test and content by language cannot be combined: each recipient gets one variant. Keep one.',
  templateError: ({ of, part, line, column, message }) =>
    `Template error in ${of ? `${nameOf(of)}'s ` : 'the '}${PART_NAMES[part]} at line ${line}, column ${column}: ${message}.`,
  control: ({ of, rule, message }) => `${of ? `${atStart(nameOf(of))}: ` : ''}${rule}: ${message}`,
  wavesWithAbTest: () => 'Waves and an A/B test cannot be combined: the test population would be split across the waves. Keep one.',
  localTimeWithAbTest: () =>
    "A local send time and an A/B test cannot be combined: the winner would be chosen before the test population's local hours come. Keep one.",
  localTimeWithWaves: () => 'A local send time and waves cannot be combined: keep one.',
  localTimeWithoutSendAt: () =>
    "A local send time counts from the delivery's Send at: set the date and time from which each recipient's local hour is taken.",
  seeds: ({ seeds, variants }) =>
    `Seeds: ${seeds.join(', ')} receive ${variants ? `a copy of each of the ${variants} variants` : 'a copy of the message'}, marked as seed and counted in no figure.`,
  figures: ({ targeted, toDeliver, excluded }) => `Targeted ${targeted}, to deliver ${toDeliver}, excluded ${excluded}.`,
  languages: ({ counts, own }) =>
    `Content by language: ${counts.map((c) => `${c.count} in ${c.locale}`).join(', ')}; ${own} get the delivery's own content.`,
  excludedByRule: ({ rule, count }) => `Excluded by the rule "${rule}": ${count}.`,
  localTime: ({ first, latest, windowHours }) =>
    `Local time: each message is due at its recipient's local time, from ${first} to ${latest} UTC${windowHours ? `; one that misses its ${windowHours} h window waits for the same time the next day` : ''}.`,
  wavesTooLong: ({ count, everyHours, hours, validityHours }) =>
    `Waves: ${count} waves every ${everyHours} h take ${hours} h from the start, more than the ${validityHours} h a message is tried for: make the waves larger or closer together.`,
  waves: ({ messages, count, everyHours }) =>
    `Waves: ${messages} messages in ${count} wave${count === 1 ? '' : 's'}, one every ${everyHours} h from the start.`,
  abTestTooSmall: ({ test, variants }) => `A/B test: a test population of ${test} cannot try ${variants} variants; make it larger.`,
  abTest: ({ test, perVariant, remainder, criterion, waitHours }) =>
    `A/B test: ${test} in the test population (${perVariant.map((v) => `${v.name} ${v.count}`).join(', ')}); ${remainder} wait for the winner, chosen by ${CRITERIA[criterion]} ${waitHours} h after the start.`,
  targetEmpty: () => 'The target is empty: no profile matches the audience. Change the audience and prepare again.',
  allExcluded: () => 'Every targeted profile was excluded: there is nobody to send to.',
  htmlClipped: ({ kilobytes }) => `HTML size: the largest message is ${kilobytes} KB once personalized; Gmail clips it above 102 KB.`,
  personalized: ({ kilobytes }) => `Messages personalized; the largest HTML part is ${kilobytes} KB.`,
  finished: ({ failed, errors, warnings }) =>
    `Preparation ${failed ? 'failed' : 'finished'}: ${count(errors, 'error', 'errors')}, ${count(warnings, 'warning', 'warnings')}.`,

  variantCount: ({ max }) => `An A/B test has 2 to ${max} variants: add a variant B, or remove some.`,
  variantUnchanged: ({ name }) => `Variant ${name} changes nothing: give it its own subject, From name, preheader or content.`,
  testPercent: () => 'The test population is a percentage between 1 and 100 of the recipients.',
  testCount: () => 'The test population is a whole number of at least 2 recipients.',
  criterionMissing: () => 'Choose how the winner is chosen: unique opens, unique clicks or the lowest unsubscribe rate.',
  winnerWait: ({ min, max }) => `The winner is chosen between ${min} and ${max} hours after the start.`,

  translationsMax: ({ max }) => `A delivery holds at most ${max} translations.`,
  notALocale: ({ locale }) => `"${locale}" is not a locale: give a language code as profiles hold it, such as nl, de or fr-BE.`,
  localeTwice: ({ locale }) => `The locale ${locale} has two translations: keep one.`,
  translationUnchanged: ({ locale }) => `The ${locale} translation changes nothing: give it a subject or a body.`,

  notATime: ({ at }) => `"${at}" is no time of day: give it as HH:MM, 24-hour (09:30).`,
  notATimeZone: ({ zone }) => `"${zone}" is no time zone: give an IANA name (Europe/Amsterdam) for those without one.`,
  sendingWindow: () => 'The sending window is 0.5 to 23 hours after the local time (or none).',
  waveSizes: ({ max }) =>
    `Waves: give 1 to ${max} wave sizes, each a whole number from 1 to 10,000,000 (e.g. 1000 2000 5000 for a new IP).`,
  waveInterval: () => 'Waves: one wave every 0.25 to 168 hours.',

  seedAddress: ({ typed, problem }) => `Seed address "${typed}": ${problem}; correct it or remove it.`,
  seedsMax: ({ count, max }) => `${count} seed addresses are more than ${max}: remove some.`,

  subjectEmpty: () => 'The subject is empty: write a subject line.',
  subjectLong: () => 'The subject is longer than 200 characters and will be cut by most mail clients.',
  fromUnusable: ({ address, problem }) => `The From address "${address}" is not usable: ${problem}.`,
  unknownField: ({ field }) => `The field "${field}" does not exist in the audience.`,
  noUnsubscribeLink: () => 'The message has no unsubscribe link: add {{ unsubscribe_url }} to the body.',
  linkNotAbsolute: ({ link }) => `The link "${link}" is not an absolute http(s) URL.`,
  textPartEmpty: () =>
    'The text part derived from the HTML is empty (the body is only markup, or images without alt text): add some text to the body.',
  htmlLarge: () => 'The HTML body is larger than 102 KB: Gmail will clip it.',
  imagesWithoutAlt: ({ images }) =>
    `${count(images.length, 'image has', 'images have')} no alt text (${quotedList(images, andMore)}): add alt="…" saying what it shows, or alt="" when it only decorates; many inboxes block images at first, and screen readers read the alt.`,
  linksWithoutText: ({ links }) =>
    `${count(links.length, 'link has', 'links have')} nothing to read (${quotedList(links, andMore)}): give each a text, or an image with alt text, so that readers (and screen readers) know where it goes.`,
  noPreheader: () =>
    'The message has no preheader: inboxes show the start of its text after the subject. Write one in the Preheader field (or put a hidden element first in the body).',
  darkText: ({ colours }) =>
    `Dark text colours are set (${colours.join(', ')}) but no background colour: a dark-mode client that darkens the background and keeps them shows dark on dark. Set a background colour with them (on the body or its outer table).`,
  totalSize: ({ totalBytes, htmlBytes, imageBytes, images, uncounted }) =>
    `The message weighs ${megabytes(totalBytes)} with its images (the HTML ${megabytes(htmlBytes)}, ${count(images, 'image', 'images')} ${megabytes(imageBytes)}${uncounted > 0 ? `; ${count(uncounted, 'image from elsewhere is', 'images from elsewhere are')} not counted` : ''}): it loads slowly on a phone's data. Make the images smaller (under 200 KB each is a good aim).`,
  publicUrlInvalid: ({ url }) => `The server's public address "${url}" is not a URL: set MAILROOM_PUBLIC_URL to an https address.`,
  publicUrlLocal: ({ origin }) =>
    `Unsubscribe and tracking links point at ${origin}, which recipients cannot reach: set MAILROOM_PUBLIC_URL on the server to its public https address.`,
  publicUrlHttp: ({ origin }) =>
    `Unsubscribe and tracking links use plain http (${origin}): set MAILROOM_PUBLIC_URL on the server to an https address.`,
};
