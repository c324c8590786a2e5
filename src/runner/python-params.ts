import type { Variables } from '../core/types.js';
import { isPythonIdentifier, pythonLiteral } from './python-literal.js';

/*
 * Pure text transforms that hand pattern variables to Python recipes. The rule
 * throughout: a pattern variable wins over the recipe's own default. Plain
 * scripts get their defaults rewritten in place; jupytext "percent" scripts
 * get papermill's injected-parameters cell (notebooks: notebook-params/).
 */

/** A parameterised recipe and what the user should know about it. */
export interface Parameterised<T> {
  /** The parameterised text or notebook. */
  text: T;
  /** Human-readable warnings, to be shown in the job's stderr.log. */
  warnings: string[];
}

/** The tag papermill puts on the cell it injects. */
export const INJECTED_TAG = 'injected-parameters';
/** The tag that marks the cell holding a recipe's default parameters. */
export const PARAMETERS_TAG = 'parameters';

/** One simple statement of a Python script, found by {@link scanStatements}. */
interface Statement {
  /** Offset of its first character. */
  start: number;
  /** Offset just past its last code character (a trailing comment is not included). */
  codeEnd: number;
  /** Indentation of the line it starts on: 0 means top level. */
  indent: number;
  /** Whether it has more than one bare `=` outside brackets (`a = b = 1`). */
  chained: boolean;
}

const NOT_BARE_EQ_BEFORE = new Set(['=', '!', '<', '>', ':', '+', '-', '*', '/', '%', '&', '|', '^', '@', '~']);

/** Offset just past the string literal whose opening quote is at `i`. */
function skipString(src: string, i: number): number {
  const q = src[i];
  const triple = src.startsWith(q + q + q, i);
  let j = i + (triple ? 3 : 1);
  while (j < src.length) {
    const c = src[j];
    // A backslash hides the next character from the tokenizer, in raw strings too.
    if (c === '\\') j += 2;
    else if (triple ? src.startsWith(q + q + q, j) : c === q) return j + (triple ? 3 : 1);
    else if (!triple && c === '\n') return j; // unterminated: leave it to Python to report
    else j++;
  }
  return src.length;
}

/**
 * Splits a script into simple statements, the way Python's tokenizer does:
 * a statement runs on across lines inside brackets, strings and backslash
 * continuations, and ends at a newline or a `;` outside them. Enough of
 * Python to find where an assignment starts and ends; not a parser.
 */
function scanStatements(src: string): Statement[] {
  const out: Statement[] = [];
  let cur: (Statement & { eqs: number }) | null = null;
  let depth = 0;
  let indent = 0;
  let lineStart = true;
  let continued = false;
  const end = (): void => {
    if (cur) out.push({ start: cur.start, codeEnd: cur.codeEnd, indent: cur.indent, chained: cur.eqs > 1 });
    cur = null;
  };
  let i = 0;
  while (i < src.length) {
    if (lineStart) {
      let j = i;
      while (j < src.length && (src[j] === ' ' || src[j] === '\t' || src[j] === '\f')) j++;
      indent = j - i;
      i = j;
      lineStart = false;
      continue;
    }
    const c = src[i];
    if (c === '#') {
      const nl = src.indexOf('\n', i);
      i = nl === -1 ? src.length : nl;
      continue;
    }
    if (c === '\n') {
      if (depth === 0 && !continued) {
        end();
        lineStart = true;
      }
      continued = false;
      i++;
      continue;
    }
    if (c === '\\' && (src[i + 1] === '\n' || (src[i + 1] === '\r' && src[i + 2] === '\n'))) {
      continued = true;
      i++;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r' || c === '\f') {
      i++;
      continue;
    }
    if (c === ';' && depth === 0) {
      end();
      i++;
      continue;
    }
    cur ??= { start: i, codeEnd: i, indent, chained: false, eqs: 0 };
    if (c === "'" || c === '"') {
      i = skipString(src, i);
      cur.codeEnd = i;
      continue;
    }
    if (c === '(' || c === '[' || c === '{') depth++;
    else if ((c === ')' || c === ']' || c === '}') && depth > 0) depth--;
    else if (c === '=' && depth === 0 && !NOT_BARE_EQ_BEFORE.has(src[i - 1]) && src[i + 1] !== '=') cur.eqs++;
    i++;
    cur.codeEnd = i;
  }
  end();
  return out;
}

