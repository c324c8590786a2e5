import type { JobProgressJson } from '../api/shapes.js';

/** A running job's progress as the running list shows it: `cells 3/7` (code cells done of total) and its latest log line. */
export function progressText(p: JobProgressJson | null): { cells: string | null; line: string | null } {
  if (!p) return { cells: null, line: null };
  const cells = p.cells_done !== null && p.cells_total !== null ? `cells ${p.cells_done}/${p.cells_total}` : null;
  const line = p.last_line ? p.last_line.replace(/\t/g, '  ') : null;
  return { cells, line };
}
