/** `npm start`: runs Mailroom with its embedded defaults and says how to use it. */

import { publicUrlProblems } from '../shared/typology';
import { readConfig } from './config';
import { startMailroom } from './mailroom';
import { SHUTDOWN_GRACE_MS } from './sending/engine';

/** What closing the database and the HTTP server may take after the engine has stopped. */
const STOP_MARGIN_MS = 5_000;

async function main() {
  const config = readConfig();
  const mailroom = await startMailroom(config);
  const lines = [
    '',
    `Mailroom is running at ${mailroom.url}`,
    `  Database: ${mailroom.databaseFile}${
      mailroom.seeded
        ? ' (new; demo audience of 10,000 profiles seeded; remove it from the Audience page)'
        : mailroom.created
          ? ' (new, empty: import your audience on the Audience page)'
          : ''
    }`,
    mailroom.generatedPassword
      ? `  Sign in as admin with the password: ${mailroom.generatedPassword}\n  (generated now and stored hashed; it is shown only once. Set MAILROOM_ADMIN_PASSWORD to choose another.)`
      : config.adminPassword
        ? '  Sign in as admin with the password in MAILROOM_ADMIN_PASSWORD.'
        : '  Sign in as admin with the password printed at the first start (set MAILROOM_ADMIN_PASSWORD to reset it).',
    mailroom.sinkPort !== null
      ? `  Mailbox of the built-in SMTP sink (127.0.0.1:${mailroom.sinkPort}): ${mailroom.url}/mailbox`
      : '  Sending through the relay in SMTP_URL or in the Settings page.',
    // Links recipients cannot follow are worth a word before anything is sent.
    ...publicUrlProblems(mailroom.publicUrl).map((problem) => `  Warning: ${problem}`),
    '',
  ];
  console.log(lines.join('\n'));

  // A stop is bounded: the engine waits at most SHUTDOWN_GRACE_MS for the relay's answers
  // (what it has not answered by then is listed as outcome unknown at the next start), and
  // a second signal, or anything that keeps the close from finishing, ends the process at once.
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) {
      console.log(`${signal} again: stopping now; messages in flight will be listed as outcome unknown.`);
      process.exit(1);
    }
    closing = true;
    console.log(`${signal}: finishing the messages the relay is answering (at most ${SHUTDOWN_GRACE_MS / 1000} s), then stopping.`);
    setTimeout(() => {
      console.error(`Mailroom did not stop within ${(SHUTDOWN_GRACE_MS + STOP_MARGIN_MS) / 1000} s of ${signal}; stopping now.`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS + STOP_MARGIN_MS).unref();
    await mailroom.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: Error) => {
  console.error(`Mailroom could not start: ${error.message}`);
  process.exit(1);
});
