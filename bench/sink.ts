/** Starts the benchmarks' SMTP sink (sink-process.ts) in its own process. */

import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export async function startSink(): Promise<{ port: number; count(): Promise<number>; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'sink-process.ts')], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const next = () => new Promise<string>((resolve) => lines.once('line', resolve));
  const port = Number(await next());
  return {
    port,
    count: async () => {
      const answer = next();
      child.stdin!.write('\n');
      return Number(await answer);
    },
    stop: () => child.kill(),
  };
}
