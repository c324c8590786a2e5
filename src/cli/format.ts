import { Scalar, stringify } from 'yaml';
import { stringifyExact } from '../core/exact-json.js';
import { ExactNumber } from '../core/exact-number.js';
import { escapeControl } from '../core/safe-text.js';

/** Prints rows as an aligned text table (no colours: logs and pipes stay clean). */
export function table(headers: string[], rows: (string | number | null | undefined)[][]): string {
  // Control characters (a newline in a file name) are escaped, so each row stays one line.
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : escapeControl(String(c)))));
  const widths = headers.map((h, i) => Math.max(h.length, ...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  return [line(headers), ...cells.map(line)].join('\n');
}

/**
 * Prints a value as stable, indented JSON. Exact numbers keep every digit
 * (`1733322222123456789`, `3.0`); inf and nan, which JSON cannot spell, print
 * as the strings "inf", "-inf", "nan".
 */
export function printJson(value: unknown): void {
  process.stdout.write(`${stringifyExact(value, { indent: 2, nonFinite: 'strings' })}\n`);
}

/**
 * YAML text of a value. Exact numbers keep every digit (`12345678901234567890`,
 * `3.0`; an integer as a bigint, which the YAML writer writes digit for digit),
 * and inf and nan are YAML's own `.inf`, `-.inf`, `.nan`.
 */
export function yamlExact(value: unknown): string {
  return stringify(value, (_key, v: unknown) => {
    if (!(v instanceof ExactNumber)) return v;
    if (v.kind === 'int') return BigInt(v.text);
    const n = v.toNumber();
    const scalar = new Scalar(n);
    // A whole float stays a float: 3.0, not 3.
    if (Number.isInteger(n) && !/e/i.test(String(n))) scalar.minFractionDigits = 1;
    return scalar;
  });
}
