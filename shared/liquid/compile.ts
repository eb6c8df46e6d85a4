/**
 * Turning a parsed template into closures, once per delivery and output mode, and running
 * them once per recipient. A render allocates one state object (and its slot arrays when
 * the template has variables or loops); names are resolved to slots at compile time.
 *
 * How values are written: in HTML each value is escaped once (an output whose last filter
 * is `escape` or `escape_once` is already escaped; `newline_to_br` last escapes its input
 * and keeps its <br />; captured text is written as captured), in a header each value is
 * put on one line, in text it is kept.
 *
 * Names: inside a `for`, its variable and `forloop`; then what `assign` or `capture` set
 * (wherever it was set: Liquid has one scope for them); then `increment`/`decrement`
 * counters; then the profile's values. `fields` lists the profile fields a template may
 * read; a name that the template sets before every read of it is no field.
 */

import { escapeHtml, oneLine } from './escape';
import { FILTERS, HTML_SAFE_FILTERS, type FilterContext } from './filters';
import type { Expr, Node } from './parse';
import {
  Captured,
  compare,
  contains,
  equals,
  Forloop,
  isTruthy,
  property,
  range,
  stringify,
  toEnumerable,
  toValue,
  type Value,
} from './values';

/** How a value is written into its context: escaped for HTML, kept for text, one line for a header. */
export type RenderMode = 'html' | 'text' | 'header';

/** A profile's values as the renderer takes them; nil may be null or absent. */
export type RenderValues = Readonly<Record<string, Value>>;

/** The most numbers a range `(a..b)` holds, and the most loop turns one render runs: a template cannot hang a send. */
export const RANGE_LIMIT = 10_000;
export const LOOP_BUDGET = 100_000;

const BREAK = 1;
const CONTINUE = 2;
/** A variable slot not set yet: reads fall through to counters and the profile. */
const UNSET = Object.freeze({ unset: true }) as unknown as Value;
const hasOwn = Object.prototype.hasOwnProperty;

class State implements FilterContext {
  out = '';
  /** Inside a capture in HTML or a header: the captured text as it is, values unescaped. */
  raw = '';
  jump = 0;
  budget = LOOP_BUDGET;
  cycles: Map<string, number> | null = null;
  readonly locals: Value[];
  readonly counters: (number | undefined)[];
  readonly loops: Value[];
  constructor(
    readonly values: RenderValues,
    readonly now: number,
    sizes: Slots,
  ) {
    this.locals = sizes.locals.size ? new Array<Value>(sizes.locals.size).fill(UNSET) : NO_SLOTS;
    this.counters = sizes.counters.size ? new Array<number | undefined>(sizes.counters.size).fill(undefined) : (NO_SLOTS as undefined[]);
    this.loops = sizes.loops ? new Array<Value>(sizes.loops).fill(undefined) : NO_SLOTS;
  }
  get locale(): unknown {
    return toValue(this.values.locale);
  }
}
const NO_SLOTS: Value[] = [];

type Eval = (s: State) => Value;
type Run = (s: State) => void;

/** The slots of a template: one per name it assigns or captures, per counter, and two per loop. */
interface Slots {
  locals: Map<string, number>;
  counters: Map<string, number>;
  loops: number;
}

interface Scope {
  mode: RenderMode;
  /** Inside a capture in HTML or a header: writes go to both buffers. */
  dual: boolean;
  inLoop: boolean;
  /** Loop variables in reach, innermost last: name → slot. */
  bound: { name: string; slot: number }[];
  slots: Slots;
}

/** Returns the slots a parsed template needs (names set by assign, capture and counters). */
export function slotsOf(nodes: readonly Node[]): Slots {
  const slots: Slots = { locals: new Map(), counters: new Map(), loops: 0 };
  const walk = (list: readonly Node[]) => {
    for (const node of list) {
      if (node.kind === 'assign' || node.kind === 'capture') {
        if (!slots.locals.has(node.name)) slots.locals.set(node.name, slots.locals.size);
      } else if (node.kind === 'increment') {
        if (!slots.counters.has(node.name)) slots.counters.set(node.name, slots.counters.size);
      }
      for (const child of childrenOf(node)) walk(child);
    }
  };
  walk(nodes);
  return slots;
}

