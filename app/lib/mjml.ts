/**
 * MJML in the browser: mjml's browser build (about 350 KB gzipped), loaded the first time a
 * delivery made from MJML or the visual builder is edited or prepared, and cached by the
 * service worker like the rest of the app, so it works offline.
 */

import { compileSource, type CompiledSource, type ContentSource, type MjmlCompiler } from '$shared/content-source';

let compiler: Promise<MjmlCompiler> | null = null;

const load = () => (compiler ??= import('mjml-browser').then((module) => module.default as MjmlCompiler));

/** Compiles a content source into its HTML body. */
export async function compileInBrowser(source: ContentSource): Promise<CompiledSource> {
  return compileSource(source, await load());
}
