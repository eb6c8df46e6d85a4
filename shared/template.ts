/**
 * The template renderer: a Liquid subset (the convention of marketing email) compiled once
 * per delivery and rendered once per recipient, byte for byte the same in the preparation
 * worker, the preview and the server.
 *
 *   {{ first_name }}                      a field
 *   {{ first_name | default: "there" }}   a default for a missing or empty value
 *   {{ city | upcase }}                   filters: default, upcase, downcase, capitalize
 *   {% if city %}…{% else %}…{% endif %}  a section kept when the field is not empty
 *   {% unless city %}…{% endunless %}     the opposite
 */

/** How a value is written into its context: escaped for HTML, kept for text, one line for a header. */
export type RenderMode = 'html' | 'text' | 'header';

export interface TemplateError {
  message: string;
  line: number;
  column: number;
}

interface Filter {
  name: 'default' | 'upcase' | 'downcase' | 'capitalize';
  argument?: string;
}

type Node =
  | { kind: 'text'; text: string }
  | { kind: 'output'; field: string; filters: Filter[] }
  | { kind: 'if'; field: string; negate: boolean; then: Node[]; otherwise: Node[] };

export interface CompiledTemplate {
  /** The fields the template reads, in order of first use. */
  readonly fields: readonly string[];
  /** Returns the rendered string; missing values render as empty strings. */
  render(values: Readonly<Record<string, string | undefined>>, mode: RenderMode): string;
}

export type CompileResult = { ok: true; template: CompiledTemplate } | { ok: false; error: TemplateError };

const FIELD = /^[a-z_][a-z0-9_]*$/;
const FILTERS = new Set<Filter['name']>(['default', 'upcase', 'downcase', 'capitalize']);

/** Returns the compiled template, or the first syntax error with its line and column (1-based). */
export function compileTemplate(source: string): CompileResult {
  try {
    const parser = new Parser(source);
    const nodes = parser.parseBlock([]);
    const fields: string[] = [];
    collectFields(nodes, fields);
    return {
      ok: true,
      template: {
        fields,
        render: (values, mode) => renderNodes(nodes, values, mode),
      },
    };
  } catch (error) {
    if (error instanceof TemplateSyntaxError) return { ok: false, error: error.detail };
    throw error;
  }
}

class TemplateSyntaxError extends Error {
  constructor(readonly detail: TemplateError) {
    super(`${detail.message} (line ${detail.line}, column ${detail.column})`);
  }
}

class Parser {
  private position = 0;
  constructor(private readonly source: string) {}

  /** Parses nodes until one of the closing tags (returned through `closedBy`) or the end. */
  parseBlock(closers: string[], closedBy?: { tag: string }, openedAt = 0): Node[] {
    const nodes: Node[] = [];
    while (this.position < this.source.length) {
      const next = this.findNextTag();
      if (next === -1) {
        nodes.push({ kind: 'text', text: this.source.slice(this.position) });
        this.position = this.source.length;
        break;
      }
      if (next > this.position) nodes.push({ kind: 'text', text: this.source.slice(this.position, next) });
      this.position = next;
      if (this.source.startsWith('{{', next)) {
        nodes.push(this.parseOutput());
        continue;
      }
      const tagStart = next;
      const body = this.readTag('{%', '%}');
      const [name = '', ...rest] = body.split(/\s+/).filter(Boolean);
      if (closers.includes(name)) {
        if (rest.length > 0) this.fail(`"${name}" takes no argument`, tagStart);
        if (closedBy) closedBy.tag = name;
        return nodes;
      }
      if (name === 'if' || name === 'unless') {
        nodes.push(this.parseIf(name, rest, tagStart));
        continue;
      }
      if (name === 'else' || name === 'endif' || name === 'endunless') {
        this.fail(`"{% ${name} %}" without a matching "{% if %}"`, tagStart);
      }
      this.fail(`unknown tag "${name}"; use if, unless, else, endif or endunless`, tagStart);
    }
    if (closers.length > 0) {
      const end = closers[closers.length - 1];
      this.fail(`missing "{% ${end} %}" for this "{% ${end.slice(3)} %}"`, openedAt);
    }
    return nodes;
  }

  private parseIf(name: 'if' | 'unless', args: string[], at: number): Node {
    if (args.length !== 1 || !FIELD.test(args[0])) {
      this.fail(`"{% ${name} %}" needs one field name, as in {% ${name} city %}`, at);
    }
    const end = name === 'if' ? 'endif' : 'endunless';
    const closedBy = { tag: '' };
    const then = this.parseBlock(['else', end], closedBy, at);
    const otherwise = closedBy.tag === 'else' ? this.parseBlock([end], undefined, at) : [];
    return { kind: 'if', field: args[0], negate: name === 'unless', then, otherwise };
  }

