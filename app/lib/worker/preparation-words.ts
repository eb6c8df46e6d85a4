/**
 * The preparation's words in the marketer's language (shared/preparation-words.ts says what
 * each is): the page hands its locale to the worker with each preparation, and the worker
 * prepares with these. The page may give them to the checks it shows too (experimentProblem,
 * checkMessage and the others take words).
 *
 * The worker has no window and runs no Svelte: `m` comes from Paraglide's compiled messages,
 * not from $lib/i18n.svelte (a rune module, which the worker's bundle cannot run), and every
 * message is given its locale rather than reading the page's.
 *
 * English lines are the shared English words exactly, figures bare, as the server writes them
 * (preparation-words.test.ts holds the two together); other languages group figures as they do.
 */

import { m } from '$lib/paraglide/messages';
import { baseLocale, type Locale } from '$lib/paraglide/runtime';
import { ruleName } from '$lib/rule-names';
import { NEEDS_SMTPUTF8, type AddressProblem } from '$shared/email-address';
import type { WinnerCriterion } from '$shared/experiment';
import type { MessagePart } from '$shared/message';
import { quotedList, type ContentOf, type PreparationWords } from '$shared/preparation-words';

/** How an A/B test's winner is chosen (CRITERION_LABELS) in `locale`, or the app's language. */
export const criterionLabel = (criterion: WinnerCriterion, locale?: Locale): string =>
  ({ opens: m.worker_criterion_opens, clicks: m.worker_criterion_clicks, unsubscribes: m.worker_criterion_unsubscribes })[criterion](
    {},
    locale ? { locale } : {},
  );

