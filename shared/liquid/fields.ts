/**
 * Which profile fields a template reads: every name it reads that no `for` binds there and
 * that the template has not certainly set (assign, capture, increment) before that read.
 * A name the template sets somewhere but may read before is listed apart: a profile field
 * of that name is read then (as in `{% assign first_name = first_name | capitalize %}`),
 * but a name that is no field is no error there (it is the template's own variable).
 */

import { childrenOf } from './compile';
import type { Expr, Node } from './parse';

export interface FieldUse {
  /** Names read that the template never sets: profile fields (or mistakes), in order of first use. */
  fields: string[];
  /** Names the template sets but may read before setting them, in order of first use. */
  shadowed: string[];
}

/** Returns the fields a parsed template reads; the `date` filter reads `locale` (for month and day names). */
export function fieldUse(nodes: readonly Node[]): FieldUse {
  const set = new Set<string>();
  const collect = (list: readonly Node[]) => {
    for (const node of list) {
      if (node.kind === 'assign' || node.kind === 'capture' || node.kind === 'increment') set.add(node.name);
      for (const child of childrenOf(node)) collect(child);
    }
  };
  collect(nodes);
  const use: FieldUse = { fields: [], shadowed: [] };
  const read = (name: string, defined: ReadonlySet<string>, bound: readonly string[]) => {
    if (bound.includes(name) || defined.has(name)) return;
    const list = set.has(name) ? use.shadowed : use.fields;
    if (!list.includes(name)) list.push(name);
  };
  const expr = (e: Expr, defined: ReadonlySet<string>, bound: readonly string[]): void => {
    switch (e.kind) {
      case 'literal':
        return;
      case 'variable':
        read(e.name, defined, bound);
        for (const key of e.path) expr(key, defined, bound);
        return;
      case 'access':
        expr(e.base, defined, bound);
        for (const key of e.path) expr(key, defined, bound);
        return;
      case 'range':
        expr(e.low, defined, bound);
        expr(e.high, defined, bound);
        return;
      case 'not':
        return expr(e.operand, defined, bound);
      case 'binary':
        expr(e.left, defined, bound);
        return expr(e.right, defined, bound);
      case 'filtered':
        expr(e.input, defined, bound);
        for (const call of e.filters) {
          for (const arg of call.args) expr(arg, defined, bound);
          for (const [, arg] of call.keywords) expr(arg, defined, bound);
          // The profile's own locale, whatever the template names "locale".
          if (call.name === 'date' && !use.fields.includes('locale')) use.fields.push('locale');
        }
    }
  };
  /** Walks a body; returns the names certainly set after it. */
  const walk = (list: readonly Node[], before: ReadonlySet<string>, bound: readonly string[]): Set<string> => {
    const defined = new Set(before);
    const branches = (bodies: readonly (readonly Node[])[]) => {
      const ends = bodies.map((body) => walk(body, defined, bound));
      for (const name of [...ends[0]]) if (ends.every((end) => end.has(name))) defined.add(name);
    };
    for (const node of list) {
      switch (node.kind) {
        case 'text':
        case 'break':
        case 'continue':
          break;
        case 'output':
          expr(node.value, defined, bound);
          break;
        case 'if':
          for (const branch of node.branches) expr(branch.test, defined, bound);
          branches([...node.branches.map((b) => b.body), node.otherwise]);
          break;
        case 'case':
          expr(node.subject, defined, bound);
          for (const when of node.whens) for (const value of when.values) expr(value, defined, bound);
          branches([...node.whens.map((w) => w.body), node.otherwise]);
          break;
        case 'for':
          expr(node.collection, defined, bound);
          if (node.limit) expr(node.limit, defined, bound);
          if (node.offset) expr(node.offset, defined, bound);
          // The body may not run: what it sets is not certain after the loop.
          walk(node.body, defined, [...bound, node.variable, 'forloop']);
          walk(node.otherwise, defined, bound);
          break;
        case 'cycle':
          if (node.group) expr(node.group, defined, bound);
          for (const candidate of node.candidates) expr(candidate, defined, bound);
          break;
        case 'assign':
          expr(node.value, defined, bound);
          defined.add(node.name);
          break;
        case 'capture':
          for (const name of walk(node.body, defined, bound)) defined.add(name);
          defined.add(node.name);
          break;
        case 'increment':
          defined.add(node.name);
          break;
      }
    }
    return defined;
  };
  walk(nodes, new Set(), []);
  return use;
}
