/**
 * The template renderer: Liquid (Shopify Liquid's semantics, as liquidjs implements them) on
 * a profile's flat values, compiled once per delivery and rendered once per recipient,
 * byte for byte the same in the preparation worker, the preview and the server.
 *
 *   {{ first_name | default: "there" }}                    values and filters
 *   {% if vip %}…{% elsif loyalty_points > 1000 %}…{% else %}…{% endif %}
 *   {% for tag in interests limit: 3 %}{{ tag | capitalize }}{% unless forloop.last %}, {% endunless %}{% endfor %}
 *   {{ birth_date | date: "%-d %B" }}                      names in the profile's language, in UTC
 *
 * The parts: liquid/parse.ts (text → tree, with errors at their line and column),
 * liquid/compile.ts (tree → closures, per output mode), liquid/values.ts (Liquid's rules for
 * truth, equality and text), liquid/filters.ts, liquid/dates.ts, liquid/fields.ts (which
 * profile fields a template reads). What differs from liquidjs, and why, is listed in
 * liquid/differential.test.ts.
 */

import { compileProgram, type RenderMode, type RenderValues } from './liquid/compile';
import { fieldUse } from './liquid/fields';
import { parseTemplate, TemplateSyntaxError, type Node, type TemplateError } from './liquid/parse';

export { escapeHtml, oneLine } from './liquid/escape';
export type { RenderMode, TemplateError };
export type { TemplateValue } from './types';

export interface CompiledTemplate {
  /** The names the template reads that it never sets itself: profile fields (or unknown names), in order of first use. */
  readonly fields: readonly string[];
  /** Names the template sets (assign, capture) but may read before: a profile field of that name is read then. */
  readonly shadowedFields: readonly string[];
  /**
   * Returns the rendered text. `values` are a profile's (nil as null or absent); `sendAt`
   * is what "now" and "today" mean for the `date` filter (the current time when omitted).
   */
  render(values: RenderValues, mode: RenderMode, sendAt?: Date | number): string;
}

export type CompileResult = { ok: true; template: CompiledTemplate } | { ok: false; error: TemplateError };

/** Returns the compiled template, or the first syntax error with its line and column (1-based). */
export function compileTemplate(source: string): CompileResult {
  let nodes: Node[];
  try {
    nodes = parseTemplate(source);
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return { ok: false, error: error.detail };
    throw error;
  }
  const { fields, shadowed } = fieldUse(nodes);
  const programs: Partial<Record<RenderMode, ReturnType<typeof compileProgram>>> = {};
  return {
    ok: true,
    template: {
      fields,
      shadowedFields: shadowed,
      render(values, mode, sendAt) {
        const program = (programs[mode] ??= compileProgram(nodes, mode));
        return program(values, sendAt === undefined ? Date.now() : +sendAt);
      },
    },
  };
}
