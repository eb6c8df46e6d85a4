import { describe, expect, it } from 'vitest';
import { classifyClick, classifyOpen } from './classify';

// User agents as recorded from real opens and clicks.
const IPHONE_MAIL = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148';
const CHROME = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36';
const THUNDERBIRD = 'Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.10.1';
const GMAIL_PROXY = 'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)';
const YAHOO_PROXY = 'YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html';
const APPLE_MPP = 'Mozilla/5.0';

describe('opens: people or privacy proxies', () => {
  it.each<[string, string | undefined, string | undefined, 'human' | 'machine']>([
    ['Apple Mail on an iPhone, from a home network', IPHONE_MAIL, '84.24.10.3', 'human'],
    ['a browser webmail', CHROME, '2a02:a210::1', 'human'],
    ['Thunderbird', THUNDERBIRD, '10.0.0.4', 'human'],
    ['the Gmail image proxy', GMAIL_PROXY, '66.249.84.1', 'machine'],
    ['the Yahoo mail proxy', YAHOO_PROXY, '98.136.1.1', 'machine'],
    ['Apple Mail Privacy Protection (bare agent)', APPLE_MPP, '104.28.1.1', 'machine'],
    ["Apple's network, whatever the agent", IPHONE_MAIL, '17.58.101.5', 'machine'],
    ["Apple's network over IPv4-mapped IPv6", IPHONE_MAIL, '::ffff:17.1.2.3', 'machine'],
    ['a security scanner fetching images', 'Mozilla/5.0 (compatible; Barracuda Sentinel)', '64.235.1.1', 'machine'],
  ])('%s', (_, userAgent, ip, expected) => {
    expect(classifyOpen({ userAgent, ip })).toBe(expected);
  });
});

describe('clicks: people or link scanners', () => {
  const person = { userAgent: CHROME, ip: '84.24.10.3', secondsAfterDelivery: 600, otherLinksWithinASecond: 0 };
  it.each<[string, Partial<typeof person> & { userAgent?: string | undefined }, 'human' | 'machine']>([
    ['a person, ten minutes after delivery', {}, 'human'],
    ['a person clicking a second link', { otherLinksWithinASecond: 1 }, 'human'],
    ['no user agent', { userAgent: undefined }, 'machine'],
    ['Microsoft Safe Links', { userAgent: 'Mozilla/5.0 (compatible; SafeLinks)' }, 'machine'],
    ['Proofpoint URL Defense', { userAgent: 'Proofpoint URL Defense urldefense' }, 'machine'],
    ['a script', { userAgent: 'python-requests/2.31.0' }, 'machine'],
    ['within a second of delivery', { secondsAfterDelivery: 0.4 }, 'machine'],
    ['a quick reader, three seconds after delivery', { secondsAfterDelivery: 3 }, 'human'],
    ['every link of the message within a second', { otherLinksWithinASecond: 3 }, 'machine'],
  ])('%s', (_, change, expected) => {
    expect(classifyClick({ ...person, ...change })).toBe(expected);
  });
});
