/** `npm start`: runs Mailroom with its embedded defaults and says how to use it. */

import { publicUrlProblems } from '../shared/typology';
import { DataDirectoryError, EXIT, readCommandLine, readConfig, type Config } from './config';
import { startMailroom } from './mailroom';
import { createLogger } from './observability/logger';
import { SHUTDOWN_GRACE_MS } from './sending/engine';
import { mailboxName } from './bounces/imap-mailbox';

/** What closing the database and the HTTP server may take after the engine has stopped. */
const STOP_MARGIN_MS = 5_000;

const USAGE = `Usage: npm start [-- --help]
       node dist/server/main.js [--help]

Starts Mailroom: the app, its API, tracking links and the send engine, on one port.
It takes no arguments; environment variables configure it (README, "Configuration"):
  PORT (8080), HOST (0.0.0.0), MAILROOM_DATA_DIR (./data), MAILROOM_ADMIN_PASSWORD,
  SMTP_URL (none: the built-in sink), MAILROOM_PUBLIC_URL, MAILROOM_SINK_PORT (2525),
  MAILROOM_SMTP_CONNECTIONS (5), MAILROOM_SMTP_MESSAGES_PER_CONNECTION (1000),
  MAILROOM_SEND_RATE (0: no limit), MAILROOM_APP_DIR (./build), MAILROOM_DEMO (on),
  LOG_LEVEL (info), MAILROOM_METRICS_TOKEN (none: /metrics for this machine only),
  MAILROOM_BOUNCE_DOMAIN (none: bounces go to the From address), MAILROOM_BOUNCE_PORT (none: not received),
  MAILROOM_BOUNCE_IMAP_URL (imaps://user:password@host:993/INBOX: a bounce mailbox read over IMAP), MAILROOM_BOUNCE_IMAP_EVERY (60 s).
For operators: GET /healthz (alive), /readyz (database and engine), /metrics (Prometheus).

Exit status:
  0  stopped by SIGTERM or Ctrl-C once the relay had answered (or this help)
  1  could not start (the port is taken, the app is not built, ...) or did not stop in time
  2  usage error: an argument, or a variable with a wrong value
  3  the data directory or its database cannot be opened`;

async function main() {
  const command = readCommandLine(process.argv.slice(2), { min: 0, max: 0 });
  if (command.kind === 'help') return console.log(USAGE);
  if (command.kind === 'usage-error') {
    // Before anything is opened: a mistyped flag never creates (or seeds) a database.
    console.error(`${command.message}\n\n${USAGE}`);
    process.exit(EXIT.usage);
  }
  let config: Config;
  try {
    config = readConfig();
  } catch (error) {
    console.error(`Mailroom could not start: ${(error as Error).message}`);
    process.exit(EXIT.usage);
  }
  const logger = createLogger({ level: config.logLevel, pretty: process.stdout.isTTY === true });
  process.on('uncaughtException', (error) => {
    logger.fatal({ event: 'uncaught-exception', err: error }, `Mailroom stopped on an unexpected error: ${error.message}`);
    process.exit(EXIT.failed);
  });

  const mailroom = await startMailroom(config, logger);
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
    ...(mailroom.bouncePort === null
      ? []
      : [
          `  Bounce and complaint reports received on port ${mailroom.bouncePort}${config.bounceDomain ? `, for ${config.bounceDomain}` : ' (set MAILROOM_BOUNCE_DOMAIN to sign each message’s return path)'}.`,
        ]),
    ...(config.bounceMailbox === null
      ? []
      : [`  Bounce mailbox ${mailboxName(config.bounceMailbox.url)} read over IMAP every ${config.bounceMailbox.everyMs / 1000} s.`]),
    // Links recipients cannot follow are worth a word before anything is sent.
    ...publicUrlProblems(mailroom.publicUrl).map((problem) => `  Warning: ${problem}`),
    '',
  ];
  // The banner is text for the person who started Mailroom, not a log line.
  console.log(lines.join('\n'));

  // A stop is bounded: the engine waits at most SHUTDOWN_GRACE_MS for the relay's answers
  // (what it has not answered by then is listed as outcome unknown at the next start), and
  // a second signal, or anything that keeps the close from finishing, ends the process at once.
  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) {
      logger.warn(
        { event: 'shutdown-forced', signal },
        `${signal} again: stopping now; messages in flight will be listed as outcome unknown.`,
      );
      process.exit(EXIT.failed);
    }
    closing = true;
    logger.info(
      { event: 'shutdown', signal },
      `${signal}: finishing the messages the relay is answering (at most ${SHUTDOWN_GRACE_MS / 1000} s), then stopping.`,
    );
    setTimeout(() => {
      logger.error(
        { event: 'shutdown-late', signal },
        `Mailroom did not stop within ${(SHUTDOWN_GRACE_MS + STOP_MARGIN_MS) / 1000} s of ${signal}; stopping now.`,
      );
      process.exit(EXIT.failed);
    }, SHUTDOWN_GRACE_MS + STOP_MARGIN_MS).unref();
    await mailroom.close();
    logger.info({ event: 'stopped', signal }, 'Mailroom stopped.');
    process.exit(EXIT.ok);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
}

main().catch((error: Error) => {
  console.error(`Mailroom could not start: ${error.message}`);
  process.exit(error instanceof DataDirectoryError ? EXIT.dataDir : EXIT.failed);
});
