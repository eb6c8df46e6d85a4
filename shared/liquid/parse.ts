/**
 * Reading a template: the text cut into text, outputs `{{ }}` and tags `{% %}` (with
 * whitespace control), then parsed into a tree of nodes and expressions. The grammar is
 * liquidjs's (Shopify Liquid's) with stricter checks: where liquidjs ignores the rest of a
 * tag or an unknown option, this refuses it with the line and column of what is wrong.
 */

import { FILTERS, nearestName } from './filters';
import { BLANK, EMPTY, NIL, type Value } from './values';

/** A compile error: what is wrong and what to do, at a 1-based line and column. */
export interface TemplateError {
  message: string;
  line: number;
  column: number;
}

export type BinaryOp = '==' | '!=' | '<' | '>' | '<=' | '>=' | 'contains' | 'and' | 'or';

export type Expr =
  | { kind: 'literal'; value: Value }
  /** A name and the properties read from it (`interests.size`, `items[0]`). */
  | { kind: 'variable'; name: string; path: Expr[]; at: number }
  /** Properties read from something that is not a name (`"text".size`, `(1..3).last`). */
  | { kind: 'access'; base: Expr; path: Expr[] }
  | { kind: 'range'; low: Expr; high: Expr }
  | { kind: 'binary'; op: BinaryOp; left: Expr; right: Expr }
  | { kind: 'not'; operand: Expr }
  | { kind: 'filtered'; input: Expr; filters: FilterCall[] };

export interface FilterCall {
  name: string;
  args: Expr[];
  keywords: [string, Expr][];
  at: number;
}

export type Node =
  | { kind: 'text'; text: string }
  | { kind: 'output'; value: Expr }
  /** if/elsif/else and unless (its first branch negated). */
  | { kind: 'if'; branches: { test: Expr; negate: boolean; body: Node[] }[]; otherwise: Node[] }
  | { kind: 'case'; subject: Expr; whens: { values: Expr[]; body: Node[] }[]; otherwise: Node[] }
  | {
      kind: 'for';
      variable: string;
      collection: Expr;
      limit: Expr | null;
      offset: Expr | null;
      reversed: boolean;
      body: Node[];
      otherwise: Node[];
      /** `forloop.name`: the variable and the collection as written. */
      label: string;
    }
  | { kind: 'break' }
  | { kind: 'continue' }
  | { kind: 'cycle'; group: Expr | null; candidates: Expr[]; key: string }
  | { kind: 'assign'; name: string; value: Expr }
  | { kind: 'capture'; name: string; body: Node[] }
  | { kind: 'increment'; name: string; step: 1 | -1 };

export class TemplateSyntaxError extends Error {
  constructor(readonly detail: TemplateError) {
    super(`${detail.message} (line ${detail.line}, column ${detail.column})`);
  }
}

// Characters as liquidjs classes them: blanks (whitespace control trims them), word characters.
const BLANKS = new Set([9, 10, 11, 12, 13, 32, 160, 5760, 6158, 8232, 8233, 8239, 8287, 12288]);
for (let c = 8192; c <= 8202; c++) BLANKS.add(c);
const isBlank = (code: number) => BLANKS.has(code);
function isWordCode(code: number): boolean {
  if (code >= 128) return !BLANKS.has(code) && code !== 8220 && code !== 8221;
  return (
    (code >= 97 && code <= 122) || (code >= 65 && code <= 90) || (code >= 48 && code <= 57) || code === 95 || code === 45 || code === 63
  );
}

interface TextToken {
  kind: 'text';
  start: number;
  end: number;
}
interface OutputToken {
  kind: 'output';
  at: number;
  start: number;
  end: number;
}
interface TagToken {
  kind: 'tag';
  at: number;
  name: string;
  nameAt: number;
  start: number;
  end: number;
}
type Token = TextToken | OutputToken | TagToken;

const BLOCK_ENDS: Record<string, string> = { if: 'endif', unless: 'endunless', for: 'endfor', case: 'endcase', capture: 'endcapture' };
export const KNOWN_TAGS = [
  'if',
  'elsif',
  'else',
  'endif',
  'unless',
  'endunless',
  'case',
  'when',
  'endcase',
  'for',
  'endfor',
  'break',
  'continue',
  'cycle',
  'assign',
  'capture',
  'endcapture',
  'increment',
  'decrement',
  'raw',
  'endraw',
  'comment',
  'endcomment',
  'echo',
  'liquid',
];
const ELSEWHERE = new Set(['include', 'render', 'layout', 'block', 'section', 'sections']);

