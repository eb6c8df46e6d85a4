/** The line every benchmark prints about the machine it ran on. */

import { cpus, totalmem } from 'node:os';

export function machineLine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `machine: ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
}

/**
 * Ends a benchmark that could not run — it crashed, or what it measured was not what it says
 * (a sink that received the wrong count) — with the reason and exit status 1. A figure that
 * misses its goal is a result, not a failure: the benchmark still exits 0.
 */
export function couldNotRun(error: unknown): never {
  console.error('The benchmark could not run:', error);
  process.exit(1);
}

/** Throws `sentence` unless `condition` holds: what the benchmark ran must be what it reports on. */
export function mustHold(condition: boolean, sentence: string): asserts condition {
  if (!condition) throw new Error(sentence);
}

/** Prints one figure as `figure: value unit (goal …)`. */
export function figure(name: string, value: number, unit: string, goal: string): void {
  const shown = value >= 100 || Number.isInteger(value) ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
  console.log(`${name}: ${shown} ${unit} (goal ${goal})`);
}
