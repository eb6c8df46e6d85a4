/**
 * When each recipient's message is due: at a time of day in the recipient's own time zone
 * (the `time_zone` field; a default for those without one or with one not known), or in
 * waves (N messages every H hours, or a ramp-up: a size per wave, the last repeating).
 *
 * Local times are worked out at preparation, from the send time (the schedule, or the
 * preparation's own time): each recipient is due at the first such time of day in their zone
 * at or after it. Waves are worked out by the server when sending starts: a wave's rows are
 * due its number of periods after the start. The journal claims only rows that are due.
 */

import { ENGLISH_WORDS, type PreparationWords } from './preparation-words';

/** Sending at a time of day in each recipient's time zone. */
export interface LocalTime {
  /** "HH:MM", 24-hour. */
  at: string;
  /** The IANA zone of those without one of their own (or one not known), e.g. Europe/Amsterdam. */
  defaultTimeZone: string;
  /**
   * How long after its local time a message may still go (0.5 to 23 hours); one that could not
   * (the delivery paused, the relay down) waits for the same time the next day. Absent: no limit.
   */
  windowHours?: number | null;
}

/** Sending in waves: wave k holds sizes[k] messages (the last size repeating), one wave every `everyHours`. */
export interface Waves {
  sizes: number[];
  everyHours: number;
}

export const MAX_WAVE_SIZES = 30;
/** The largest wave: ten million messages (the SQL that numbers waves stays in whole numbers). */
export const MAX_WAVE_SIZE = 10_000_000;

const TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

/** True when the zone is one this runtime knows (an IANA name: Europe/Amsterdam, America/New_York, UTC). */
export function isTimeZone(zone: string): boolean {
  if (!zone) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Returns what is wrong with the local time setting, in `words`, or null. */
export function localTimeProblem(local: LocalTime, words: PreparationWords = ENGLISH_WORDS): string | null {
  if (!TIME.test(local.at)) return words.notATime({ at: local.at });
  if (!isTimeZone(local.defaultTimeZone)) return words.notATimeZone({ zone: local.defaultTimeZone });
  const w = local.windowHours;
  if (w !== undefined && w !== null && !(Number.isFinite(w) && w >= 0.5 && w <= 23)) return words.sendingWindow();
  return null;
}

/** Returns what is wrong with the waves, in `words`, or null. */
export function wavesProblem(waves: Waves, words: PreparationWords = ENGLISH_WORDS): string | null {
  if (
    waves.sizes.length === 0 ||
    waves.sizes.length > MAX_WAVE_SIZES ||
    !waves.sizes.every((n) => Number.isSafeInteger(n) && n >= 1 && n <= MAX_WAVE_SIZE)
  )
    return words.waveSizes({ max: MAX_WAVE_SIZES });
  if (!(Number.isFinite(waves.everyHours) && waves.everyHours >= 0.25 && waves.everyHours <= 168)) return words.waveInterval();
  return null;
}

/** Returns how many waves `count` messages take. */
export function waveCount(waves: Waves, count: number): number {
  let left = count;
  let n = 0;
  while (left > 0) {
    left -= waves.sizes[Math.min(n, waves.sizes.length - 1)];
    n++;
  }
  return n;
}

/** Returns the wave (0 first) of the message numbered `seq` (1 first). */
export function waveOf(waves: Waves, seq: number): number {
  let end = 0;
  for (let k = 0; k < waves.sizes.length - 1; k++) {
    end += waves.sizes[k];
    if (seq <= end) return k;
  }
  const last = waves.sizes[waves.sizes.length - 1];
  return waves.sizes.length - 1 + Math.floor((seq - end - 1) / last);
}

/**
 * The SQL expression of a row's wave from its `seq` (both engines: integer division), for
 * the start of sending to set `due_at`; sizes are whole numbers checked by wavesProblem.
 */
export function waveSql(waves: Waves): string {
  const sizes = waves.sizes.map((n) => Math.trunc(n));
  const last = sizes[sizes.length - 1];
  const cases: string[] = [];
  let end = 0;
  for (let k = 0; k < sizes.length - 1; k++) {
    end += sizes[k];
    cases.push(`WHEN seq <= ${end} THEN ${k}`);
  }
  const rest = `${sizes.length - 1} + (seq - ${end} - 1) / ${last}`;
  return cases.length ? `CASE ${cases.join(' ')} ELSE ${rest} END` : `(seq - 1) / ${last}`;
}

/** A time of day's instant in a zone: local wall clock → UTC. */
function zonedInstant(year: number, month: number, day: number, hour: number, minute: number, zone: string): number {
  // Guess the instant as if the zone were UTC, then correct by the zone's offset there (twice: across a change of offset).
  let guess = Date.UTC(year, month - 1, day, hour, minute);
  for (let i = 0; i < 2; i++) guess = Date.UTC(year, month - 1, day, hour, minute) - offsetAt(guess, zone);
  return guess;
}

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(zone: string): Intl.DateTimeFormat {
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', {
      timeZone: zone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(zone, f);
  }
  return f;
}

/** The wall clock of an instant in a zone. */
function wallClock(instant: number, zone: string) {
  const parts = Object.fromEntries(
    formatter(zone)
      .formatToParts(new Date(instant))
      .map((p) => [p.type, p.value]),
  );
  return { year: +parts.year, month: +parts.month, day: +parts.day, hour: +parts.hour, minute: +parts.minute, second: +parts.second };
}

/** The zone's offset from UTC at an instant, in ms (Amsterdam in winter: +3,600,000). */
function offsetAt(instant: number, zone: string): number {
  const w = wallClock(instant, zone);
  return Date.UTC(w.year, w.month - 1, w.day, w.hour, w.minute, w.second) - Math.floor(instant / 1000) * 1000;
}

/**
 * Returns when messages are due for each zone: the first `local.at` in the zone at or after
 * `from`. Zones are few: each is worked out once (`dueIn` caches), whatever the recipients.
 */
export function localDue(local: LocalTime, from: Date): (zone: string | null | undefined) => number {
  const [hour, minute] = local.at.split(':').map(Number);
  const cache = new Map<string, number>();
  const known = new Map<string, boolean>();
  const dueIn = (zone: string): number => {
    let due = cache.get(zone);
    if (due === undefined) {
      const w = wallClock(from.getTime(), zone);
      due = zonedInstant(w.year, w.month, w.day, hour, minute, zone);
      // Already past there: the same time the next day.
      if (due < from.getTime()) {
        const next = wallClock(from.getTime() + 86_400_000, zone);
        due = zonedInstant(next.year, next.month, next.day, hour, minute, zone);
      }
      cache.set(zone, due);
    }
    return due;
  };
  return (zone) => {
    const z = zone ?? '';
    let ok = known.get(z);
    if (ok === undefined) known.set(z, (ok = isTimeZone(z)));
    return dueIn(ok ? z : local.defaultTimeZone);
  };
}
