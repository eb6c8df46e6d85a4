/** Starts the benchmarks' SMTP sink (sink-process.ts) in its own process. */

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { processCpuSeconds } from './campaign';

/**
 * Resolves with the sink's port once it listens; `count()` rejects should the sink process
 * have died (the figures would mean nothing). `benchDir` is where sink-process.ts is: this
 * module's folder, unless it runs from a bundle elsewhere.
 */
export async function startSink(
  benchDir = import.meta.dirname,
): Promise<{ port: number; cpuSeconds(): number; count(): Promise<number>; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(benchDir, 'sink-process.ts')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code, signal) => reject(new Error(`the sink process exited (${signal ?? code})`))),
  );
  exited.catch(() => {}); // read by next(), when there is a line to wait for
  const next = () => Promise.race([new Promise<string>((resolve) => lines.once('line', resolve)), exited]);
  const port = Number(await next());
  if (!Number.isInteger(port) || port <= 0) throw new Error(`the sink process printed no port`);
  return {
    port,
    /** CPU seconds the sink process has used (user + system), from /proc (Linux; clock ticks of 1/100 s). */
    cpuSeconds: () => processCpuSeconds(child.pid!),
    count: async () => {
      const answer = next();
      child.stdin!.write('\n');
      return Number(await answer);
    },
    stop: () => child.kill(),
  };
}