/** `name = literal` lines for every assignable variable; the others are reported. */
export function assignments(variables: Variables, warnings: string[]): Map<string, string> {
  const lines = new Map<string, string>();
  for (const [name, value] of Object.entries(variables)) {
    if (isPythonIdentifier(name)) lines.set(name, `${name} = ${pythonLiteral(value)}`);
    else warnings.push(`variable "${name}" is not a Python identifier, so it cannot be assigned in the recipe; read it from the JSON file in $MEOW_PARAMS instead, or rename it`);
  }
  return lines;
}

const ASSIGNMENT = /^([\p{L}_][\p{L}\p{N}_]*)\s*(?::[^=]*)?=(?!=)/u;

/** The variable a top-level simple assignment statement binds, if any. */
function assignedName(source: string, st: Statement): string | null {
  if (st.indent !== 0) return null;
  const m = ASSIGNMENT.exec(source.slice(st.start, st.codeEnd));
  return m ? m[1] : null;
}

function lineOf(source: string, offset: number): number {
  let line = 1;
  for (let i = 0; i < offset; i++) if (source.charCodeAt(i) === 10) line++;
  return line;
}

/**
 * Where injected assignments go in a plain script: after a shebang or
 * encoding line, the module docstring and `from __future__` imports (which
 * Python requires to come first).
 */
