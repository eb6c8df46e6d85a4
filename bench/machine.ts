/** The line every benchmark prints about the machine it ran on. */

import { cpus, totalmem } from 'node:os';

export function machineLine(): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU';
  return `machine: ${cpus().length} × ${cpu}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${process.platform}`;
}

/** Prints one figure as `figure: value unit (goal …)`. */
export function figure(name: string, value: number, unit: string, goal: string): void {
  const shown = value >= 100 || Number.isInteger(value) ? Math.round(value).toLocaleString('en-US') : value.toFixed(2);
  console.log(`${name}: ${shown} ${unit} (goal ${goal})`);
}
