/** Server-Sent Events as every live view of the API sends them (the figures, the team's work). */

import type { Context } from 'hono';
import { streamSSE } from 'hono/streaming';
import type { AppEnv } from '../services';

/**
 * A Server-Sent Events stream: `initial` at once, then what `watch` hands over each time it
 * changes (figures computed once per change, for every viewer: live-figures.ts), with a
 * keep-alive comment every 15 s. Changes heard while `initial` is read are sent after it, so
 * the first event is always the whole picture and nothing newer is overwritten by it.
 */
export function liveStream<T>(
  c: Context<AppEnv>,
  event: string,
  initial: () => Promise<T>,
  watch: (push: (data: T) => void) => () => void,
) {
  return streamSSE(c, async (stream) => {
    let sequence = 0;
    const push = (data: T) => void stream.writeSSE({ event, id: String(++sequence), data: JSON.stringify(data) }).catch(() => undefined);
    let early: T[] | null = [];
    const stop = watch((data) => (early ? early.push(data) : push(data)));
    stream.onAbort(stop);
    push(await initial());
    for (const data of early) push(data);
    early = null;
    while (!stream.aborted && !stream.closed) {
      await stream.sleep(15_000);
      await stream.write(': keep-alive\n\n');
    }
    stop();
  });
}