function headerEnd(source: string, statements: Statement[]): number {
  let end = 0;
  for (const m of source.matchAll(/^(#!.*|[ \t\f]*#.*coding[:=].*)(\r?\n|$)/gm)) {
    if (m.index !== end || lineOf(source, m.index) > 2) break;
    end = m.index + m[0].length;
  }
  let i = 0;
  const code = (st: Statement): string => source.slice(st.start, st.codeEnd);
  if (statements[0] && /^[rRuUbBfF]{0,2}['"]/.test(code(statements[0])) && statements[0].indent === 0) i = 1;
  while (statements[i] && /^from\s+__future__\s+import\b/.test(code(statements[i]))) i++;
  if (i > 0) {
    const nl = source.indexOf('\n', statements[i - 1].codeEnd);
    end = nl === -1 ? source.length : nl + 1;
  }
  return end;
}

/**
 * Parameterises a plain Python script: the first top-level (column 0)
 * assignment of each variable (`name = …`, `name: T = …`, spanning as many
 * lines as its brackets, strings and continuations do) is replaced by
 * `name = <literal>`; variables the script does not assign are inserted after
 * the header. A later top-level reassignment is reported, since it would
 * overwrite the pattern's value.
 */
export function parameteriseScript(source: string, variables: Variables): Parameterised<string> {
  const warnings: string[] = [];
  const lines = assignments(variables, warnings);
  const statements = scanStatements(source);
  const edits: { start: number; end: number; text: string }[] = [];
  const replaced = new Set<string>();
  for (const st of statements) {
    const name = assignedName(source, st);
    if (name === null || !lines.has(name)) continue;
    if (replaced.has(name)) {
      warnings.push(`line ${lineOf(source, st.start)} assigns "${name}" again after its default; from there on the script overrides the pattern's value. Fix: assign each parameter once, at the top`);
      continue;
    }
    replaced.add(name);
    const text = lines.get(name) ?? '';
    // `a = b = 1` binds other names too: keep the statement and override after it.
    edits.push(st.chained ? overrideAfter(source, st, text) : { start: st.start, end: st.codeEnd, text });
  }
  const missing = [...lines].filter(([name]) => !replaced.has(name)).map(([, text]) => text);
  if (missing.length > 0) {
    const at = headerEnd(source, statements);
    const lead = at > 0 && source[at - 1] !== '\n' ? '\n' : '';
    edits.push({ start: at, end: at, text: `${lead}# Parameters (injected by meowflow)\n${missing.join('\n')}\n` });
  }
  return { text: applyEdits(source, edits), warnings };
}

/** Applies edits back to front (at one offset the replacement before the insertion), so offsets stay valid. */
function applyEdits(source: string, edits: { start: number; end: number; text: string }[]): string {
  let text = source;
  for (const e of edits.sort((a, b) => b.start - a.start || b.end - a.end)) text = text.slice(0, e.start) + e.text + text.slice(e.end);
  return text;
}

/** The names bound by the top-level (column 0) simple assignments of a Python source, in order. */
export function assignedNames(source: string): string[] {
  return scanStatements(source).map((st) => assignedName(source, st)).filter((n): n is string => n !== null);
}

/**
 * MEOW's parameterizer for one piece of Python source: every top-level
 * assignment of a variable in `lines` (its whole statement, however many lines
 * it spans) is replaced by the variable's line. Assignments inside functions,
 * classes, blocks and strings are left alone. `a = b = 1` is kept and followed
 * by the override, since it binds other names too.
 */
export function replaceAssignments(source: string, lines: ReadonlyMap<string, string>): { text: string; assigned: Set<string> } {
  const assigned = new Set<string>();
  const edits: { start: number; end: number; text: string }[] = [];
  for (const st of scanStatements(source)) {
    const name = assignedName(source, st);
    const line = name === null ? undefined : lines.get(name);
    if (name === null || line === undefined) continue;
    assigned.add(name);
    edits.push(st.chained ? overrideAfter(source, st, line) : { start: st.start, end: st.codeEnd, text: line });
  }
  return { text: applyEdits(source, edits), assigned };
}

function overrideAfter(source: string, st: Statement, line: string): { start: number; end: number; text: string } {
  const nl = source.indexOf('\n', st.codeEnd);
  return nl === -1 ? { start: source.length, end: source.length, text: '\n' + line + '\n' } : { start: nl + 1, end: nl + 1, text: line + '\n' };
}

const CELL_MARKER = /^#\s*%%([^\n]*)/gm;

/** Whether a script is in jupytext's "percent" format (has `# %%` cell markers). */
export function isPercentScript(source: string): boolean {
  return new RegExp(CELL_MARKER.source, 'm').test(source);
}

/** The tags of a `# %%` header: `tags=["a", "b"]`, plus `[parameters]` written as a cell type. */
function markerTags(header: string): string[] {
  const tags: string[] = [];
  const m = /\btags\s*=\s*(\[[^\]]*\])/.exec(header);
  if (m) {
    try {
      const parsed: unknown = JSON.parse(m[1].replace(/'/g, '"'));
      if (Array.isArray(parsed)) for (const t of parsed) if (typeof t === 'string') tags.push(t);
    } catch {
      // A malformed tag list is jupytext's to report; here the cell counts as untagged.
    }
  }
  if (/\[parameters\]/.test(header)) tags.push(PARAMETERS_TAG);
  return tags;
}

/**
 * Parameterises a jupytext percent script the way papermill does a notebook:
 * a `# %% tags=["injected-parameters"]` cell goes right after the first cell
 * tagged `parameters`, replacing any earlier injected cell. A script with no
 * parameters cell is parameterised as a plain script instead, so the pattern's
 * values still win.
 */
export function parameterisePercentScript(source: string, variables: Variables): Parameterised<string> {
  const starts = [...source.matchAll(CELL_MARKER)].map((m) => ({ start: m.index, tags: markerTags(m[1]) }));
  if (!starts.some((c) => c.tags.includes(PARAMETERS_TAG))) return parameteriseScript(source, variables);

  const warnings: string[] = [];
  const body = [...assignments(variables, warnings).values()];
  const injected = ['# %% tags=["injected-parameters"]', '# Parameters', ...body, '', ''].join('\n');
  let text = source.slice(0, starts[0].start);
  let done = false;
  starts.forEach((cell, k) => {
    if (cell.tags.includes(INJECTED_TAG)) return;
    text += source.slice(cell.start, k + 1 < starts.length ? starts[k + 1].start : source.length);
    if (done || !cell.tags.includes(PARAMETERS_TAG)) return;
    done = true;
    // jupytext separates cells by one blank line.
    if (!text.endsWith('\n')) text += '\n';
    if (!text.endsWith('\n\n')) text += '\n';
    text += injected;
  });
  // The injected cell may be the last one: end the file with a single newline.
  if (text.endsWith(injected)) text = text.slice(0, -1);
  return { text, warnings };
}