/** Returns the bodies inside a node. */
export function childrenOf(node: Node): readonly (readonly Node[])[] {
  switch (node.kind) {
    case 'if':
      return [...node.branches.map((b) => b.body), node.otherwise];
    case 'case':
      return [...node.whens.map((w) => w.body), node.otherwise];
    case 'for':
      return [node.body, node.otherwise];
    case 'capture':
      return [node.body];
    default:
      return [];
  }
}

/** Returns a field's value for the renderer: nil as undefined, whether it came as null or not at all. */
function fieldReader(name: string): Eval {
  // A name Object.prototype has (constructor, toString…) must not read the prototype's.
  if (name in Object.prototype) return (s) => (hasOwn.call(s.values, name) ? (s.values[name] ?? undefined) : undefined);
  return (s) => s.values[name] ?? undefined;
}

function compileName(name: string, scope: Scope): Eval {
  for (let i = scope.bound.length - 1; i >= 0; i--) {
    const { name: bound, slot } = scope.bound[i];
    if (bound === name) return (s) => s.loops[slot];
  }
  const field = fieldReader(name);
  const local = scope.slots.locals.get(name);
  const counter = scope.slots.counters.get(name);
  if (local === undefined && counter === undefined) return field;
  return (s) => {
    if (local !== undefined) {
      const v = s.locals[local];
      if (v !== UNSET) return v;
    }
    if (counter !== undefined) {
      const n = s.counters[counter];
      if (n !== undefined) return n;
    }
    return field(s);
  };
}

function compilePath(base: Eval, path: readonly Expr[], scope: Scope): Eval {
  let read = base;
  for (const key of path) {
    const previous = read;
    if (key.kind === 'literal') {
      const k = key.value;
      read = (s) => property(previous(s), k);
    } else {
      const k = compileExpr(key, scope);
      read = (s) => property(previous(s), k(s));
    }
  }
  return read;
}

/** Returns the closure that evaluates an expression. */
function compileExpr(expr: Expr, scope: Scope): Eval {
  switch (expr.kind) {
    case 'literal': {
      const value = expr.value;
      return () => value;
    }
    case 'variable':
      return compilePath(compileName(expr.name, scope), expr.path, scope);
    case 'access':
      return compilePath(compileExpr(expr.base, scope), expr.path, scope);
    case 'range': {
      const low = compileExpr(expr.low, scope);
      const high = compileExpr(expr.high, scope);
      return (s) => range(low(s), high(s), RANGE_LIMIT);
    }
    case 'not': {
      const operand = compileExpr(expr.operand, scope);
      return (s) => !isTruthy(operand(s));
    }
    case 'binary': {
      const left = compileExpr(expr.left, scope);
      const right = compileExpr(expr.right, scope);
      switch (expr.op) {
        case 'and':
          return (s) => isTruthy(left(s)) && isTruthy(right(s));
        case 'or':
          return (s) => isTruthy(left(s)) || isTruthy(right(s));
        case '==':
          return (s) => equals(left(s), right(s));
        case '!=':
          return (s) => !equals(left(s), right(s));
        case 'contains':
          return (s) => contains(left(s), right(s));
        default: {
          const op = expr.op;
          return (s) => compare(op, left(s), right(s));
        }
      }
    }
    case 'filtered': {
      let read = compileExpr(expr.input, scope);
      for (const call of expr.filters) {
        const previous = read;
        const definition = FILTERS[call.name];
        const args = call.args.map((a) => compileExpr(a, scope));
        const keywords = call.keywords.map(([k, v]) => [k, compileExpr(v, scope)] as const);
        const staticArgs = call.args.every((a) => a.kind === 'literal') ? args.map((a) => a(undefined as unknown as State)) : null;
        const run = definition.run;
        if (keywords.length) {
          read = (s) => {
            const named: Record<string, Value> = {};
            for (const [k, v] of keywords) named[k] = v(s);
            return run(previous(s), staticArgs ?? args.map((a) => a(s)), s, named);
          };
        } else if (staticArgs) {
          read = (s) => run(previous(s), staticArgs, s, null);
        } else {
          read = (s) =>
            run(
              previous(s),
              args.map((a) => a(s)),
              s,
              null,
            );
        }
      }
      return read;
    }
  }
}

