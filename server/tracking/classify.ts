/**
 * People or machines? Opens fetched by privacy proxies (Apple Mail Privacy Protection, the
 * Gmail and Yahoo image proxies) and clicks by link scanners (security gateways that follow
 * every link of a message as it arrives) are counted apart, so that Opens and Clicks mean
 * people.
 */

export type Activity = 'human' | 'machine';

export interface OpenSeen {
  userAgent: string | undefined;
  ip: string | undefined;
}

export interface ClickSeen extends OpenSeen {
  /** Seconds between the message's delivery and this click (null when unknown). */
  secondsAfterDelivery: number | null;
  /** Other links of the same message clicked by this recipient in the second before. */
  otherLinksWithinASecond: number;
}

const IMAGE_PROXIES = /GoogleImageProxy|ggpht\.com|YahooMailProxy|Yahoo! Slurp|Outlook-iOS-Android\/.*Proxy/i;
const SCANNERS =
  /bot\b|crawler|spider|scanner|preview|barracuda|mimecast|proofpoint|safelinks|urldefense|symantec|trendmicro|fortiguard|sophos|cisco|ironport|python-requests|python-urllib|go-http-client|curl\/|wget\/|java\/|okhttp|headlesschrome|phantomjs/i;

/**
 * Apple's proxy fetches with a bare "Mozilla/5.0" from Apple's network (17.0.0.0/8); Gmail
 * and Yahoo name their proxies in the user agent.
 */
export function classifyOpen(seen: OpenSeen): Activity {
  const agent = (seen.userAgent ?? '').trim();
  if (IMAGE_PROXIES.test(agent)) return 'machine';
  if (agent === 'Mozilla/5.0' || isAppleNetwork(seen.ip)) return 'machine';
  if (SCANNERS.test(agent)) return 'machine';
  return 'human';
}

/**
 * A scanner names itself, sends no user agent, clicks within a second of delivery, or
 * clicks several links of one message within a second: no person reads that fast.
 */
export function classifyClick(seen: ClickSeen): Activity {
  const agent = (seen.userAgent ?? '').trim();
  if (agent === '' || SCANNERS.test(agent)) return 'machine';
  if (seen.secondsAfterDelivery !== null && seen.secondsAfterDelivery < 1) return 'machine';
  if (seen.otherLinksWithinASecond >= 2) return 'machine';
  return 'human';
}

function isAppleNetwork(ip: string | undefined): boolean {
  if (!ip) return false;
  const v4 = ip.replace(/^::ffff:/, '');
  return /^17\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(v4);
}
