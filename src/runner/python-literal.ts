import { ExactNumber } from '../core/exact-number.js';
import type { VarValue } from '../core/types.js';

/*
 * Variables reach Python recipes as source text, so every value must render as
 * a literal that evaluates back to exactly the same value. Numbers follow the
 * shortest round-trip representation that both JavaScript and Python use, so
 * a double survives the trip bit for bit.
 */

/** Characters Python's `str.isprintable()` accepts (letters, marks, numbers, punctuation, symbols, space). */
const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

const SIMPLE_ESCAPES: Record<string, string> = {
  '\\': '\\\\',
  '\n': '\\n',
  '\r': '\\r',
  '\t': '\\t',
};

/**
 * Renders a string the way Python's `repr()` does: single quotes unless the
 * text holds a single quote and no double quote; non-printable characters
 * (controls, format characters, separators, lone surrogates) escaped as
 * `\xhh`, `\uhhhh` or `\Uhhhhhhhh`.
 */
export function pythonString(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  // for…of walks code points, so astral characters stay whole and lone surrogates stand alone.
  for (const ch of s) {
    const simple = SIMPLE_ESCAPES[ch];
    if (simple !== undefined) out += simple;
    else if (ch === quote) out += '\\' + ch;
    else if (PRINTABLE.test(ch)) out += ch;
    else out += escapeCodePoint(ch.codePointAt(0) ?? 0);
  }
  return out + quote;
}

function escapeCodePoint(cp: number): string {
  if (cp < 0x100) return '\\x' + cp.toString(16).padStart(2, '0');
  if (cp < 0x10000) return '\\u' + cp.toString(16).padStart(4, '0');
  return '\\U' + cp.toString(16).padStart(8, '0');
}

/**
 * Renders a number as a Python int or float literal. JavaScript cannot tell
 * `1.0` from `1`, so integral values become ints; every other finite value
 * renders with a decimal point or an exponent and so stays a float.
 */
export function pythonNumber(n: number): string {
  if (Number.isNaN(n)) return "float('nan')";
  if (n === Infinity) return "float('inf')";
  if (n === -Infinity) return "float('-inf')";
  // -0 only ever comes from a float; Python's int has no negative zero.
  if (Object.is(n, -0)) return '-0.0';
  // String() gives the shortest round-trip digits; its exponent form
  // ("1e+21", "5e-7") is valid Python float syntax as it stands.
  return String(n);
}

/**
 * Renders an exact number: an int's digits as they are (Python ints have no
 * limit), a float as written (`3.0` stays a float), and the non-finite floats
 * as `float('inf')`, `float('-inf')`, `float('nan')`.
 */
export function pythonExact(n: ExactNumber): string {
  if (n.kind === 'int' || n.finite) return n.text;
  return n.text.startsWith('-') ? "float('-inf')" : `float('${n.text}')`;
}

/**
 * Renders a variable as a Python literal: strings (repr-style escaping),
 * numbers, booleans, `None`, lists and dicts. `eval` of the result gives back
 * the same value.
 *
 * @example pythonLiteral({ a: [1, 0.5, true, null], "it's": 'x' })
 * // => {'a': [1, 0.5, True, None], "it's": 'x'}
 */
export function pythonLiteral(v: VarValue): string {
  if (v === null) return 'None';
  if (typeof v === 'string') return pythonString(v);
  if (typeof v === 'number') return pythonNumber(v);
  if (v instanceof ExactNumber) return pythonExact(v);
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (Array.isArray(v)) return '[' + v.map(pythonLiteral).join(', ') + ']';
  const entries = Object.entries(v).map(([k, item]) => `${pythonString(k)}: ${pythonLiteral(item)}`);
  return '{' + entries.join(', ') + '}';
}

const KEYWORDS = new Set([
  'False', 'None', 'True', 'and', 'as', 'assert', 'async', 'await', 'break', 'class', 'continue',
  'def', 'del', 'elif', 'else', 'except', 'finally', 'for', 'from', 'global', 'if', 'import', 'in',
  'is', 'lambda', 'nonlocal', 'not', 'or', 'pass', 'raise', 'return', 'try', 'while', 'with', 'yield',
]);

/** Whether a variable name can be assigned in Python source (an identifier and not a keyword). */
export function isPythonIdentifier(name: string): boolean {
  return /^[\p{L}_][\p{L}\p{N}_]*$/u.test(name) && !KEYWORDS.has(name);
}