  private parseOutput(): Node {
    const at = this.position;
    const body = this.readTag('{{', '}}');
    const parts = splitPipes(body);
    const field = parts[0].trim();
    if (!FIELD.test(field)) {
      this.fail(field === '' ? 'empty "{{ }}"' : `"${field}" is not a field name (use letters, digits and _)`, at);
    }
    const filters = parts.slice(1).map((part) => this.parseFilter(part.trim(), at));
    return { kind: 'output', field, filters };
  }

  private parseFilter(text: string, at: number): Filter {
    const match = /^([a-z]+)\s*(?::\s*(?:"([^"]*)"|'([^']*)'))?$/.exec(text);
    if (!match || !FILTERS.has(match[1] as Filter['name'])) {
      this.fail(`unknown filter "${text}"; use default: "…", upcase, downcase or capitalize`, at);
    }
    const name = match[1] as Filter['name'];
    const argument = match[2] ?? match[3];
    if (name === 'default' && argument === undefined) this.fail('"default" needs a value, as in default: "there"', at);
    return { name, argument };
  }

  private findNextTag(): number {
    const output = this.source.indexOf('{{', this.position);
    const tag = this.source.indexOf('{%', this.position);
    if (output === -1) return tag;
    if (tag === -1) return output;
    return Math.min(output, tag);
  }

  private readTag(open: string, close: string): string {
    const start = this.position;
    const end = this.source.indexOf(close, start + open.length);
    const nextOpen = this.findOpenAfter(start + open.length);
    if (end === -1 || (nextOpen !== -1 && nextOpen < end)) this.fail(`"${open}" is not closed with "${close}"`, start);
    this.position = end + close.length;
    return this.source.slice(start + open.length, end).trim();
  }

  private findOpenAfter(from: number): number {
    const a = this.source.indexOf('{{', from);
    const b = this.source.indexOf('{%', from);
    return a === -1 ? b : b === -1 ? a : Math.min(a, b);
  }

  private fail(message: string, offset: number): never {
    const before = this.source.slice(0, offset);
    const line = before.split('\n').length;
    const column = offset - before.lastIndexOf('\n');
    throw new TemplateSyntaxError({ message, line, column });
  }
}

function splitPipes(body: string): string[] {
  const parts: string[] = [];
  let current = '';
  let quote: string | null = null;
  for (const char of body) {
    if (quote) {
      if (char === quote) quote = null;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '|') {
      parts.push(current);
      current = '';
      continue;
    }
    current += char;
  }
  parts.push(current);
  return parts;
}

function collectFields(nodes: Node[], into: string[]): void {
  for (const node of nodes) {
    if (node.kind === 'text') continue;
    if (!into.includes(node.field)) into.push(node.field);
    if (node.kind === 'if') {
      collectFields(node.then, into);
      collectFields(node.otherwise, into);
    }
  }
}

function renderNodes(nodes: Node[], values: Readonly<Record<string, string | undefined>>, mode: RenderMode): string {
  let out = '';
  for (const node of nodes) {
    if (node.kind === 'text') {
      out += node.text;
    } else if (node.kind === 'output') {
      out += writeValue(applyFilters(values[node.field] ?? '', node.filters), mode);
    } else {
      const present = (values[node.field] ?? '').trim() !== '';
      out += renderNodes(present !== node.negate ? node.then : node.otherwise, values, mode);
    }
  }
  return out;
}

function applyFilters(value: string, filters: Filter[]): string {
  let result = value;
  for (const filter of filters) {
    if (filter.name === 'default') result = result.trim() === '' ? (filter.argument ?? '') : result;
    else if (filter.name === 'upcase') result = result.toUpperCase();
    else if (filter.name === 'downcase') result = result.toLowerCase();
    else result = result.charAt(0).toUpperCase() + result.slice(1).toLowerCase();
  }
  return result;
}

function writeValue(value: string, mode: RenderMode): string {
  if (mode === 'html') return escapeHtml(value);
  if (mode === 'header') return oneLine(value);
  return value;
}

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Returns the text with the five HTML-significant characters escaped. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);
}

/** Returns the text on one line: CR, LF and other control characters become spaces. A header can never be split by it. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\s*[\u0000-\u001f\u007f\u2028\u2029]+\s*/g, ' ').trim();
}
