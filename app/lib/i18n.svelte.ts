/**
 * The app's language, Dutch or English: the one chosen on this device (the top bar's switch),
 * else the first of the browser's languages Mailroom speaks, else English. The words are
 * Paraglide's message functions (`m.key()`, compiled from messages/{locale}/*.json by
 * `npm run i18n`); they read the locale through `i18n.locale`, a rune, so switching
 * re-renders every text at once, with no reload (a preparation under way goes on).
 *
 * Numbers, dates and times are formatted by the same locale with Intl, in the browser's own
 * variant of it when it has one (en-GB dates for a browser in British English, nl-BE for
 * one in Belgian Dutch).
 */

import {
  getLocale,
  isLocale,
  locales,
  localStorageKey,
  overwriteGetLocale,
  overwriteSetLocale,
  setLocale,
  type Locale,
} from '$lib/paraglide/runtime';

export { m } from '$lib/paraglide/messages';
export type { Locale };

/** Each language by its own name, as a switch shows them. */
export const LOCALE_NAMES: Record<Locale, string> = { en: 'English', nl: 'Nederlands' };
export { locales };

const browser = typeof window !== 'undefined';
let current = $state<Locale>(browser ? getLocale() : 'en');

/** A browser language as Intl takes it, or undefined: a POSIX one ("en-US@posix") loses its modifier, a malformed one is skipped. */
function canonical(tag: string): string | undefined {
  try {
    return Intl.getCanonicalLocales(tag.split('@')[0])[0];
  } catch {
    return undefined;
  }
}

/** The browser's own variant of `locale` (en-GB for en), for Intl; the bare tag when it has none. */
function intlTag(locale: Locale): string {
  if (!browser) return locale;
  const tags = navigator.languages.map(canonical);
  return tags.find((tag) => tag?.toLowerCase().split('-')[0] === locale) ?? locale;
}

/** Per locale: its Intl tag and number format, made once. (Read through `current`, so a switch re-renders what they formatted.) */
const formats = new Map<Locale, { tag: string; numbers: Intl.NumberFormat }>();
function formatOf(locale: Locale) {
  let format = formats.get(locale);
  if (!format) {
    const tag = intlTag(locale);
    format = { tag, numbers: new Intl.NumberFormat(tag) };
    formats.set(locale, format);
  }
  return format;
}

overwriteGetLocale(() => current);
overwriteSetLocale((next) => {
  if (!isLocale(next) || next === current) return;
  current = next;
  try {
    localStorage.setItem(localStorageKey, next);
  } catch {
    // Storage refused (a private window's quota): the choice lasts for this visit.
  }
  if (browser) document.documentElement.lang = next;
});
if (browser) document.documentElement.lang = getLocale();

export const i18n = {
  get locale(): Locale {
    return current;
  },
  set locale(next: Locale) {
    void setLocale(next);
  },
  /** The Intl tag numbers and dates are formatted with. */
  get tag(): string {
    return formatOf(current).tag;
  },
};

/** A count or a figure, grouped as the locale writes it: 12,345 in English, 12.345 in Dutch. */
export function number(value: number, options?: Intl.NumberFormatOptions): string {
  const format = formatOf(current);
  return options ? value.toLocaleString(format.tag, options) : format.numbers.format(value);
}

/** A count for a plural message: the number its form is chosen by, and the number as the locale writes it (`{shown}`). */
export function counted(count: number): { count: number; shown: string } {
  return { count, shown: number(count) };
}

/** A share of 1 as a percentage (0.125 → "12.5%" / "12,5%"), to `digits` decimals at most. */
export function percent(share: number, digits = 1): string {
  return share.toLocaleString(i18n.tag, { style: 'percent', maximumFractionDigits: digits });
}

/** A fraction as a rate people read, as shared/stats' `percent` writes it: "12.5 %", "0.31 %" below 1 % ("12,5 %" in Dutch). */
export function rate(fraction: number): string {
  const value = fraction * 100;
  return `${number(value, { maximumFractionDigits: value !== 0 && value < 1 ? 2 : 1 })} %`;
}

/** A moment with its date and time ("4 Dec 2026, 14:05"); `style` as Intl's dateStyle/timeStyle. */
export function dateTime(
  at: string | number | Date,
  style: { dateStyle?: 'full' | 'long' | 'medium' | 'short'; timeStyle?: 'full' | 'long' | 'medium' | 'short' } = {
    dateStyle: 'medium',
    timeStyle: 'short',
  },
): string {
  return new Date(at).toLocaleString(i18n.tag, style);
}

/** A moment's time of day ("14:05:09"). */
export function time(at: string | number | Date): string {
  return new Date(at).toLocaleTimeString(i18n.tag);
}

/** A day ("4 Dec 2026"). */
export function date(at: string | number | Date): string {
  return new Date(at).toLocaleDateString(i18n.tag, { dateStyle: 'medium' });
}
