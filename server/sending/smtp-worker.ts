/**
 * The SMTP thread: builds each message's bytes and speaks SMTP over the pool, so that the
 * main thread only renders and keeps the journal. Messages arrive as OutgoingMessage
 * objects and go back as outcomes, matched by id.
 */

import { parentPort, workerData } from 'node:worker_threads';
import type { OutgoingMessage } from './compose';
import type { RelayOptions } from './messenger';
import { createPooledMessenger } from './smtp-pool';

export type ToSmtpThread = { kind: 'send'; id: number; message: OutgoingMessage } | { kind: 'close' };
export type FromSmtpThread = { kind: 'outcome'; id: number; outcome: import('../store/send-journal').SmtpOutcome } | { kind: 'closed' };

const port = parentPort!;
const messenger = createPooledMessenger(workerData as RelayOptions);

port.on('message', (request: ToSmtpThread) => {
  if (request.kind === 'close') {
    void messenger.close().then(() => port.postMessage({ kind: 'closed' } satisfies FromSmtpThread));
    return;
  }
  void messenger
    .send(request.message)
    .then((outcome) => port.postMessage({ kind: 'outcome', id: request.id, outcome } satisfies FromSmtpThread));
});
