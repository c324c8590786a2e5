import { round } from './stats.js';
import type { Detail, Row } from './types.js';

const fmt = (x: number | null, unit = ''): string => (x === null || Number.isNaN(x) ? '—' : `${round(x)}${unit ? ` ${unit}` : ''}`);

/** Plain-text columns, left-aligned. */
export function columns(rows: readonly string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

function verdict(pass: boolean | null, note: string | undefined): string {
  if (note?.startsWith('skipped')) return 'SKIP';
  if (note?.startsWith('error') || note?.startsWith('incorrect')) return 'ERROR';
  return pass === null ? '' : pass ? 'pass' : 'MISS';
}

/** A detail's result: SKIP with the reason when it was skipped. */
const detailVerdict = (d: Detail): string => (d.note ? `SKIP (${d.note.replace(/^skipped: /, '')})` : verdict(d.pass, undefined));

/** The results table: one line per figure (headline, then its details). */
export function resultsTable(rows: readonly Row[]): string {
  const lines: string[][] = [['#', 'workload', 'figure', 'measured', 'baseline', 'ratio', 'target', 'result']];
  for (const r of rows) {
    lines.push([r.workload.split(' ')[0], r.size, r.metric, fmt(r.figure, r.unit), fmt(r.baseline, r.unit), r.ratio === null ? '—' : `${round(r.ratio)}×`, r.target, verdict(r.pass, r.note)]);
    for (const d of r.details) {
      const ratio = d.baseline ? `${round(d.value / d.baseline)}×` : '—';
      lines.push(['', '', `  ${d.metric}`, fmt(d.value, d.unit), fmt(d.baseline, d.unit), ratio, d.target, detailVerdict(d)]);
    }
  }
  return columns(lines);
}

/** The same table in Markdown, for BENCHMARKS.md. */
export function markdownTable(rows: readonly Row[]): string {
  const out = ['| # | size | figure | measured | baseline | ratio | target | result |', '|---|---|---|---|---|---|---|---|'];
  for (const r of rows) {
    out.push(`| ${r.workload.split(' ')[0]} | ${r.size} | ${r.metric} | ${fmt(r.figure, r.unit)} | ${fmt(r.baseline, r.unit)} | ${r.ratio === null ? '—' : `${round(r.ratio)}×`} | ${r.target} | ${verdict(r.pass, r.note)} |`);
    for (const d of r.details) {
      out.push(`| | | ${d.metric} | ${fmt(d.value, d.unit)} | ${fmt(d.baseline, d.unit)} | ${d.baseline ? `${round(d.value / d.baseline)}×` : '—'} | ${d.target} | ${detailVerdict(d)} |`);
    }
  }
  return out.join('\n');
}
