/**
 * Where a delivery's HTML body comes from. Without a source it is written as HTML; with one
 * it is made: from MJML written in the code editor, or from the visual builder's blocks
 * (builder.ts), which are written out as MJML. MJML is compiled by the `mjml` package — in
 * the browser by its browser build, loaded only when a delivery uses it (app/lib/mjml.ts),
 * offline too; in Node by the same package (server/content/mjml.ts) — and the two give the
 * same bytes (server/content/mjml.test.ts, over the starter templates). The page compiles a
 * moment after each change of the source and once more before each preparation. The compiled HTML is
 * what the delivery's `html` holds, so preparation, previews, proofs, the hand-off and the
 * server's sending read HTML as ever, and the Liquid renderer personalizes it.
 */

import { blocksToMjml, type Design } from './builder';

export type ContentSource = { format: 'mjml'; mjml: string } | { format: 'builder'; design: Design };

/** What compiles MJML: mjml's `mjml2html`, from the browser build or the Node package. */
export type MjmlCompiler = (
  mjml: string,
  options: { validationLevel: 'soft' },
) => Promise<{ html: string; errors: { line: number; message: string }[] }>;

/** The result of compiling a source: the HTML body, with what mjml found wrong (it compiles what it can), or why it could not. */
export type CompiledSource = { ok: true; html: string; warnings: string[] } | { ok: false; error: string };

/** Returns the MJML of a source. */
export const mjmlOf = (source: ContentSource): string => (source.format === 'mjml' ? source.mjml : blocksToMjml(source.design));

/** Compiles a source's MJML with the compiler given. */
export async function compileSource(source: ContentSource, compile: MjmlCompiler): Promise<CompiledSource> {
  const mjml = mjmlOf(source);
  if (!/<mjml[\s>]/.test(mjml))
    return { ok: false, error: 'The MJML body has no <mjml> element: it starts with <mjml> and holds an <mj-body>.' };
  try {
    const { html, errors } = await compile(mjml, { validationLevel: 'soft' });
    return { ok: true, html, warnings: errors.map((e) => `Line ${e.line}: ${e.message}`) };
  } catch (error) {
    const reason = (error as Error).message.replace(/\.$/, '');
    return { ok: false, error: `The MJML body could not be read (${reason}): check that every tag is closed.` };
  }
}

/** The names of the formats, as the app says them. */
export const FORMAT_LABELS = { html: 'HTML code', mjml: 'MJML code', builder: 'Visual builder' } as const;
export type ContentFormat = keyof typeof FORMAT_LABELS;

export const formatOf = (source: ContentSource | null | undefined): ContentFormat => source?.format ?? 'html';