/** Returns how an output writes its value in the scope's mode (see the module comment). */
function compileWrite(expr: Expr, scope: Scope): Run {
  const { mode, dual } = scope;
  const last = expr.kind === 'filtered' ? expr.filters[expr.filters.length - 1].name : null;
  if (mode === 'html' && last === 'newline_to_br') {
    // The text is escaped first, then its line breaks become <br />: the tags stay tags.
    const inner: Expr =
      expr.kind === 'filtered' && expr.filters.length > 1
        ? { ...expr, filters: expr.filters.slice(0, -1) }
        : (expr as Extract<Expr, { kind: 'filtered' }>).input;
    const read = compileExpr(inner, scope);
    const br = (t: string) => t.replace(/\r?\n/g, '<br />\n');
    return (s) => {
      const t = stringify(read(s));
      s.out += br(escapeHtml(t));
      if (dual) s.raw += br(t);
    };
  }
  const read = compileExpr(expr, scope);
  if (mode === 'text') return (s) => void (s.out += stringify(read(s)));
  const escaped = mode === 'html' && last !== null && HTML_SAFE_FILTERS.has(last);
  const put = mode === 'header' ? oneLine : escaped ? (t: string) => t : escapeHtml;
  return (s) => {
    const v = read(s);
    if (v instanceof Captured) {
      s.out += v.out;
      if (dual) s.raw += v.raw;
      return;
    }
    const t = typeof v === 'string' ? v : stringify(v);
    s.out += put(t);
    if (dual) s.raw += t;
  };
}

function compileText(text: string, scope: Scope): Run {
  if (scope.dual)
    return (s) => {
      s.out += text;
      s.raw += text;
    };
  return (s) => void (s.out += text);
}

/** Returns one closure running a list of nodes; inside a loop it stops at break and continue. */
function compileNodes(nodes: readonly Node[], scope: Scope): Run {
  const runs = nodes.map((node) => compileNode(node, scope));
  if (runs.length === 0) return () => {};
  if (runs.length === 1) return runs[0];
  if (scope.inLoop)
    return (s) => {
      for (let i = 0; i < runs.length; i++) {
        runs[i](s);
        if (s.jump !== 0) return;
      }
    };
  return (s) => {
    for (let i = 0; i < runs.length; i++) runs[i](s);
  };
}

