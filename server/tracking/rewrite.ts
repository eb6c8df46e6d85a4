/** Tracking in the HTML of a sent message: links through the click redirect, and the open pixel. */

import { escapeHtml } from '../../shared/template';

const HREF = /(<a\s[^>]*?href\s*=\s*)(["'])(.*?)\2/gi;

/**
 * Returns the HTML with every http(s) link replaced by `track(url)` and an open pixel
 * before `</body>` (or at the end). Links to `keep` (the unsubscribe URL) are left alone.
 */
export function addTracking(html: string, track: (url: string) => string, pixelUrl: string, keep: string): string {
  const tracked = html.replace(HREF, (whole, start: string, quote: string, href: string) => {
    const url = decodeEntities(href);
    if (url === keep || !/^https?:\/\//i.test(url)) return whole;
    return `${start}${quote}${escapeHtml(track(url))}${quote}`;
  });
  const pixel = `<img src="${escapeHtml(pixelUrl)}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`;
  const close = tracked.search(/<\/body>/i);
  return close === -1 ? tracked + pixel : tracked.slice(0, close) + pixel + tracked.slice(close);
}

/** Returns the distinct URLs addTracking would send through the click redirect, in order. */
export function trackedLinks(html: string, keep: string): string[] {
  const urls = new Set<string>();
  for (const match of html.matchAll(HREF)) {
    const url = decodeEntities(match[3]);
    if (url !== keep && /^https?:\/\//i.test(url)) urls.add(url);
  }
  return [...urls];
}

function decodeEntities(text: string): string {
  return text.replace(/&(amp|quot|#39|lt|gt);/g, (_, e: string) => ({ amp: '&', quot: '"', '#39': "'", lt: '<', gt: '>' })[e] ?? _);
}
