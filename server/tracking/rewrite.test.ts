import { describe, expect, it } from 'vitest';
import { addTracking, cutLinks } from './rewrite';

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

  it('reads each distinct URL once, in order, and puts its tracked URL at every place it is linked', () => {
    const html = `<a href="https://a.example/">logo</a><a href="https://b.example/">b</a><a href="https://a.example/">button</a>`;
    const cut = cutLinks(html, '');
    expect(cut.urls).toEqual(['https://a.example/', 'https://b.example/']);
    expect(cut.links).toEqual([0, 1, 0]);
    let calls = 0;
    const out = addTracking(html, (url) => `https://t.example/${++calls}/${url.length}`, 'https://t.example/o', '');
    expect(calls).toBe(2);
    expect(out).toBe(
      `<a href="https://t.example/1/18">logo</a><a href="https://t.example/2/18">b</a><a href="https://t.example/1/18">button</a>` +
        `<img src="https://t.example/o" width="1" height="1" alt="" style="display:block;border:0;width:1px;height:1px">`,
    );
  });
});
