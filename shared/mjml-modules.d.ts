/** The two builds of mjml ship no types: what Mailroom calls of them (shared/content-source.ts's MjmlCompiler). */

declare module 'mjml' {
  const mjml2html: (
    mjml: string,
    options?: Record<string, unknown>,
  ) => Promise<{ html: string; errors: { line: number; message: string; tagName: string }[] }>;
  export default mjml2html;
}

declare module 'mjml-browser' {
  const mjml2html: (
    mjml: string,
    options?: Record<string, unknown>,
  ) => Promise<{ html: string; errors: { line: number; message: string; tagName: string }[] }>;
  export default mjml2html;
}
