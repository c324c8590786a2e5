import { stringifyExact } from '../core/exact-json.js';
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
