/** `npm start`: runs Mailroom with its embedded defaults and says how to use it. */

import { readConfig } from './config';
import { startMailroom } from './mailroom';

async function main() {
  const config = readConfig();
  const mailroom = await startMailroom(config);
  const lines = [
    '',
    `Mailroom is running at ${mailroom.url}`,
    `  Database: ${mailroom.databaseFile}${mailroom.seeded ? ' (new; demo audience of 10,000 profiles seeded)' : ''}`,
    mailroom.generatedPassword
      ? `  Sign in as admin with the password: ${mailroom.generatedPassword}\n  (generated now and stored hashed; it is shown only once. Set MAILROOM_ADMIN_PASSWORD to choose another.)`
      : config.adminPassword
        ? '  Sign in as admin with the password in MAILROOM_ADMIN_PASSWORD.'
        : '  Sign in as admin with the password printed at the first start (set MAILROOM_ADMIN_PASSWORD to reset it).',
    mailroom.sinkPort !== null
      ? `  Mailbox of the built-in SMTP sink (127.0.0.1:${mailroom.sinkPort}): ${mailroom.url}/mailbox`
      : '  Sending through the relay in SMTP_URL or in the Settings page.',
    '',
  ];
  console.log(lines.join('\n'));

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    console.log(`${signal}: finishing messages in flight, then stopping.`);
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
