import { EVENT_KINDS, type EventKind } from '../api/shapes.js';
import { typedText, type KeyPress } from './keys.js';
import { DEFAULT_EVENTS, readPatternFields, writePatternYaml, type PatternFields } from './pattern-yaml.js';
import { formatVariables, parseVariables, splitGlobs, type Variables } from './variables-text.js';

/** The form's fields, in order; `variables` is one row per variable and a row that adds one. */
export const FORM_FIELDS = ['name', 'recipe', 'trigger', 'events', 'variables', 'settle', 'backend'] as const;
export type FormField = (typeof FORM_FIELDS)[number];
type TextField = Exclude<FormField, 'events' | 'variables'>;

/** A row of the form: a field, one variable (`name=value`), the "add a variable" row, or "review and apply". */
export type FormRow = { kind: 'field'; field: Exclude<FormField, 'variables'> } | { kind: 'variable'; index: number } | { kind: 'add' } | { kind: 'review' };

/** The pattern form: what is typed, which row has focus. */
export interface PatternForm {
  mode: 'new' | 'edit';
  /** The file an edit writes (a new pattern's file follows its name). */
  file: string | null;
  original: { source: string; fields: PatternFields } | null;
  text: Record<TextField, string>;
  /** One `name=value` per variable, as typed (an empty row is left out). */
  variables: string[];
  events: EventKind[];
  /** The focused row, an index into {@link formRows}. */
  focus: number;
  /** Which event kind ←/→ and space act on. */
  eventCursor: number;
}

export const NAME_RULE = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;

/** An empty form for a new pattern, its recipe preset to the first one known. */
export function newPatternForm(recipes: readonly string[]): PatternForm {
  return {
    mode: 'new',
    file: null,
    original: null,
    text: { name: '', recipe: recipes[0] ?? '', trigger: '', settle: '', backend: '' },
    variables: [],
    events: [...DEFAULT_EVENTS],
    focus: 0,
    eventCursor: 0,
  };
}

/** A form holding a pattern file's current values. */
export function editPatternForm(file: string, source: string): PatternForm {
  const f = readPatternFields(file, source);
  return {
    mode: 'edit',
    file,
    original: { source, fields: f },
    text: { name: f.name, recipe: f.recipe, trigger: f.paths.join(', '), settle: f.settle, backend: f.backend },
    variables: Object.entries(f.variables).map(([k, v]) => formatVariables({ [k]: v })),
    events: f.events,
    focus: 1,
    eventCursor: 0,
  };
}

/** The form's rows in order: the fields, a row per variable and the add row in place of `variables`, then review. */
export function formRows(s: PatternForm): FormRow[] {
  const rows: FormRow[] = [];
  for (const field of FORM_FIELDS) {
    if (field !== 'variables') rows.push({ kind: 'field', field });
    else rows.push(...s.variables.map((_, index) => ({ kind: 'variable' as const, index })), { kind: 'add' });
  }
  rows.push({ kind: 'review' });
  return rows;
}

/** The field a row belongs to (variable and add rows belong to `variables`); null for review. */
export function rowField(row: FormRow | undefined): FormField | null {
  if (!row || row.kind === 'review') return null;
  return row.kind === 'field' ? row.field : 'variables';
}

/** The variables typed so far, or the first row in error (naming the variable and the fix). */
export function formVariables(s: PatternForm): { variables: Variables } | { error: string } {
  const variables: Variables = {};
  for (const row of s.variables) {
    if (row.trim() === '') continue;
    const r = parseVariables(row);
    if ('error' in r) return r;
    for (const [k, v] of Object.entries(r.variables)) {
      if (k in variables) return { error: `${k}: given twice; remove one of its rows (Ctrl-D)` };
      variables[k] = v;
    }
  }
  return { variables };
}

/** The definition file the form writes. */
export function formFile(s: PatternForm): string {
  return s.file ?? `patterns/${s.text.name.trim() || 'untitled'}.yaml`;
}

/** The trigger globs typed so far. */
export function formGlobs(s: PatternForm): string[] {
  return splitGlobs(s.text.trigger);
}

