import type { VarValue } from '../../src/core/types.js';

/**
 * Variables as one line of the pattern form: `kernel_size=3, out=data/{stem}.npy`.
 * Values read as numbers, booleans and null when they look like them, as JSON
 * when they start with `[`, `"` or `{…}` parses as JSON, and as plain strings
 * otherwise (so placeholders like `{stem}` need no quotes).
 */
export type Variables = Record<string, VarValue>;

const PAIR_START = /^,\s*[A-Za-z_][A-Za-z0-9_]*\s*=/;
const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const NUMBER = /^-?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$/;

function parseValue(text: string): VarValue {
  const t = text.trim();
  if (NUMBER.test(t)) return Number(t);
  if (t === 'true' || t === 'false') return t === 'true';
  if (t === 'null' || t === '~') return null;
  if (/^["[{]/.test(t)) {
    try {
      return JSON.parse(t) as VarValue;
    } catch {
      if (!t.startsWith('{')) throw new Error(`${t}: not valid JSON; quote strings "like this" or leave them bare`);
    }
  }
  return t;
}

/** Splits at commas that start a new `name=` pair, outside quotes and brackets. */
function splitPairs(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted = false;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '\\') i++;
      else if (ch === '"') quoted = false;
    } else if (ch === '"') quoted = true;
    else if (ch === '[' || ch === '{') depth++;
    else if ((ch === ']' || ch === '}') && depth > 0) depth--;
    else if (ch === ',' && depth === 0 && PAIR_START.test(text.slice(i))) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** Parses the form's variables line; errors name the variable and the fix. */
export function parseVariables(text: string): { variables: Variables } | { error: string } {
  const variables: Variables = {};
  if (text.trim() === '') return { variables };
  for (const part of splitPairs(text)) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim();
    if (eq < 0 || !NAME.test(name)) return { error: `"${part.trim()}": expected name=value pairs separated by commas` };
    try {
      variables[name] = parseValue(part.slice(eq + 1));
    } catch (err) {
      return { error: `${name}: ${(err as Error).message}` };
    }
  }
  return { variables };
}

function formatValue(v: VarValue): string {
  if (typeof v !== 'string') return JSON.stringify(v);
  // Bare when it reads back as itself, also with another pair after it.
  const back = v === '' || v.trim() !== v ? null : parseVariables(`v=${v}, z=0`);
  const bare = back !== null && 'variables' in back && back.variables.v === v && back.variables.z === 0 && Object.keys(back.variables).length === 2;
  return bare ? v : JSON.stringify(v);
}

/** The variables as the form's line; `parseVariables` reads it back unchanged. */
export function formatVariables(vars: Variables): string {
  return Object.entries(vars)
    .map(([k, v]) => `${k}=${formatValue(v)}`)
    .join(', ');
}

/** Splits the form's trigger line into globs at commas outside `{…}` braces. */
export function splitGlobs(text: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = '';
  for (const ch of text) {
    if (ch === '{') depth++;
    if (ch === '}') depth = Math.max(0, depth - 1);
    if (ch === ',' && depth === 0) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out.map((g) => g.trim()).filter(Boolean);
}
