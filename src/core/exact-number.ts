/**
 * Numbers a JavaScript `number` would change. YAML says `1733322222123456789`
 * (an integer beyond 2^53, which a double rounds to …800), `3.0` (a float
 * that a double cannot tell from the int 3), `.inf` and `.nan`. Such values
 * are carried as an `ExactNumber` holding the digits as written, so every
 * recipe kind receives what the pattern says; every other number stays a
 * plain (finite) `number`.
 */

/** Whether an exact number is an integer or a float. */
export type ExactKind = 'int' | 'float';

/** Integer digits, with an optional minus sign and no leading zeros. */
const INT_TEXT = /^-?(0|[1-9][0-9]*)$/;
/** A finite float as JSON and Python both write it, or one of the non-finite floats. */
const FLOAT_TEXT = /^(-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?|-?inf|nan)$/;

/**
 * A number kept exactly as written. `text` is canonical: an int's decimal
 * digits (`-12`), a float as Python's `repr` writes it (`3.0`, `1e+300`), or
 * `inf`, `-inf`, `nan`.
 */
export class ExactNumber {
  readonly text: string;
  readonly kind: ExactKind;

  constructor(text: string, kind: ExactKind) {
    if (kind === 'int' ? !INT_TEXT.test(text) : !FLOAT_TEXT.test(text)) throw new Error(`not an exact ${kind}: ${text}`);
    this.text = text;
    this.kind = kind;
  }

  /** An integer, exactly. */
  static int(value: bigint): ExactNumber {
    return new ExactNumber(value.toString(), 'int');
  }

  /** A float, written the shortest way that reads back to the same double (`3` → `3.0`). */
  static float(value: number): ExactNumber {
    if (Number.isNaN(value)) return new ExactNumber('nan', 'float');
    if (value === Infinity) return new ExactNumber('inf', 'float');
    if (value === -Infinity) return new ExactNumber('-inf', 'float');
    return new ExactNumber(floatText(value), 'float');
  }

  /** Whether this is `inf`, `-inf` or `nan`, which JSON cannot carry. */
  get finite(): boolean {
    return this.kind === 'int' || !/inf|nan/.test(this.text);
  }

  /** The nearest double (rounded for large ints; Infinity and NaN for the non-finite floats). */
  toNumber(): number {
    if (this.text === 'nan') return NaN;
    if (this.text === 'inf') return Infinity;
    if (this.text === '-inf') return -Infinity;
    return Number(this.text);
  }

  /** An int as a `bigint`, a float as a `number`: what a JavaScript recipe receives. */
  toJs(): bigint | number {
    return this.kind === 'int' ? BigInt(this.text) : this.toNumber();
  }

  /**
   * What a plain `JSON.stringify` writes: the nearest double, or null for a
   * non-finite float. Only a fallback: records and params are written by
   * `stringifyExact` (core/exact-json.ts), which keeps every digit.
   */
  toJSON(): number | null {
    return this.finite ? this.toNumber() : null;
  }

  /** The text as written: an int's digits, `3.0`, `inf`. */
  toString(): string {
    return this.text;
  }
}

/**
 * Normalises a number read from YAML or JSON: an integer within ±(2^53 − 1)
 * becomes a `number`, a larger one an exact int; a float stays a `number`
 * unless a double would lose that it is a float (an integral value such as
 * `3.0`, `-0.0`, `1e3`) or it is not finite.
 */
export function exactFromParsed(value: number | bigint, isFloat: boolean): number | ExactNumber {
  if (typeof value === 'bigint') {
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : ExactNumber.int(value);
  }
  if (!isFloat) return Number.isSafeInteger(value) ? value : ExactNumber.float(value);
  if (!Number.isFinite(value) || Number.isInteger(value)) return ExactNumber.float(value);
  return value;
}

/** A variable as a JavaScript recipe receives it: exact ints beyond the safe range as `bigint`. */
export type JsValue = string | number | bigint | boolean | null | JsValue[] | { [key: string]: JsValue };

/**
 * Variables for a JavaScript recipe: every ExactNumber becomes a `bigint`
 * (an int beyond ±(2^53 − 1)) or a `number` (a float: `3.0` is 3, `.inf` is
 * Infinity). Plain values pass as they are.
 */
export function toJsValue(v: unknown): JsValue {
  if (v instanceof ExactNumber) return v.toJs();
  if (Array.isArray(v)) return v.map(toJsValue);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJsValue(x)]));
  return v as JsValue;
}

/**
 * A float as Python's `repr` writes it, the shortest digits that read back to
 * the same double: `3.0`, `0.1`, `0.0001`, `1e-05`, `1e+16`, `-0.0`, `inf`, `nan`
 * (JavaScript's own spelling differs: `1e-7`, `10000000000000000`).
 */
export function floatText(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return 'inf';
  if (n === -Infinity) return '-inf';
  if (n === 0) return Object.is(n, -0) ? '-0.0' : '0.0';
  const sign = n < 0 ? '-' : '';
  const [mantissa, expText] = Math.abs(n).toExponential().split('e');
  const exp = Number(expText);
  const digits = mantissa.replace('.', '');
  if (exp < -4 || exp >= 16) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    return `${sign}${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  if (exp < 0) return `${sign}0.${'0'.repeat(-exp - 1)}${digits}`;
  return `${sign}${digits.slice(0, exp + 1).padEnd(exp + 1, '0')}.${digits.slice(exp + 1) || '0'}`;
}