/** The file's new content, or the first problem the form itself can see. */
export function formOutput(s: PatternForm): { file: string; content: string } | { field: FormField; error: string } {
  const name = s.text.name.trim();
  if (s.mode === 'new' && !NAME_RULE.test(name)) {
    return { field: 'name', error: name ? `"${name}": names start with a letter or digit and use only letters, digits, "_", "." and "-"` : 'type a name for the pattern' };
  }
  const paths = formGlobs(s);
  if (paths.length === 0) return { field: 'trigger', error: 'type at least one glob, e.g. data/raw/*.csv' };
  const vars = formVariables(s);
  if ('error' in vars) return { field: 'variables', error: vars.error };
  const fields: PatternFields = {
    name: s.mode === 'new' ? name : (s.original?.fields.name ?? name),
    recipe: s.text.recipe.trim(),
    paths,
    events: EVENT_KINDS.filter((k) => s.events.includes(k)),
    variables: vars.variables,
    settle: s.text.settle.trim(),
    backend: s.text.backend.trim(),
  };
  return { file: formFile(s), content: writePatternYaml(fields, s.original) };
}

/** What the form asks its owner to do. */
export type FormCommand = 'review' | 'cancel' | null;

function pick(list: readonly string[], current: string, by: number): string {
  if (list.length === 0) return current;
  const i = list.indexOf(current);
  return list[i < 0 ? (by > 0 ? 0 : list.length - 1) : (i + by + list.length) % list.length];
}

/**
 * The form's keys: ↑/↓ and Tab/Shift-Tab move between rows, Enter goes to the
 * next field (on the last row: review), Esc cancels. Text rows take typing,
 * Backspace and Ctrl-U (clear); the recipe row picks with ←/→; the events row
 * moves with ←/→ and toggles with space. Variables are one row each: Enter or
 * typing on the "add" row starts a new one, Ctrl-D removes the focused one,
 * Enter on the last one goes on to the next field. A name is fixed once the
 * file exists.
 */
export function formKey(s: PatternForm, input: string, key: KeyPress, recipes: readonly string[]): { state: PatternForm; command: FormCommand } {
  const to = (state: PatternForm, command: FormCommand = null) => ({ state, command });
  const rows = formRows(s);
  const last = rows.length - 1;
  const row = rows[Math.min(s.focus, last)];
  if (key.escape) return to(s, 'cancel');
  if (key.upArrow || (key.tab && key.shift)) return to({ ...s, focus: Math.max(0, s.focus - 1) });
  if (key.downArrow || key.tab) return to({ ...s, focus: Math.min(last, s.focus + 1) });
  if (row.kind === 'review') return key.return ? to(s, 'review') : to(s);
  if (row.kind === 'add') {
    const text = key.return ? '' : typedText(input, key);
    if (!key.return && !text) return to(s);
    return to({ ...s, variables: [...s.variables, text], focus: s.focus });
  }
  if (row.kind === 'variable') {
    const v = s.variables[row.index];
    // Enter on the last variable skips the add row: Enter walks the fields, as elsewhere.
    if (key.return) return to({ ...s, focus: s.focus + (row.index === s.variables.length - 1 ? 2 : 1) });
    if (key.ctrl && input === 'd') return to({ ...s, variables: s.variables.filter((_, i) => i !== row.index) });
    let next = v;
    if (key.backspace || key.delete) next = v.slice(0, -1);
    else if (key.ctrl && input === 'u') next = '';
    else next = v + typedText(input, key);
    return next === v ? to(s) : to({ ...s, variables: s.variables.map((x, i) => (i === row.index ? next : x)) });
  }
  if (key.return) return to({ ...s, focus: s.focus + 1 });
  const field = row.field;
  if (field === 'events') {
    if (key.leftArrow) return to({ ...s, eventCursor: (s.eventCursor + EVENT_KINDS.length - 1) % EVENT_KINDS.length });
    if (key.rightArrow) return to({ ...s, eventCursor: (s.eventCursor + 1) % EVENT_KINDS.length });
    if (input === ' ') {
      const kind = EVENT_KINDS[s.eventCursor];
      const events = s.events.includes(kind) ? s.events.filter((e) => e !== kind) : [...s.events, kind];
      return to({ ...s, events });
    }
    return to(s);
  }
  if (field === 'name' && s.mode === 'edit') return to(s);
  if (field === 'recipe' && (key.leftArrow || key.rightArrow)) {
    return to({ ...s, text: { ...s.text, recipe: pick(recipes, s.text.recipe, key.rightArrow ? 1 : -1) } });
  }
  const current = s.text[field];
  let next = current;
  if (key.backspace || key.delete) next = current.slice(0, -1);
  else if (key.ctrl && input === 'u') next = '';
  else next = current + typedText(input, key);
  return next === current ? to(s) : to({ ...s, text: { ...s.text, [field]: next } });
}
