import { describe, expect, it } from 'vitest';
import { addTracking } from './rewrite';

const track = (url: string) => `https://t.example/c?u=${encodeURIComponent(url)}&x=1`;

describe('addTracking', () => {
  it('tracks http(s) links, keeps the unsubscribe link, mailto and anchors, and adds the pixel before </body>', () => {
    const html = `<body><a href="https://a.example/?p=1&amp;q=2">a</a> <a class="b" href='http://b.example'>b</a>
<a href="https://u.example/unsub">u</a> <a href="mailto:x@example.com">m</a> <a href="#top">t</a></body>`;
    const out = addTracking(html, track, 'https://t.example/o?x=1&y=2', 'https://u.example/unsub');
    expect(out).toContain(`<a href="https://t.example/c?u=${encodeURIComponent('https://a.example/?p=1&q=2')}&amp;x=1">a</a>`);
    expect(out).toContain(`<a class="b" href='https://t.example/c?u=${encodeURIComponent('http://b.example')}&amp;x=1'>b</a>`);
    expect(out).toContain('<a href="https://u.example/unsub">u</a>');
    expect(out).toContain('<a href="mailto:x@example.com">m</a>');
    expect(out).toContain('<a href="#top">t</a>');
    expect(out).toMatch(/<img src="https:\/\/t\.example\/o\?x=1&amp;y=2" width="1" height="1"[^>]*><\/body>$/);
  });

  it('appends the pixel when there is no body element', () => {
    expect(addTracking('<p>hi</p>', track, 'https://t.example/o', '')).toMatch(/^<p>hi<\/p><img /);
  });
});
