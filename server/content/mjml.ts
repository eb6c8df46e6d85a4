/** MJML compiled in Node by the `mjml` package: the same bytes as the browser build the app uses (shared/content-source.ts). */

import mjml2html from 'mjml';
import { compileSource, type CompiledSource, type ContentSource, type MjmlCompiler } from '../../shared/content-source';

export const nodeMjml: MjmlCompiler = (text, options) => mjml2html(text, options);

/** Compiles a delivery's content source into its HTML body. */
export const compileOnServer = (source: ContentSource): Promise<CompiledSource> => compileSource(source, nodeMjml);