/** Returns the tree of a template; throws TemplateSyntaxError at the first error. */
export function parseTemplate(source: string): Node[] {
  const tokens = tokenize(source);
  return new Parser(source, tokens).parseAll();
}

/** Returns the 1-based line and column of an offset. */
export function positionOf(source: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = source.indexOf('\n'); i !== -1 && i < offset; i = source.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

function fail(source: string, offset: number, message: string): never {
  throw new TemplateSyntaxError({ message, ...positionOf(source, offset) });
}

/** Returns the offset of `close` after `from`, or -1; with `quoted`, quoted text is skipped (outputs, as liquidjs). */
function findClose(source: string, from: number, close: string, quoted: boolean): number {
  let i = from;
  while (i < source.length) {
    const c = source[i];
    if (quoted && (c === '"' || c === "'")) {
      // As liquidjs reads a quoted text: to the same quote, not one escaped with a backslash.
      let end = i + 1;
      while (end < source.length && source[end] !== c) end += source[end] === '\\' ? 2 : 1;
      if (end >= source.length) return -1;
      i = end + 1;
      continue;
    }
    if (source.startsWith(close, i)) return i;
    i++;
  }
  return -1;
}

/** Returns the offset of an opening `{{` or `{%` in [from, to) outside quotes, or -1. */
function nestedOpen(source: string, from: number, to: number): number {
  let quote = '';
  for (let i = from; i < to - 1; i++) {
    const c = source[i];
    if (quote) {
      if (c === '\\') i++;
      else if (c === quote) quote = '';
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '{' && (source[i + 1] === '{' || source[i + 1] === '%')) return i;
  }
  return -1;
}

function tokenize(source: string): Token[] {
  const tokens: Token[] = [];
  // Whitespace control, applied once all tokens are known: [text token index, side].
  const trims: { token: number; side: 'end' | 'start' }[] = [];
  let p = 0;
  while (p < source.length) {
    const output = source.indexOf('{{', p);
    const tag = source.indexOf('{%', p);
    const next = output === -1 ? tag : tag === -1 ? output : Math.min(output, tag);
    if (next === -1) {
      tokens.push({ kind: 'text', start: p, end: source.length });
      break;
    }
    if (next > p) tokens.push({ kind: 'text', start: p, end: next });
    const isTag = next === tag;
    const [open, close] = isTag ? ['{%', '%}'] : ['{{', '}}'];
    const closeAt = findClose(source, next + 2, close, !isTag);
    const nested = nestedOpen(source, next + 2, closeAt === -1 ? source.length : closeAt);
    if (closeAt === -1 || nested !== -1) fail(source, next, `"${open}" is not closed with "${close}"`);
    let start = next + 2;
    let end = closeAt;
    const trimBefore = source[start] === '-';
    const trimAfter = end - 1 >= start && source[end - 1] === '-' && !(trimBefore && end - 1 === start);
    if (trimBefore) start++;
    if (trimAfter) end--;
    if (trimBefore && tokens.length && tokens[tokens.length - 1].kind === 'text') trims.push({ token: tokens.length - 1, side: 'end' });
    while (start < end && isBlank(source.charCodeAt(start))) start++;
    while (end > start && isBlank(source.charCodeAt(end - 1))) end--;
    p = closeAt + 2;
    if (isTag) {
      let nameEnd = start;
      if (source[start] === '#') nameEnd = start + 1;
      else while (nameEnd < end && isWordCode(source.charCodeAt(nameEnd))) nameEnd++;
      const name = source.slice(start, nameEnd);
      if (!name) fail(source, next, `"{% %}" needs a tag name, as in {% if vip %}`);
      let argsStart = nameEnd;
      while (argsStart < end && isBlank(source.charCodeAt(argsStart))) argsStart++;
      tokens.push({ kind: 'tag', at: next, name, nameAt: start, start: argsStart, end });
      if (name === 'raw') {
        // The raw text runs to the first {% endraw %}, as written; its own whitespace control is kept out of it.
        const endraw = /\{%-?\s*endraw\s*-?%\}/g;
        endraw.lastIndex = p;
        const m = endraw.exec(source);
        if (!m) fail(source, next, `missing "{% endraw %}" for this "{% raw %}"`);
        tokens.push({ kind: 'text', start: p, end: m.index });
        const endTrimAfter = m[0].endsWith('-%}');
        p = m.index + m[0].length;
        tokens.push({ kind: 'tag', at: m.index, name: 'endraw', nameAt: m.index + 2, start: p - 2, end: p - 2 });
        if (endTrimAfter) trims.push({ token: tokens.length, side: 'start' });
        continue;
      }
    } else {
      tokens.push({ kind: 'output', at: next, start, end });
    }
    if (trimAfter) trims.push({ token: tokens.length, side: 'start' });
  }
  for (const { token, side } of trims) {
    const t = tokens[token];
    if (!t || t.kind !== 'text') continue;
    if (side === 'end') while (t.end > t.start && isBlank(source.charCodeAt(t.end - 1))) t.end--;
    else while (t.start < t.end && isBlank(source.charCodeAt(t.start))) t.start++;
  }
  return tokens;
}

/** Splits the body of `{% liquid %}` into one tag per line. */
function liquidLines(source: string, start: number, end: number): TagToken[] {
  const tags: TagToken[] = [];
  let p = start;
  while (p < end) {
    while (p < end && isBlank(source.charCodeAt(p))) p++;
    if (p >= end) break;
    let lineEnd = source.indexOf('\n', p);
    if (lineEnd === -1 || lineEnd > end) lineEnd = end;
    let nameEnd = p;
    if (source[p] === '#') nameEnd = p + 1;
    else while (nameEnd < lineEnd && isWordCode(source.charCodeAt(nameEnd))) nameEnd++;
    const name = source.slice(p, nameEnd);
    if (!name) fail(source, p, `each line of {% liquid %} is a tag, as in "assign x = 1" or "echo x"`);
    let argsStart = nameEnd;
    while (argsStart < lineEnd && isBlank(source.charCodeAt(argsStart))) argsStart++;
    let argsEnd = lineEnd;
    while (argsEnd > argsStart && isBlank(source.charCodeAt(argsEnd - 1))) argsEnd--;
    tags.push({ kind: 'tag', at: p, name, nameAt: p, start: argsStart, end: argsEnd });
    p = lineEnd;
  }
  return tags;
}

const OPERATORS: readonly BinaryOp[] = ['==', '!=', '<=', '>=', '<', '>', 'contains', 'and', 'or'];
const PRECEDENCE: Record<BinaryOp | 'not', number> = {
  '==': 2,
  '!=': 2,
  '<': 2,
  '>': 2,
  '<=': 2,
  '>=': 2,
  contains: 2,
  not: 1,
  and: 0,
  or: 0,
};
const LITERALS: Record<string, Value> = { true: true, false: false, nil: NIL, null: NIL, empty: EMPTY, blank: BLANK };

/** Reads expressions from a slice of the source (a tag's arguments, an output's content). */
class ExprReader {
  constructor(
    private readonly source: string,
    public p: number,
    private readonly end: number,
  ) {}

  fail(message: string, at = this.p): never {
    fail(this.source, at, message);
  }

  atEnd(): boolean {
    this.skipBlank();
    return this.p >= this.end;
  }

  peek(n = 0): string {
    return this.p + n < this.end ? this.source[this.p + n] : '';
  }

  skipBlank(): void {
    while (this.p < this.end && isBlank(this.source.charCodeAt(this.p))) this.p++;
  }

  /** Returns the text from here to the end, shortened, for messages. */
  rest(): string {
    const text = this.source.slice(this.p, this.end);
    return text.length > 24 ? `${text.slice(0, 21)}...` : text;
  }

  readIdentifier(): string {
    this.skipBlank();
    const start = this.p;
    while (this.p < this.end && isWordCode(this.source.charCodeAt(this.p))) this.p++;
    return this.source.slice(start, this.p);
  }

  /** Returns the word operator or symbol here (not consumed), or null. */
  private operatorHere(): BinaryOp | 'not' | null {
    this.skipBlank();
    for (const op of [...OPERATORS, 'not'] as const) {
      if (!this.source.startsWith(op, this.p) || this.p + op.length > this.end) continue;
      const wordy = /^[a-z]/.test(op);
      if (wordy && this.p + op.length < this.end && isWordCode(this.source.charCodeAt(this.p + op.length))) continue;
      return op;
    }
    return null;
  }

  /** Reads an expression (values joined by operators, `not`), then its filters. */
  readFilteredValue(what: string, stop = ''): Expr {
    const input = this.readExpression(what, stop);
    this.skipBlank();
    if (this.peek() !== '|') return input;
    const filters: FilterCall[] = [];
    while (!this.atEnd() && this.peek() === '|') filters.push(this.readFilter());
    return { kind: 'filtered', input, filters };
  }

  /**
   * Reads values and operators and builds the tree as liquidjs does: comparisons before
   * `not` before `and`/`or`, and operators of one level grouped from the right
   * (`a or b and c` is `a or (b and c)`), which is how Liquid evaluates them.
   */
  readExpression(what: string, stop = ''): Expr {
    const operands: Expr[] = [];
    const operators: (BinaryOp | 'not')[] = [];
    const reduce = () => {
      const op = operators.pop()!;
      if (op === 'not') operands.push({ kind: 'not', operand: operands.pop()! });
      else {
        const right = operands.pop()!;
        const left = operands.pop()!;
        operands.push({ kind: 'binary', op, left, right });
      }
    };
    let expectValue = true;
    for (;;) {
      this.skipBlank();
      const at = this.p;
      if (expectValue) {
        if (this.operatorHere() === 'not') {
          this.p += 3;
          operators.push('not');
          continue;
        }
        const value = this.readValue();
        if (!value) {
          if (this.p >= this.end)
            this.fail(operands.length || operators.length ? `a value is missing at the end of ${what}` : `${what} is empty`);
          this.fail(`unexpected "${this.rest()}" in ${what}: expected a value (a field, "text", a number, true, false, nil)`);
        }
        operands.push(value);
        expectValue = false;
        continue;
      }
      const op = this.operatorHere();
      if (!op || op === 'not') {
        if (this.p >= this.end || this.peek() === '|' || (stop && this.peek() === stop)) break;
        if (this.peek() === '=' && this.peek(1) !== '=') this.fail(`"=" compares nothing: write "==" to compare`, at);
        this.fail(
          `unexpected "${this.rest()}" in ${what}: expected an operator (==, !=, <, >, <=, >=, contains, and, or)` +
            (this.peek() === '+' || this.peek() === '-' || this.peek() === '*' || this.peek() === '/'
              ? '; Liquid has no arithmetic signs, use the filters plus, minus, times and divided_by'
              : ''),
          at,
        );
      }
      this.p += op.length;
      // Equal levels group from the right: only a strictly higher level is reduced first.
      while (operators.length && PRECEDENCE[operators[operators.length - 1]] > PRECEDENCE[op]) reduce();
      operators.push(op);
      expectValue = true;
    }
    while (operators.length) reduce();
    return operands[0];
  }

  readFilter(): FilterCall {
    this.p++; // the "|"
    this.skipBlank();
    const at = this.p;
    const name = this.readIdentifier();
    if (!name) this.fail(`a filter name is missing after "|"`, at);
    if (name === 'raw') this.fail(`there is no "raw" filter: values are always escaped once in HTML, so the message stays safe`, at);
    const definition = FILTERS[name];
    if (!definition) {
      const near = nearestName(name, Object.keys(FILTERS));
      this.fail(`unknown filter "${name}"${near ? `; did you mean "${near}"?` : ''}`, at);
    }
    const args: Expr[] = [];
    const keywords: [string, Expr][] = [];
    this.skipBlank();
    if (this.peek() === ':') {
      do {
        this.p++;
        this.skipBlank();
        const argAt = this.p;
        const value = this.readValue();
        if (!value) this.fail(`"${name}" needs a value after ":", as in ${definition.usage}`, argAt);
        this.skipBlank();
        if (this.peek() === ':' && value.kind === 'variable' && value.path.length === 0) {
          this.p++;
          const keyValue = this.readValue();
          if (!keyValue) this.fail(`"${value.name}:" needs a value, as in ${value.name}: true`);
          if (!definition.keywords?.includes(value.name))
            this.fail(
              `"${name}" has no option "${value.name}"${definition.keywords ? `; it has ${definition.keywords.join(', ')}` : ''}`,
              argAt,
            );
          keywords.push([value.name, keyValue]);
        } else {
          if (keywords.length) this.fail(`in "${name}", values come before named options`, argAt);
          args.push(value);
        }
        this.skipBlank();
        if (!(this.p >= this.end || this.peek() === ',' || this.peek() === '|'))
          this.fail(`unexpected "${this.rest()}" after a value of "${name}": separate values with ","`);
      } while (this.peek() === ',');
    } else if (!(this.p >= this.end || this.peek() === '|')) {
      this.fail(`expected ":" after the filter name "${name}", as in ${definition.usage}`);
    }
    if (args.length < definition.min || args.length > definition.max) {
      const count = (n: number) => (n === 0 ? 'no value' : n === 1 ? 'one value' : `${n} values`);
      const takes =
        definition.min === definition.max
          ? count(definition.min)
          : definition.min === 0
            ? `at most ${count(definition.max)}`
            : `${definition.min} to ${definition.max} values`;
      this.fail(`"${name}" takes ${takes}, as in ${definition.usage}`, at);
    }
    return { name, args, keywords, at };
  }

  /** Reads one value (a literal, "text", a number, a range, a name) with its properties, or returns null. */
  readValue(): Expr | null {
    this.skipBlank();
    const start = this.p;
    let base: Expr | null = this.readLiteral() ?? this.readQuoted() ?? this.readNumber();
    if (!base && this.peek() === '(') base = this.readRange();
    if (base) {
      const path = this.readProperties();
      return path.length ? { kind: 'access', base, path } : base;
    }
    let name: string;
    if (this.peek() === '[') {
      // ["name"]: a name written as text.
      this.p++;
      const key = this.readValue();
      this.skipBlank();
      if (!key || key.kind !== 'literal' || typeof key.value !== 'string' || this.peek() !== ']')
        this.fail(`write a field as its name, or ["name"] with the name as text`, start);
      this.p++;
      name = key.value;
    } else {
      name = this.readIdentifier();
      if (!name) return null;
    }
    return { kind: 'variable', name, path: this.readProperties(), at: start };
  }

  private readProperties(): Expr[] {
    const path: Expr[] = [];
    for (;;) {
      if (this.peek() === '[') {
        const at = this.p;
        this.p++;
        const key = this.readValue();
        this.skipBlank();
        if (!key || this.peek() !== ']') this.fail(`"[" is not closed with "]"`, at);
        this.p++;
        path.push(key);
      } else if (this.peek() === '.' && this.peek(1) !== '.') {
        this.p++;
        const at = this.p;
        const key = this.readIdentifier();
        if (!key) this.fail(`a property name is missing after "."`, at);
        path.push({ kind: 'literal', value: key });
      } else return path;
    }
  }

  private readLiteral(): Expr | null {
    for (const word of Object.keys(LITERALS)) {
      if (!this.source.startsWith(word, this.p) || this.p + word.length > this.end) continue;
      if (this.p + word.length < this.end && isWordCode(this.source.charCodeAt(this.p + word.length))) continue;
      this.p += word.length;
      return { kind: 'literal', value: LITERALS[word] };
    }
    return null;
  }

  private readQuoted(): Expr | null {
    const quote = this.peek();
    if (quote !== '"' && quote !== "'") return null;
    const start = this.p;
    let i = this.p + 1;
    let escaped = false;
    for (; i < this.end; i++) {
      const c = this.source[i];
      if (escaped) escaped = false;
      else if (c === '\\') escaped = true;
      else if (c === quote) break;
    }
    if (i >= this.end) this.fail(`the text started here is not closed with ${quote}`, start);
    this.p = i + 1;
    return { kind: 'literal', value: unescapeLiteral(this.source.slice(start + 1, i)) };
  }

  private readNumber(): Expr | null {
    let n = this.p;
    if (this.source[n] === '-' || this.source[n] === '+') n++;
    let digits = false;
    let decimal = false;
    while (n < this.end) {
      const c = this.source.charCodeAt(n);
      if (c >= 48 && c <= 57) {
        digits = true;
        n++;
      } else if (c === 46 && this.source[n + 1] !== '.') {
        if (decimal || !digits) return null;
        decimal = true;
        n++;
      } else break;
    }
    if (!digits || (n < this.end && isWordCode(this.source.charCodeAt(n)))) return null;
    const value = Number(this.source.slice(this.p, n));
    this.p = n;
    return { kind: 'literal', value };
  }

  private readRange(): Expr {
    const at = this.p;
    this.p++;
    const low = this.readValue();
    this.skipBlank();
    if (!low || this.peek() !== '.' || this.peek(1) !== '.') this.fail(`a range is written (1..5), with two values and ".."`, at);
    this.p += 2;
    const high = this.readValue();
    this.skipBlank();
    if (!high || this.peek() !== ')') this.fail(`a range is written (1..5), with two values and ".."`, at);
    this.p++;
    return { kind: 'range', low, high };
  }
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\x0B' };

/** Returns the text of a quoted literal with its backslash escapes read (as liquidjs reads them). */
function unescapeLiteral(body: string): string {
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    if (body[i] !== '\\') {
      out += body[i];
      continue;
    }
    const next = body[i + 1];
    if (next === undefined) break;
    if (ESCAPES[next] !== undefined) {
      out += ESCAPES[next];
      i++;
    } else if (next === 'u') {
      let j = i + 2;
      let code = 0;
      while (j <= i + 5 && /[\da-fA-F]/.test(body[j] ?? '')) code = code * 16 + parseInt(body[j++], 16);
      i = j - 1;
      out += String.fromCharCode(code);
    } else if (!/[0-7]/.test(next)) {
      out += next;
      i++;
    } else {
      let j = i + 1;
      let code = 0;
      while (j <= i + 3 && /[0-7]/.test(body[j] ?? '')) code = code * 8 + Number(body[j++]);
      i = j - 1;
      out += String.fromCharCode(code);
    }
  }
  return out;
}

class Parser {
  private index = 0;
  /** How many `for` bodies the parser is in: break and continue are refused outside one. */
  private loops = 0;

  constructor(
    private readonly source: string,
    private tokens: Token[],
  ) {}

  parseAll(): Node[] {
    const { nodes } = this.parseBody([], null);
    return nodes;
  }

  private fail(offset: number, message: string): never {
    fail(this.source, offset, message);
  }

  private args(tag: TagToken): ExprReader {
    return new ExprReader(this.source, tag.start, tag.end);
  }

  private noArgs(tag: TagToken): void {
    if (tag.end > tag.start) this.fail(tag.start, `"${tag.name}" takes nothing after its name`);
  }

  /** Parses nodes until a tag named in `until` (returned) or the end (an error when `opener` is set). */
  private parseBody(until: readonly string[], opener: TagToken | null): { nodes: Node[]; end: TagToken | null } {
    const nodes: Node[] = [];
    while (this.index < this.tokens.length) {
      const token = this.tokens[this.index++];
      if (token.kind === 'text') {
        if (token.end > token.start) nodes.push({ kind: 'text', text: this.source.slice(token.start, token.end) });
        continue;
      }
      if (token.kind === 'output') {
        const reader = new ExprReader(this.source, token.start, token.end);
        if (reader.atEnd()) this.fail(token.at, 'empty "{{ }}": write a field between the braces, as in {{ first_name }}');
        const value = reader.readFilteredValue('"{{ }}"');
        if (!reader.atEnd()) reader.fail(`unexpected "${reader.rest()}" in "{{ }}"`);
        nodes.push({ kind: 'output', value });
        continue;
      }
      if (until.includes(token.name)) return { nodes, end: token };
      const node = this.parseTag(token);
      if (Array.isArray(node)) nodes.push(...node);
      else if (node) nodes.push(node);
    }
    if (opener) {
      const end = BLOCK_ENDS[opener.name] ?? `end${opener.name}`;
      this.fail(opener.at, `missing "{% ${end} %}" for this "{% ${opener.name} %}"`);
    }
    return { nodes, end: null };
  }

  private parseTag(tag: TagToken): Node | Node[] | null {
    switch (tag.name) {
      case 'if':
      case 'unless':
        return this.parseIf(tag);
      case 'case':
        return this.parseCase(tag);
      case 'for':
        return this.parseFor(tag);
      case 'break':
      case 'continue':
        if (this.loops === 0) this.fail(tag.at, `"${tag.name}" is only possible inside a "{% for %}" loop`);
        this.noArgs(tag);
        return { kind: tag.name };
      case 'cycle':
        return this.parseCycle(tag);
      case 'assign': {
        const reader = this.args(tag);
        const name = reader.readIdentifier();
        if (!name) this.fail(tag.at, `"assign" needs a name and a value, as in {% assign greeting = "Hello" %}`);
        reader.skipBlank();
        if (reader.peek() !== '=') reader.fail(`"assign ${name}" needs "=" and a value, as in {% assign ${name} = "Hello" %}`);
        reader.p++;
        const value = reader.readFilteredValue(`"assign"`);
        if (!reader.atEnd()) reader.fail(`unexpected "${reader.rest()}" in "assign"`);
        return { kind: 'assign', name, value };
      }
      case 'capture': {
        const reader = this.args(tag);
        let name = reader.readIdentifier();
        if (!name) {
          const quoted = reader.readValue();
          if (quoted?.kind === 'literal' && typeof quoted.value === 'string') name = quoted.value;
        }
        if (!name || !reader.atEnd()) this.fail(tag.at, `"capture" needs one name, as in {% capture greeting %}…{% endcapture %}`);
        const { nodes, end } = this.parseBody(['endcapture'], tag);
        this.noArgs(end!);
        return { kind: 'capture', name, body: nodes };
      }
      case 'increment':
      case 'decrement': {
        const reader = this.args(tag);
        const name = reader.readIdentifier();
        if (!name || !reader.atEnd()) this.fail(tag.at, `"${tag.name}" needs one name, as in {% ${tag.name} counter %}`);
        return { kind: 'increment', name, step: tag.name === 'increment' ? 1 : -1 };
      }
      case 'echo': {
        const reader = this.args(tag);
        if (reader.atEnd()) return null;
        const value = reader.readFilteredValue(`"echo"`);
        if (!reader.atEnd()) reader.fail(`unexpected "${reader.rest()}" in "echo"`);
        return { kind: 'output', value };
      }
      case 'raw': {
        const text = this.tokens[this.index++];
        if (text?.kind !== 'text') this.fail(tag.at, `"raw" is not available inside {% liquid %}`);
        this.index++; // endraw
        return text.end > text.start ? { kind: 'text', text: this.source.slice(text.start, text.end) } : null;
      }
      case 'comment': {
        while (this.index < this.tokens.length) {
          const token = this.tokens[this.index++];
          if (token.kind === 'tag' && token.name === 'endcomment') return null;
        }
        return this.fail(tag.at, `missing "{% endcomment %}" for this "{% comment %}"`);
      }
      case '#': {
        if (/\n\s*[^#\s]/.test(this.source.slice(tag.start, tag.end)))
          this.fail(tag.at, `every line of a "{% # %}" comment starts with "#"`);
        return null;
      }
      case 'liquid':
        return this.parseLiquid(tag);
      default:
        return this.unknownTag(tag);
    }
  }

  private unknownTag(tag: TagToken): never {
    const { name } = tag;
    if (ELSEWHERE.has(name))
      this.fail(
        tag.at,
        `"${name}" is not supported: a Mailroom template is one message, with no other files to include; write the part here`,
      );
    if (name === 'else' || name === 'elsif' || name === 'when' || name.startsWith('end')) {
      const opener = name === 'else' || name === 'elsif' ? 'if' : name === 'when' ? 'case' : name.slice(3);
      if (KNOWN_TAGS.includes(name)) this.fail(tag.at, `"{% ${name} %}" without a matching "{% ${opener} %}"`);
    }
    const near = nearestName(name, KNOWN_TAGS);
    this.fail(tag.at, `unknown tag "${name}"${near ? `; did you mean "${near}"?` : ''}`);
  }

  private parseIf(tag: TagToken): Node {
    const end = BLOCK_ENDS[tag.name];
    const branches: { test: Expr; negate: boolean; body: Node[] }[] = [];
    let otherwise: Node[] = [];
    let test = this.condition(tag);
    let negate = tag.name === 'unless';
    for (;;) {
      const { nodes, end: closer } = this.parseBody(['elsif', 'else', end], tag);
      branches.push({ test, negate, body: nodes });
      if (closer!.name === end) {
        this.noArgs(closer!);
        break;
      }
      if (closer!.name === 'elsif') {
        test = this.condition(closer!);
        negate = false;
        continue;
      }
      this.noArgs(closer!);
      const rest = this.parseBody(['elsif', 'else', end], tag);
      if (rest.end!.name !== end) this.fail(rest.end!.at, `"{% ${rest.end!.name} %}" after "{% else %}": the "else" comes last`);
      this.noArgs(rest.end!);
      otherwise = rest.nodes;
      break;
    }
    return { kind: 'if', branches, otherwise };
  }

  private condition(tag: TagToken): Expr {
    const reader = this.args(tag);
    if (reader.atEnd())
      this.fail(tag.at, `"${tag.name}" needs a condition, as in {% ${tag.name} vip %} or {% ${tag.name} city == "Gent" %}`);
    const test = reader.readFilteredValue(`"${tag.name}"`);
    if (!reader.atEnd()) reader.fail(`unexpected "${reader.rest()}" in "${tag.name}"`);
    return test;
  }

  private parseCase(tag: TagToken): Node {
    const reader = this.args(tag);
    if (reader.atEnd()) this.fail(tag.at, `"case" needs a value to compare, as in {% case locale %}`);
    const subject = reader.readFilteredValue(`"case"`);
    if (!reader.atEnd()) reader.fail(`unexpected "${reader.rest()}" in "case"`);
    const whens: { values: Expr[]; body: Node[] }[] = [];
    let otherwise: Node[] = [];
    // Text between "case" and the first "when" is never written (as in Liquid).
    let next = this.parseBody(['when', 'else', 'endcase'], tag).end!;
    while (next.name === 'when') {
      const values = this.whenValues(next);
      const { nodes, end } = this.parseBody(['when', 'else', 'endcase'], tag);
      whens.push({ values, body: nodes });
      next = end!;
    }
    if (next.name === 'else') {
      this.noArgs(next);
      const rest = this.parseBody(['when', 'else', 'endcase'], tag);
      if (rest.end!.name !== 'endcase') this.fail(rest.end!.at, `"{% ${rest.end!.name} %}" after "{% else %}": the "else" comes last`);
      otherwise = rest.nodes;
      next = rest.end!;
    }
    this.noArgs(next);
    return { kind: 'case', subject, whens, otherwise };
  }

  private whenValues(tag: TagToken): Expr[] {
    const reader = this.args(tag);
    const values: Expr[] = [];
    if (reader.atEnd()) this.fail(tag.at, `"when" needs a value, as in {% when "nl", "be" %}`);
    for (;;) {
      const value = reader.readValue();
      if (!value) return reader.fail(`"when" takes values separated by "," or "or", as in {% when "nl" or "be" %}`);
      values.push(value);
      if (reader.atEnd()) return values;
      if (reader.peek() === ',') reader.p++;
      else if (reader.readIdentifier() !== 'or') reader.fail(`"when" takes values separated by "," or "or", as in {% when "nl" or "be" %}`);
    }
  }

  private parseFor(tag: TagToken): Node {
    const reader = this.args(tag);
    const variable = reader.readIdentifier();
    const inWord = reader.readIdentifier();
    reader.skipBlank();
    const collectionAt = reader.p;
    const collection = variable && inWord === 'in' ? reader.readValue() : null;
    if (!collection) this.fail(tag.at, `"for" is written {% for item in list %}, as in {% for tag in interests %}`);
    const label = `${variable}-${this.source.slice(collectionAt, reader.p)}`;
    let limit: Expr | null = null;
    let offset: Expr | null = null;
    let reversed = false;
    for (;;) {
      reader.skipBlank();
      if (reader.peek() === ',') reader.p++;
      if (reader.atEnd()) break;
      const at = reader.p;
      if (reader.peek() === '|')
        reader.fail(
          `a "for" list takes no filters: assign it first, as in {% assign sorted = ${label.slice(variable.length + 1)} | sort %}`,
        );
      const option = reader.readIdentifier();
      reader.skipBlank();
      if (option === 'reversed' && reader.peek() !== ':') reversed = true;
      else if ((option === 'limit' || option === 'offset') && reader.peek() === ':') {
        reader.p++;
        const value = reader.readValue();
        if (!value) reader.fail(`"${option}:" needs a number, as in ${option}: 3`);
        if (option === 'limit') limit = value;
        else offset = value;
      } else {
        reader.fail(`unknown option "${option || reader.rest()}" of "for": use limit: n, offset: n or reversed`, at);
      }
    }
    this.loops++;
    const { nodes, end } = this.parseBody(['else', 'endfor'], tag);
    this.loops--;
    let otherwise: Node[] = [];
    if (end!.name === 'else') {
      this.noArgs(end!);
      const rest = this.parseBody(['else', 'endfor'], tag);
      if (rest.end!.name !== 'endfor') this.fail(rest.end!.at, `a second "{% else %}" in this "{% for %}"`);
      this.noArgs(rest.end!);
      otherwise = rest.nodes;
    } else this.noArgs(end!);
    return { kind: 'for', variable, collection, limit, offset, reversed, body: nodes, otherwise, label };
  }

  private parseCycle(tag: TagToken): Node {
    const reader = this.args(tag);
    if (reader.atEnd()) this.fail(tag.at, `"cycle" needs values, as in {% cycle "odd", "even" %}`);
    let group: Expr | null = null;
    const start = reader.p;
    const first = reader.readValue();
    reader.skipBlank();
    if (first && reader.peek() === ':') {
      group = first;
      reader.p++;
    } else reader.p = start;
    const candidates: Expr[] = [];
    const texts: string[] = [];
    for (;;) {
      reader.skipBlank();
      const at = reader.p;
      candidates.push(reader.readFilteredValue(`"cycle"`, ','));
      texts.push(this.source.slice(at, reader.p).trim());
      if (reader.atEnd()) break;
      if (reader.peek() !== ',') reader.fail(`"cycle" takes values separated by ",", as in {% cycle "odd", "even" %}`);
      reader.p++;
    }
    return { kind: 'cycle', group, candidates, key: texts.join(',') };
  }

  private parseLiquid(tag: TagToken): Node[] {
    // The lines are a stream of their own: a block opened in them closes in them.
    const saved = { tokens: this.tokens, index: this.index };
    this.tokens = liquidLines(this.source, tag.start, tag.end);
    this.index = 0;
    const { nodes } = this.parseBody([], null);
    this.tokens = saved.tokens;
    this.index = saved.index;
    return nodes;
  }
}
