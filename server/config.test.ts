import { describe, expect, it } from 'vitest';
import { readCommandLine, readConfig } from './config';

describe('readConfig', () => {
  it('has embedded defaults', () => {
    const config = readConfig({});
    expect(config).toMatchObject({ port: 8080, smtpUrl: null, adminPassword: null, publicUrl: null, ratePerSecond: 0 });
    expect(config.dataDir).toMatch(/\/data$/);
    expect(config.demo).toBe(true);
    expect(readConfig({ MAILROOM_DEMO: 'off' }).demo).toBe(false);
    expect(config).toMatchObject({ logLevel: 'info', metricsToken: null });
  });

  it('reads LOG_LEVEL in any case, and the metrics token', () => {
    expect(readConfig({ LOG_LEVEL: 'DEBUG' }).logLevel).toBe('debug');
    expect(readConfig({ LOG_LEVEL: 'silent' }).logLevel).toBe('silent');
    expect(readConfig({ MAILROOM_METRICS_TOKEN: 'a'.repeat(32) }).metricsToken).toBe('a'.repeat(32));
  });

  it('never repeats a metrics token that is too short in its message', () => {
    expect(() => readConfig({ MAILROOM_METRICS_TOKEN: 'hunter2' })).toThrow(
      'MAILROOM_METRICS_TOKEN must be at least 16 characters (it has 7); make one with: openssl rand -hex 32',
    );
  });

  it('reads the environment', () => {
    expect(
      readConfig({ PORT: '9000', SMTP_URL: 'smtps://u:p@relay.example.com', MAILROOM_PUBLIC_URL: 'https://mail.example.com/' }),
    ).toMatchObject({
      port: 9000,
      smtpUrl: 'smtps://u:p@relay.example.com',
      publicUrl: 'https://mail.example.com',
    });
    expect(readConfig({ MAILROOM_BOUNCE_IMAP_URL: 'imaps://bounces:pw@imap.example.com/INBOX' }).bounceMailbox).toEqual({
      url: 'imaps://bounces:pw@imap.example.com/INBOX',
      everyMs: 60_000,
    });
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT must be a whole number of at least 0, not "eighty".'],
    [{ SMTP_URL: 'relay.example.com:25' }, 'SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465.'],
    [{ MAILROOM_SMTP_CONNECTIONS: '0' }, 'MAILROOM_SMTP_CONNECTIONS must be a whole number of at least 1, not "0".'],
    [{ MAILROOM_DEMO: 'no' }, 'MAILROOM_DEMO must be "on" or "off", not "no".'],
    [
      { MAILROOM_BOUNCE_IMAP_URL: 'pop3://bounces@mail.example.com' },
      'MAILROOM_BOUNCE_IMAP_URL cannot be used: it must start with imap:// or imaps://.',
    ],
    [
      { MAILROOM_BOUNCE_IMAP_URL: 'imap://b:p@imap.example.com', MAILROOM_BOUNCE_IMAP_EVERY: '1' },
      'MAILROOM_BOUNCE_IMAP_EVERY must be a whole number of at least 5, not "1".',
    ],
    [{ LOG_LEVEL: 'verbose' }, 'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace or silent, not "verbose".'],
  ])('says what is wrong with %o', (env, message) => {
    expect(() => readConfig(env)).toThrow(message);
  });
});

describe('readCommandLine', () => {
  const file = { min: 1, max: 1, name: 'file to import' };
  const none = { min: 0, max: 0 };
  it.each([
    [[], none, { kind: 'run', operands: [] }],
    [['--help'], none, { kind: 'help' }],
    [['-h'], none, { kind: 'help' }],
    [['--port', '80'], none, { kind: 'usage-error', message: 'Unknown option --port.' }],
    [
      ['seed'],
      none,
      { kind: 'usage-error', message: 'Unexpected argument seed: this command takes none (it is configured by environment variables).' },
    ],
    [['a.csv'], file, { kind: 'run', operands: ['a.csv'] }],
    [['a.csv', '--help'], file, { kind: 'help' }],
    [[], file, { kind: 'usage-error', message: 'Say which file to import.' }],
    [['a.csv', 'b.csv'], file, { kind: 'usage-error', message: 'Too many arguments: a.csv b.csv (one file to import at a time).' }],
    [['--dry-run', 'a.csv'], file, { kind: 'usage-error', message: 'Unknown option --dry-run.' }],
    [['--', '-odd.csv'], file, { kind: 'run', operands: ['-odd.csv'] }],
    [['--', '--help'], file, { kind: 'run', operands: ['--help'] }],
  ])('%j → %j', (args, operands, expected) => {
    expect(readCommandLine(args, operands)).toEqual(expected);
  });
});