function compileNode(node: Node, scope: Scope): Run {
  switch (node.kind) {
    case 'text':
      return compileText(node.text, scope);
    case 'output':
      return compileWrite(node.value, scope);
    case 'if': {
      const tests = node.branches.map((b) => compileExpr(b.test, scope));
      const negates = node.branches.map((b) => b.negate);
      const bodies = node.branches.map((b) => compileNodes(b.body, scope));
      const otherwise = compileNodes(node.otherwise, scope);
      if (tests.length === 1) {
        const [test] = tests;
        const [body] = bodies;
        if (negates[0]) return (s) => (isTruthy(test(s)) ? otherwise(s) : body(s));
        return (s) => (isTruthy(test(s)) ? body(s) : otherwise(s));
      }
      return (s) => {
        for (let i = 0; i < tests.length; i++) if (isTruthy(tests[i](s)) !== negates[i]) return bodies[i](s);
        otherwise(s);
      };
    }
    case 'case': {
      const subject = compileExpr(node.subject, scope);
      const whens = node.whens.map((w) => ({ values: w.values.map((v) => compileExpr(v, scope)), body: compileNodes(w.body, scope) }));
      const otherwise = compileNodes(node.otherwise, scope);
      // As in Liquid, every `when` that matches is written, in order.
      return (s) => {
        const target = toValue(subject(s)) as Value;
        let hit = false;
        for (const when of whens) {
          for (const value of when.values) {
            if (equals(target, value(s))) {
              when.body(s);
              hit = true;
              if (s.jump !== 0) return;
              break;
            }
          }
        }
        if (!hit) otherwise(s);
      };
    }
    case 'for': {
      const collection = compileExpr(node.collection, scope);
      const limit = node.limit ? compileExpr(node.limit, scope) : null;
      const offset = node.offset ? compileExpr(node.offset, scope) : null;
      const otherwise = compileNodes(node.otherwise, scope);
      const itemSlot = scope.slots.loops++;
      const loopSlot = scope.slots.loops++;
      const inner: Scope = {
        ...scope,
        inLoop: true,
        bound: [...scope.bound, { name: node.variable, slot: itemSlot }, { name: 'forloop', slot: loopSlot }],
      };
      const body = compileNodes(node.body, inner);
      const { reversed, label } = node;
      return (s) => {
        let list = toEnumerable(collection(s));
        if (list.length === 0) return otherwise(s);
        // Applied in Liquid's order, whatever the order written: offset, limit, reversed.
        if (offset) {
          const n = offset(s);
          if (n !== undefined) list = list.slice(toValue(n) as number);
        }
        if (limit) {
          const n = limit(s);
          if (n !== undefined) list = list.slice(0, toValue(n) as number);
        }
        if (reversed) list = [...list].reverse();
        const forloop = new Forloop(list.length, label);
        s.loops[loopSlot] = forloop;
        for (let i = 0; i < list.length; i++) {
          if (--s.budget < 0) break;
          s.loops[itemSlot] = list[i];
          body(s);
          if (s.jump !== 0) {
            const jump = s.jump;
            s.jump = 0;
            if (jump === BREAK) break;
          }
          forloop.i++;
        }
      };
    }
    case 'break':
      return (s) => void (s.jump = BREAK);
    case 'continue':
      return (s) => void (s.jump = CONTINUE);
    case 'cycle': {
      const group = node.group ? compileExpr(node.group, scope) : null;
      const writes = node.candidates.map((c) => compileWrite(c, scope));
      const key = node.key;
      return (s) => {
        const fingerprint = `cycle:${group ? String(group(s)) : 'undefined'}:${key}`;
        s.cycles ??= new Map();
        const at = s.cycles.get(fingerprint) ?? 0;
        s.cycles.set(fingerprint, (at + 1) % writes.length);
        writes[at](s);
      };
    }
    case 'assign': {
      const value = compileExpr(node.value, scope);
      const slot = scope.slots.locals.get(node.name)!;
      return (s) => void (s.locals[slot] = value(s));
    }
    case 'capture': {
      const slot = scope.slots.locals.get(node.name)!;
      if (scope.mode === 'text') {
        const body = compileNodes(node.body, scope);
        return (s) => {
          const saved = s.out;
          s.out = '';
          body(s);
          s.locals[slot] = s.out;
          s.out = saved;
        };
      }
      const body = compileNodes(node.body, { ...scope, dual: true });
      return (s) => {
        const out = s.out;
        const raw = s.raw;
        s.out = '';
        s.raw = '';
        body(s);
        s.locals[slot] = new Captured(s.out, s.raw);
        s.out = out;
        s.raw = raw;
      };
    }
    case 'increment': {
      const slot = scope.slots.counters.get(node.name)!;
      const { step } = node;
      const dual = scope.dual;
      return (s) => {
        const before = s.counters[slot];
        const n = typeof before === 'number' ? before : 0;
        s.counters[slot] = n + step;
        const written = String(step > 0 ? n : n + step);
        s.out += written;
        if (dual) s.raw += written;
      };
    }
  }
}

/** Returns the renderer of a parsed template in one mode: values and the send time in, text out. */
export function compileProgram(nodes: readonly Node[], mode: RenderMode): (values: RenderValues, now: number) => string {
  const slots = slotsOf(nodes);
  const scope: Scope = { mode, dual: false, inLoop: false, bound: [], slots };
  const run = compileNodes(nodes, scope);
  return (values, now) => {
    const s = new State(values, now, slots);
    run(s);
    return s.out;
  };
}