/** Returns the preparation's words in `locale`. */
export function preparationWords(locale: Locale): PreparationWords {
  const o = { locale };
  const bare = locale === baseLocale;
  const numbers = new Intl.NumberFormat(locale);
  const n = (value: number) => (bare ? String(value) : numbers.format(value));
  const megabytes = (bytes: number) => {
    const size = bytes / 1024 / 1024;
    return m.worker_megabytes(
      { size: bare ? size.toFixed(2) : size.toLocaleString(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 }) },
      o,
    );
  };
  const part = (p: MessagePart) =>
    ({ subject: m.worker_part_subject, preheader: m.worker_part_preheader, html: m.worker_part_html, text: m.worker_part_text })[p]({}, o);
  const nameOf = (of: NonNullable<ContentOf>) =>
    'variant' in of ? m.worker_of_variant({ name: of.variant }, o) : m.worker_of_translation({ locale: of.translation }, o);
  const atStart = (text: string) => text.charAt(0).toUpperCase() + text.slice(1);
  const address = (problem: AddressProblem) =>
    problem === NEEDS_SMTPUTF8 ? m.worker_address_smtputf8({}, o) : m.worker_address_invalid({}, o);
  const list = (items: readonly string[]) => quotedList(items, (shown, left) => m.worker_list_more({ list: shown, count: n(left) }, o));
  const criterion = (c: WinnerCriterion) => criterionLabel(c, locale);
  const counted = (count: number) => ({ count, shown: n(count) });

  return {
    started: ({ delivery, version, typology }) => m.worker_started({ delivery, version: n(version), typology }, o),
    abTestProblem: ({ problem }) => m.worker_ab_test_problem({ problem }, o),
    languagesProblem: ({ problem }) => m.worker_languages_problem({ problem }, o),
    abTestWithLanguages: () => m.worker_ab_test_with_languages({}, o),
    templateError: ({ of, part: p, line, column, message }) => {
      const at = { part: part(p), line: n(line), column: n(column), message };
      return of ? m.worker_template_error_of({ ...at, of: nameOf(of) }, o) : m.worker_template_error(at, o);
    },
    control: ({ of, rule, message }) =>
      of
        ? m.worker_control_of({ of: atStart(nameOf(of)), rule: ruleName(rule, locale), message }, o)
        : m.worker_control({ rule: ruleName(rule, locale), message }, o),
    wavesWithAbTest: () => m.worker_waves_with_ab_test({}, o),
    localTimeWithAbTest: () => m.worker_local_time_with_ab_test({}, o),
    localTimeWithWaves: () => m.worker_local_time_with_waves({}, o),
    localTimeWithoutSendAt: () => m.worker_local_time_without_send_at({}, o),
    seeds: ({ seeds, variants }) =>
      m.worker_seeds(
        {
          seeds: seeds.join(', '),
          copies: variants ? m.worker_seed_copy_each({ count: n(variants) }, o) : m.worker_seed_copy({}, o),
        },
        o,
      ),
    figures: ({ targeted, toDeliver, excluded }) =>
      m.worker_figures({ targeted: n(targeted), toDeliver: n(toDeliver), excluded: n(excluded) }, o),
    languages: ({ counts, own }) =>
      m.worker_languages(
        { each: counts.map((c) => m.worker_language_count({ count: n(c.count), locale: c.locale }, o)).join(', '), own: n(own) },
        o,
      ),
    excludedByRule: ({ rule, count }) => m.worker_excluded_by_rule({ rule: ruleName(rule, locale), count: n(count) }, o),
    localTime: ({ first, latest, windowHours }) =>
      windowHours ? m.worker_local_time_window({ first, latest, hours: n(windowHours) }, o) : m.worker_local_time({ first, latest }, o),
    wavesTooLong: ({ count, everyHours, hours, validityHours }) =>
      m.worker_waves_too_long({ count: n(count), everyHours: n(everyHours), hours: n(hours), validityHours: n(validityHours) }, o),
    waves: ({ messages, count, everyHours }) => m.worker_waves({ ...counted(count), messages: n(messages), everyHours: n(everyHours) }, o),
    abTestTooSmall: ({ test, variants }) => m.worker_ab_test_too_small({ test: n(test), variants: n(variants) }, o),
    abTest: ({ test, perVariant, remainder, criterion: c, waitHours }) =>
      m.worker_ab_test(
        {
          test: n(test),
          each: perVariant.map((v) => m.worker_variant_figure({ name: v.name, count: n(v.count) }, o)).join(', '),
          remainder: n(remainder),
          criterion: criterion(c),
          waitHours: n(waitHours),
        },
        o,
      ),
    targetEmpty: () => m.worker_target_empty({}, o),
    allExcluded: () => m.worker_all_excluded({}, o),
    htmlClipped: ({ kilobytes }) => m.worker_html_clipped({ kilobytes: n(kilobytes) }, o),
    personalized: ({ kilobytes }) => m.worker_personalized({ kilobytes: n(kilobytes) }, o),
    finished: ({ failed, errors, warnings }) => {
      const counts = { errors: m.worker_errors(counted(errors), o), warnings: m.worker_warnings(counted(warnings), o) };
      return failed ? m.worker_failed(counts, o) : m.worker_finished(counts, o);
    },

    variantCount: ({ max }) => m.worker_variant_count({ max: n(max) }, o),
    variantUnchanged: ({ name }) => m.worker_variant_unchanged({ name }, o),
    testPercent: () => m.worker_test_percent({}, o),
    testCount: () => m.worker_test_count({}, o),
    criterionMissing: () => m.worker_criterion_missing({}, o),
    winnerWait: ({ min, max }) => m.worker_winner_wait({ min: n(min), max: n(max) }, o),

    translationsMax: ({ max }) => m.worker_translations_max({ max: n(max) }, o),
    notALocale: ({ locale }) => m.worker_not_a_locale({ locale }, o),
    localeTwice: ({ locale }) => m.worker_locale_twice({ locale }, o),
    translationUnchanged: ({ locale }) => m.worker_translation_unchanged({ locale }, o),

    notATime: ({ at }) => m.worker_not_a_time({ at }, o),
    notATimeZone: ({ zone }) => m.worker_not_a_time_zone({ zone }, o),
    sendingWindow: () => m.worker_sending_window({}, o),
    waveSizes: ({ max }) => m.worker_wave_sizes({ max: n(max) }, o),
    waveInterval: () => m.worker_wave_interval({}, o),

    seedAddress: ({ typed, problem }) => m.worker_seed_address({ typed, problem: address(problem) }, o),
    seedsMax: ({ count, max }) => m.worker_seeds_max({ count: n(count), max: n(max) }, o),

    subjectEmpty: () => m.worker_subject_empty({}, o),
    subjectLong: () => m.worker_subject_long({}, o),
    fromUnusable: ({ address: typed, problem }) => m.worker_from_unusable({ address: typed, problem: address(problem) }, o),
    unknownField: ({ field }) => m.worker_unknown_field({ field }, o),
    noUnsubscribeLink: () => m.worker_no_unsubscribe_link({}, o),
    linkNotAbsolute: ({ link }) => m.worker_link_not_absolute({ link }, o),
    textPartEmpty: () => m.worker_text_part_empty({}, o),
    htmlLarge: () => m.worker_html_large({}, o),
    imagesWithoutAlt: ({ images }) => m.worker_images_without_alt({ ...counted(images.length), list: list(images) }, o),
    linksWithoutText: ({ links }) => m.worker_links_without_text({ ...counted(links.length), list: list(links) }, o),
    noPreheader: () => m.worker_no_preheader({}, o),
    darkText: ({ colours }) => m.worker_dark_text({ colours: colours.join(', ') }, o),
    totalSize: ({ totalBytes, htmlBytes, imageBytes, images, uncounted }) => {
      const sizes = {
        total: megabytes(totalBytes),
        html: megabytes(htmlBytes),
        images: m.worker_image_count(counted(images), o),
        imageSize: megabytes(imageBytes),
      };
      return uncounted > 0
        ? m.worker_total_size_uncounted({ ...sizes, uncounted: m.worker_images_uncounted(counted(uncounted), o) }, o)
        : m.worker_total_size(sizes, o);
    },
    publicUrlInvalid: ({ url }) => m.worker_public_url_invalid({ url }, o),
    publicUrlLocal: ({ origin }) => m.worker_public_url_local({ origin }, o),
    publicUrlHttp: ({ origin }) => m.worker_public_url_http({ origin }, o),
  };
}
