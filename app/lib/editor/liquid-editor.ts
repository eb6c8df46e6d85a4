/**
 * The code editor for a message's HTML: CodeMirror 6 with HTML + Liquid highlighting,
 * completion of the audience's fields and of the Liquid tags and filters the renderer knows
 * (each with its one line from liquid/help.ts), bracket matching, undo, and the renderer's
 * own syntax error marked at its line and column a moment after each keystroke. Loaded on
 * demand (CodeEditor.svelte imports this module dynamically), so pages without an editor
 * never download CodeMirror.
 */

import {
  autocompletion,
  closeBrackets,
  closeBracketsKeymap,
  completionKeymap,
  type Completion,
  type CompletionContext,
} from '@codemirror/autocomplete';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { html, htmlCompletionSource } from '@codemirror/lang-html';
import { liquid } from '@codemirror/lang-liquid';
import { bracketMatching, defaultHighlightStyle, indentOnInput, syntaxHighlighting } from '@codemirror/language';
import { forceLinting, linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { Compartment, EditorState, type Text } from '@codemirror/state';
import { drawSelection, EditorView, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';
import { m, number } from '$lib/i18n.svelte';
import { FILTERS } from '$shared/liquid/filters';
import { FILTER_HELP, TAG_HELP } from '$shared/liquid/help';
import { isKnownField } from '$shared/message';
import { audienceFields, type FieldDefinition } from '$shared/profile-fields';
import type { AttributeDefinition } from '$shared/types';
import { compileTemplate } from '$shared/template';
import { fieldLabel } from './field-labels';

export interface LiquidEditorOptions {
  value: string;
  /** The accessible name of the editing area (what a label would say). */
  label: string;
  /** The audience's custom attributes, read at each completion and check (they may change). */
  schema: () => readonly AttributeDefinition[];
  /** Called with the whole text after each change the operator makes. */
  onChange: (value: string) => void;
  readOnly?: boolean;
  /** What the text is: HTML with Liquid (the body, the default), or plain text with Liquid (the text part, the subject). */
  language?: 'html' | 'text';
  /** One line, as a subject is: no line numbers, Enter does nothing, pasted line breaks become spaces, Tab leaves the field. */
  singleLine?: boolean;
}

export interface LiquidEditor {
  /** Replaces the text (another device's edit, a value taken back); not reported through onChange. */
  setValue(value: string): void;
  setReadOnly(readOnly: boolean): void;
  /** Checks the text again (the audience's attributes have changed). */
  recheck(): void;
  /** Puts text in place of the selection (at the cursor), as if typed: reported through onChange. */
  insert(text: string): void;
  focus(): void;
  destroy(): void;
}

/** Fields Mailroom fills in itself, offered beside the audience's (in the app's language of the moment). */
const systemCompletions = (): Completion[] => [
  { label: 'unsubscribe_url', type: 'variable', detail: m.editor_liquid_system(), info: m.editor_liquid_unsubscribe_url() },
];

// The filters' and tags' help is reference text, kept in English (shared/liquid/help.ts).

const FILTER_COMPLETIONS: Completion[] = Object.entries(FILTERS).map(([name, filter]) => ({
  label: name,
  type: 'function',
  detail: filter.usage,
  info: FILTER_HELP[name],
}));

const TAG_COMPLETIONS: Completion[] = TAG_HELP.map((tag) => ({ label: tag.name, type: 'keyword', detail: tag.snippet, info: tag.help }));

/** Where the cursor is in Liquid: an output's value, after a filter's pipe, or a tag's name; null outside Liquid. */
export function liquidContext(before: string): 'value' | 'filter' | 'tag' | 'tag-value' | null {
  const open = Math.max(before.lastIndexOf('{{'), before.lastIndexOf('{%'));
  if (open === -1 || Math.max(before.lastIndexOf('}}'), before.lastIndexOf('%}')) > open) return null;
  const inside = before.slice(open + 2);
  // A pipe outside quotes starts a filter.
  const unquoted = inside.replace(/"[^"]*"|'[^']*'/g, '""');
  if (/\|\s*\w*$/.test(unquoted)) return 'filter';
  if (before[open + 1] === '%') return /^-?\s*\w*$/.test(inside) ? 'tag' : 'tag-value';
  return 'value';
}

/** Returns the completion source for Liquid over the fields given. */
export function liquidCompletions(fields: () => readonly FieldDefinition[]) {
  return (context: CompletionContext) => {
    const before = context.state.sliceDoc(Math.max(0, context.pos - 500), context.pos);
    const where = liquidContext(before);
    if (!where) return null;
    const word = context.matchBefore(/\w*/)!;
    // Nothing typed yet: offered right after the braces or a pipe, or when asked (Ctrl-Space).
    if (word.from === word.to && !context.explicit && !/(\{\{|\{%|\|)-?\s*$/.test(before)) return null;
    const options =
      where === 'filter'
        ? FILTER_COMPLETIONS
        : where === 'tag'
          ? TAG_COMPLETIONS
          : [
              ...fields().map((f): Completion => ({ label: f.name, type: 'variable', detail: `${fieldLabel(f)} (${f.type})` })),
              ...systemCompletions(),
            ];
    return { from: word.from, options, validFor: /^\w*$/ };
  };
}

/**
 * Returns the renderer's syntax error as a diagnostic at its line and column; or, when the
 * template compiles, each use of a field the audience does not have (what the preparation's
 * Personalization fields rule fails on), when `isKnown` tells the fields it has.
 */
export function templateDiagnostics(doc: Text, isKnown?: (field: string) => boolean): Diagnostic[] {
  const source = doc.toString();
  const compiled = compileTemplate(source);
  if (compiled.ok) return isKnown ? unknownFields(source, compiled.template.fields, isKnown) : [];
  const { line, column, message } = compiled.error;
  const at = doc.line(Math.min(Math.max(line, 1), doc.lines));
  const from = Math.min(at.from + Math.max(column, 1) - 1, at.to);
  // One character is marked (the one before, at a line's end), so that the mark shows.
  const [start, end] = from < at.to ? [from, from + 1] : [Math.max(at.from, from - 1), from];
  return [
    { from: start, to: end, severity: 'error', message: m.editor_liquid_error_at({ message, line: number(line), column: number(column) }) },
  ];
}

/** Marks every use, inside Liquid and outside quotes, of the fields read that are not known. */
function unknownFields(source: string, read: readonly string[], isKnown: (field: string) => boolean): Diagnostic[] {
  const unknown = new Set(read.filter((field) => !isKnown(field)));
  if (unknown.size === 0) return [];
  const marks: Diagnostic[] = [];
  for (const block of source.matchAll(/\{\{[\s\S]*?\}\}|\{%[\s\S]*?%\}/g)) {
    // Quoted text is no field: blanked out, keeping the offsets.
    const code = block[0].replace(/"[^"]*"|'[^']*'/g, (quoted) => ' '.repeat(quoted.length));
    for (const word of code.matchAll(/(?<![\w.])[A-Za-z_]\w*/g)) {
      if (!unknown.has(word[0])) continue;
      const from = block.index + word.index;
      marks.push({
        from,
        to: from + word[0].length,
        severity: 'error',
        message: m.editor_liquid_unknown_field({ field: word[0] }),
      });
    }
  }
  return marks;
}

/** Whether the field may be edited, as CodeMirror and assistive technology are told. */
const editability = (readOnly: boolean) => [
  EditorState.readOnly.of(readOnly),
  EditorView.editable.of(!readOnly),
  EditorView.contentAttributes.of({ 'aria-readonly': String(readOnly) }),
];

/** What keeps a field to one line: a change that would make a second one is refused (Enter), pasted breaks become spaces. */
const oneLine = [
  EditorState.transactionFilter.of((tr) => (tr.docChanged && tr.newDoc.lines > 1 && tr.startState.doc.lines === 1 ? [] : tr)),
  EditorView.clipboardInputFilter.of((text) => text.replace(/\s*[\r\n]+\s*/g, ' ')),
];

export function createLiquidEditor(parent: HTMLElement, options: LiquidEditorOptions): LiquidEditor {
  const editable = new Compartment();
  const single = Boolean(options.singleLine);
  let applying = false;
  const view = new EditorView({
    parent,
    state: EditorState.create({
      doc: options.value,
      extensions: [
        single ? oneLine : [lineNumbers(), highlightActiveLine(), lintGutter(), EditorView.lineWrapping],
        history(),
        drawSelection(),
        indentOnInput(),
        bracketMatching(),
        closeBrackets(),
        syntaxHighlighting(defaultHighlightStyle, { fallback: true }),
        options.language === 'text' ? liquid() : liquid({ base: html() }),
        autocompletion({
          override: [
            liquidCompletions(() => audienceFields(options.schema())),
            ...(options.language === 'text' ? [] : [htmlCompletionSource]),
          ],
        }),
        // Known as the preparation's Personalization fields rule knows them.
        linter((v) => templateDiagnostics(v.state.doc, (field) => isKnownField(field, options.schema())), { delay: 250 }),
        keymap.of([...closeBracketsKeymap, ...defaultKeymap, ...historyKeymap, ...completionKeymap, ...(single ? [] : [indentWithTab])]),
        EditorView.contentAttributes.of({ 'aria-label': options.label, 'aria-multiline': String(!single), spellcheck: 'false' }),
        editable.of(editability(Boolean(options.readOnly))),
        EditorView.updateListener.of((update) => {
          if (update.docChanged && !applying) options.onChange(update.state.doc.toString());
        }),
      ],
    }),
  });
  return {
    setValue(value) {
      if (value === view.state.doc.toString()) return;
      applying = true;
      try {
        // Not filtered: a value from elsewhere is taken as it is, even one a single-line field would not let be typed.
        view.dispatch({ changes: { from: 0, to: view.state.doc.length, insert: value }, filter: false });
      } finally {
        applying = false;
      }
    },
    setReadOnly(readOnly) {
      view.dispatch({ effects: editable.reconfigure(editability(readOnly)) });
    },
    recheck: () => forceLinting(view),
    insert(text) {
      view.dispatch(view.state.replaceSelection(text), { scrollIntoView: true });
      view.focus();
    },
    focus: () => view.focus(),
    destroy: () => view.destroy(),
  };
}
