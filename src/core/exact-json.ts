/**
 * JSON that keeps exact numbers exact. `JSON.stringify` rounds an
 * `ExactNumber` to a double and `JSON.parse` reads `1733322222123456789` as
 * …800 and `3.0` as the int 3; these two keep the digits: job variables in
 * the database, `params.json` (`MEOW_PARAMS`) and job records.
 *
 * Non-finite floats have no JSON spelling. `nonFinite: 'tokens'` writes them
 * as `NaN`, `Infinity` and `-Infinity`, which Python's `json` module reads and
 * writes (the state database and Python recipes' params use it); the default
 * refuses them, naming the key.
 */
import { ExactNumber, exactFromParsed } from './exact-number.js';
import type { VarValue } from './types.js';

/** Options of `stringifyExact`. */
export interface ExactJsonOptions {
  /** Spaces per indentation level, as JSON.stringify's third argument. @default 0 */
  indent?: number;
  /**
   * How `inf`/`nan` are written: refused (an error), as Python's json tokens
   * (`NaN`, `Infinity`), or as the strings `"inf"`, `"-inf"`, `"nan"` (strict JSON). @default 'refuse'
   */
  nonFinite?: 'refuse' | 'tokens' | 'strings';
}

/** True when `value` holds an ExactNumber anywhere (so plain JSON would lose digits). */
export function hasExact(value: unknown): boolean {
  if (value instanceof ExactNumber) return true;
  if (Array.isArray(value)) return value.some(hasExact);
  if (value !== null && typeof value === 'object') return Object.values(value).some(hasExact);
  return false;
}

/**
 * JSON text of `value`, with exact numbers written digit for digit.
 * @throws Error naming the key of a non-finite float, unless `nonFinite: 'tokens'`.
 */
export function stringifyExact(value: unknown, opts: ExactJsonOptions = {}): string {
  const indent = opts.indent ?? 0;
  if (!hasExact(value)) return indent > 0 ? JSON.stringify(value, null, indent) : JSON.stringify(value);
  const write = (v: unknown, key: string, depth: number): string => {
    if (v instanceof ExactNumber) {
      if (v.finite) return v.text;
      if (opts.nonFinite === 'strings') return `"${v.text}"`;
      if (opts.nonFinite === 'tokens') return v.text === 'nan' ? 'NaN' : v.text === 'inf' ? 'Infinity' : '-Infinity';
      throw new Error(`${key || 'the value'} is ${v.text}, which JSON cannot carry`);
    }
    if (v !== null && typeof v === 'object' && typeof (v as { toJSON?: unknown }).toJSON === 'function') return JSON.stringify(v);
    const pad = indent > 0 ? '\n' + ' '.repeat(indent * (depth + 1)) : '';
    const end = indent > 0 ? '\n' + ' '.repeat(indent * depth) : '';
    const sep = indent > 0 ? ': ' : ':';
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      return '[' + v.map((x, i) => pad + write(x ?? null, `${key}[${i}]`, depth + 1)).join(',') + end + ']';
    }
    if (v !== null && typeof v === 'object') {
      const entries = Object.entries(v).filter(([, x]) => x !== undefined);
      if (entries.length === 0) return '{}';
      return '{' + entries.map(([k, x]) => pad + JSON.stringify(k) + sep + write(x, key ? `${key}.${k}` : k, depth + 1)).join(',') + end + '}';
    }
    return JSON.stringify(v) ?? 'null';
  };
  return write(value, '', 0);
}

/** JSON for the state database: exact numbers kept, inf and nan as Python's json writes them. */
export function stateJson(value: unknown): string {
  return stringifyExact(value, { nonFinite: 'tokens' });
}

// Anything that may need an exact number: 16+ digits, a fraction or exponent, or a non-finite token.
const NEEDS_EXACT = /\d{16}|\d\.\d|\d[eE]|NaN|Infinity/;

/**
 * Parses JSON text, reading integers beyond ±(2^53 − 1) and integral floats
 * (`3.0`, `1e3`) as ExactNumbers, and `NaN`/`Infinity`/`-Infinity` as
 * non-finite floats. Text without such numbers goes to `JSON.parse`.
 * @throws SyntaxError on invalid JSON.
 */
export function parseExact(text: string): VarValue {
  if (!NEEDS_EXACT.test(text)) return JSON.parse(text) as VarValue;
  return new ExactParser(text).document();
}

const NUMBER_RE = /-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
// JSON strings exclude the control characters, by definition.
// eslint-disable-next-line no-control-regex
const STRING_RE = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const WS_RE = /[ \t\n\r]*/y;

class ExactParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  document(): VarValue {
    const value = this.value();
    this.ws();
    if (this.pos !== this.text.length) this.fail('unexpected text after the value');
    return value;
  }

  private fail(what: string): never {
    throw new SyntaxError(`invalid JSON at position ${this.pos}: ${what}`);
  }

  private ws(): void {
    WS_RE.lastIndex = this.pos;
    WS_RE.exec(this.text);
    this.pos = WS_RE.lastIndex;
  }

  private match(re: RegExp): string | null {
    re.lastIndex = this.pos;
    const m = re.exec(this.text);
    if (!m) return null;
    this.pos = re.lastIndex;
    return m[0];
  }

  private literal(word: string): boolean {
    if (!this.text.startsWith(word, this.pos)) return false;
    this.pos += word.length;
    return true;
  }

  private value(): VarValue {
    this.ws();
    const c = this.text[this.pos];
    if (c === '{') return this.object();
    if (c === '[') return this.array();
    if (c === '"') return this.string();
    if (this.literal('true')) return true;
    if (this.literal('false')) return false;
    if (this.literal('null')) return null;
    if (this.literal('NaN')) return new ExactNumber('nan', 'float');
    if (this.literal('Infinity')) return new ExactNumber('inf', 'float');
    if (this.literal('-Infinity')) return new ExactNumber('-inf', 'float');
    const n = this.match(NUMBER_RE);
    if (n === null) this.fail('expected a value');
    const isFloat = /[.eE]/.test(n);
    return exactFromParsed(isFloat ? Number(n) : BigInt(n), isFloat);
  }

  private string(): string {
    const s = this.match(STRING_RE);
    if (s === null) this.fail('invalid string');
    return JSON.parse(s) as string;
  }

  private array(): VarValue[] {
    this.pos++;
    const out: VarValue[] = [];
    this.ws();
    if (this.literal(']')) return out;
    for (;;) {
      out.push(this.value());
      this.ws();
      if (this.literal(']')) return out;
      if (!this.literal(',')) this.fail('expected "," or "]"');
    }
  }

  private object(): { [key: string]: VarValue } {
    this.pos++;
    const out: { [key: string]: VarValue } = {};
    this.ws();
    if (this.literal('}')) return out;
    for (;;) {
      this.ws();
      if (this.text[this.pos] !== '"') this.fail('expected a key');
      const key = this.string();
      this.ws();
      if (!this.literal(':')) this.fail('expected ":"');
      // defineProperty, so a key "__proto__" is data as in JSON.parse.
      Object.defineProperty(out, key, { value: this.value(), enumerable: true, writable: true, configurable: true });
      this.ws();
      if (this.literal('}')) return out;
      if (!this.literal(',')) this.fail('expected "," or "}"');
    }
  }
}
