/**
 * A messenger whose SMTP work runs on its own thread (smtp-worker.ts): the message bytes
 * are built and sent there, so sending uses the machine's second core while the main
 * thread renders the next messages and writes the journal.
 */

import { Worker } from 'node:worker_threads';
import type { SmtpOutcome } from '../store/send-journal';
import type { Messenger, RelayOptions } from './messenger';
import type { FromSmtpThread, ToSmtpThread } from './smtp-worker';

// The worker's source is TypeScript: the thread registers tsx (as `npm start` does for the
// server) before loading it. A worker's execArgv cannot carry --import.
const TSX = import.meta.resolve('tsx/esm/api');
const WORKER = new URL('./smtp-worker.ts', import.meta.url).href;
const BOOTSTRAP = `import(${JSON.stringify(TSX)}).then(({ register }) => { register(); return import(${JSON.stringify(WORKER)}); });`;

export function createThreadedMessenger(options: RelayOptions): Messenger {
  const worker = new Worker(BOOTSTRAP, { eval: true, workerData: options });
  const pending = new Map<number, (outcome: SmtpOutcome) => void>();
  let nextId = 1;
  let closed: (() => void) | null = null;
  let failure: string | null = null;

  worker.on('message', (reply: FromSmtpThread) => {
    if (reply.kind === 'closed') return closed?.();
    pending.get(reply.id)?.(reply.outcome);
    pending.delete(reply.id);
  });
  // Should the thread die, what it had is retried (the relay never answered for it).
  const fail = (reason: string) => {
    failure = reason;
    for (const resolve of pending.values()) resolve({ kind: 'retry', reply: `ETHREAD the SMTP thread stopped: ${reason}` });
    pending.clear();
  };
  worker.on('error', (error) => fail(error.message));
  worker.on('exit', (code) => fail(`exit code ${code}`));

  return {
    send(message) {
      if (failure) return Promise.resolve({ kind: 'retry', reply: `ETHREAD the SMTP thread stopped: ${failure}` });
      return new Promise((resolve) => {
        const id = nextId++;
        pending.set(id, resolve);
        worker.postMessage({ kind: 'send', id, message } satisfies ToSmtpThread);
      });
    },
    async close() {
      if (failure) return;
      await new Promise<void>((resolve) => {
        closed = resolve;
        worker.postMessage({ kind: 'close' } satisfies ToSmtpThread);
      });
      await worker.terminate();
    },
  };
}
