import type { JobProgressJson } from '../api/shapes.js';

/** A running job's progress as the running list shows it: `cell 3/7` and its latest log line. */
export function progressText(p: JobProgressJson | null): { cells: string | null; line: string | null } {
  if (!p) return { cells: null, line: null };
  const cells = p.cells_done !== null && p.cells_total !== null ? `cell ${p.cells_done}/${p.cells_total}` : null;
  // The runner's own cell reports say no more than the count already does.
  const line = p.last_line && !/^\[meowflow\] cell \S+ done \(/.test(p.last_line) ? p.last_line.replace(/\t/g, '  ') : null;
  return { cells, line };
}
