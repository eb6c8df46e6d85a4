/** Tracking in the HTML of a sent message: links through the click redirect, and the open pixel. */

import { escapeHtml } from '../../shared/template';

const HREF = /(<a\s[^>]*?href\s*=\s*)(["'])(.*?)\2/gi;

/**
 * A message's HTML cut around the links to track, read in one pass: `pieces` with a link
 * between each two, `links[k]` the index in `urls` (distinct, in order) of the k-th link.
 */
export interface LinkCut {
  pieces: string[];
  links: number[];
  urls: string[];
}

/** Cuts the HTML around its http(s) links; links to `keep` (the unsubscribe URL) are left alone. */
export function cutLinks(html: string, keep: string): LinkCut {
  const pieces: string[] = [];
  const links: number[] = [];
  const urls: string[] = [];
  const index = new Map<string, number>();
  let last = 0;
  for (const match of html.matchAll(HREF)) {
    const url = decodeEntities(match[3]);
    if (url === keep || !/^https?:\/\//i.test(url)) continue;
    const valueAt = match.index + match[1].length + 1;
    pieces.push(html.slice(last, valueAt));
    let i = index.get(url);
    if (i === undefined) {
      i = urls.push(url) - 1;
      index.set(url, i);
    }
    links.push(i);
    last = valueAt + match[3].length;
  }
  pieces.push(html.slice(last));
  return { pieces, links, urls };
}

/**
 * Returns the cut HTML with each link replaced by its tracked URL (`tracked[i]` for
 * `urls[i]`) and an open pixel before `</body>` (or at the end).
 */
export function joinTracked(cut: LinkCut, tracked: readonly string[], pixelUrl: string): string {
  const escaped = tracked.map(escapeHtml);
  let html = cut.pieces[0];
  for (let k = 0; k < cut.links.length; k++) html += escaped[cut.links[k]] + cut.pieces[k + 1];
  const pixel = `<img src="${escapeHtml(pixelUrl)}" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`;
  const close = html.search(/<\/body>/i);
  return close === -1 ? html + pixel : html.slice(0, close) + pixel + html.slice(close);
}

/**
 * Returns the HTML with every http(s) link replaced by `track(url)` and an open pixel
 * before `</body>` (or at the end). Links to `keep` (the unsubscribe URL) are left alone.
 */
export function addTracking(html: string, track: (url: string) => string, pixelUrl: string, keep: string): string {
  const cut = cutLinks(html, keep);
  return joinTracked(cut, cut.urls.map(track), pixelUrl);
}

function decodeEntities(text: string): string {
  if (!text.includes('&')) return text;
  return text.replace(/&(amp|quot|#39|lt|gt);/g, (_, e: string) => ({ amp: '&', quot: '"', '#39': "'", lt: '<', gt: '>' })[e] ?? _);
}
