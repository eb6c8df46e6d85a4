import { describe, expect, it } from 'vitest';
import { readConfig } from './config';

describe('readConfig', () => {
  it('has embedded defaults', () => {
    const config = readConfig({});
    expect(config).toMatchObject({ port: 8080, smtpUrl: null, adminPassword: null, publicUrl: null, ratePerSecond: 0 });
    expect(config.dataDir).toMatch(/\/data$/);
    expect(config.demo).toBe(true);
    expect(readConfig({ MAILROOM_DEMO: 'off' }).demo).toBe(false);
  });

  it('reads the environment', () => {
    expect(
      readConfig({ PORT: '9000', SMTP_URL: 'smtps://u:p@relay.example.com', MAILROOM_PUBLIC_URL: 'https://mail.example.com/' }),
    ).toMatchObject({
      port: 9000,
      smtpUrl: 'smtps://u:p@relay.example.com',
      publicUrl: 'https://mail.example.com',
    });
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT must be a whole number of at least 0, not "eighty".'],
    [{ SMTP_URL: 'relay.example.com:25' }, 'SMTP_URL must look like smtp://user:pass@host:587 or smtps://user:pass@host:465.'],
    [{ MAILROOM_SMTP_CONNECTIONS: '0' }, 'MAILROOM_SMTP_CONNECTIONS must be a whole number of at least 1, not "0".'],
    [{ MAILROOM_DEMO: 'no' }, 'MAILROOM_DEMO must be "on" or "off", not "no".'],
  ])('says what is wrong with %o', (env, message) => {
    expect(() => readConfig(env)).toThrow(message);
  });
});
