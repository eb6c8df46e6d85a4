import { describe, expect, it } from 'vitest';
import { contentFacts, isDark } from './content-checks';

describe('what the markup shows', () => {
  it('reads the preheader: the hidden text before the first visible text, entities decoded, spaces (no-break ones too) folded', () => {
    const html = `<html><head><title>Sale</title><style>p { color: red }</style></head><body>
      <span style="display:none !important; mso-hide:all">Up to 50%&nbsp;off,
        {{ first_name }}</span><h1>Sale</h1></body></html>`;
    expect(contentFacts(html).preheader).toBe('Up to 50% off, {{ first_name }}');
    expect(contentFacts('<p>Visible</p><div style="display:none">late</div>').preheader).toBeNull();
    expect(contentFacts('<div style="max-height:0px;overflow:hidden">Peek</div><p>Hi</p>').preheader).toBe('Peek');
    expect(contentFacts('<div style="max-height:0.5em">Not hidden</div>').preheader).toBeNull();
  });

  it('lists images without alt and links without anything to read, by source and target', () => {
    const facts = contentFacts(
      '<a href="https://a.example/"><img src="https://a.example/logo.png"></a><a href="https://b.example/">Shop</a><img src="x.png" alt="">',
    );
    expect(facts.imagesWithoutAlt).toEqual(['https://a.example/logo.png']);
    expect(facts.linksWithoutText).toEqual(['https://a.example/']);
  });

  it('reports dark text colours only when no background colour is set anywhere', () => {
    expect(contentFacts('<p style="font-size:12px; color: #222">a</p><font color="navy">b</font>').darkTextWithoutBackground).toEqual([
      '#222',
      'navy',
    ]);
    expect(contentFacts('<body style="background:#fff"><p style="color:#222">a</p></body>').darkTextWithoutBackground).toEqual([]);
    // "background-color" is no text colour.
    expect(contentFacts('<td style="background-color:#000">a</td>').darkTextWithoutBackground).toEqual([]);
  });

  it('judges colours by their luminance', () => {
    expect(['#000', '#333333', 'rgb(40, 40, 40)', 'black', '#666'].map(isDark)).toEqual([true, true, true, true, true]);
    expect(['#fff', '#999', 'gray', 'rgba(250,250,250,0.5)', '{{ colour }}', 'inherit'].map(isDark)).toEqual([
      false,
      false,
      false,
      false,
      false,
      false,
    ]);
  });
});
