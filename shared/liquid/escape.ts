/** Writing text into its context: HTML (escaped), a header (one line). Pure and the same everywhere. */

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const SIGNIFICANT = /[&<>"']/;

/** Returns the text with the five HTML-significant characters escaped. */
export function escapeHtml(text: string): string {
  return SIGNIFICANT.test(text) ? text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]) : text;
}

const HTML_UNESCAPES: Record<string, string> = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#34;': '"', '&#39;': "'" };

/** Returns the text with the entities escapeHtml (and liquidjs's escape) writes turned back into characters. */
export function unescapeHtml(text: string): string {
  return text.includes('&') ? text.replace(/&(amp|lt|gt|quot|#34|#39);/g, (e) => HTML_UNESCAPES[e]) : text;
}

/** Returns the text on one line: CR, LF and other control characters become spaces. A header can never be split by it. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\s*[\u0000-\u001f\u007f\u2028\u2029]+\s*/g, ' ').trim();
}
