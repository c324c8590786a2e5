import micromatch from 'micromatch';
import { posix } from 'node:path';
import { compileGlobs } from '../rules/matcher.js';
import type { FileEvent } from '../core/types.js';

interface Window {
  jobId: string;
  generation: number;
  /** Directories the job declared outputs under. */
  bases: string[];
  declared: (path: string) => boolean;
  startNs: bigint;
  endNs: bigint | null;
  closedAt: number | null;
}

/** File timestamps come from the kernel's coarse clock, a few ms behind Date.now(). */
const CLOCK_SLACK_MS = 20;

/** How long a finished job's window still claims late-reported files. */
const LINGER_MS = 30_000;

/** The mtime (ns) inside a content version `size:mtimeNs`. */
export function mtimeOf(version: string): bigint | null {
  const i = version.indexOf(':');
  if (i < 0) return null;
  try {
    return BigInt(version.slice(i + 1));
  } catch {
    return null;
  }
}

/**
 * Attributes files to the jobs that wrote them. A job's window covers the
 * directories of its declared outputs from its start to its end: a file
 * there whose mtime falls inside the window, and that the job did not
 * declare, is an inferred output of that job (its cause, generation + 1).
 */
export class OutputWindows {
  private readonly windows = new Map<string, Window>();

  /** Opens the window of a starting attempt with its declared output globs. */
  open(jobId: string, generation: number, globs: readonly string[]): void {
    if (globs.length === 0) return;
    const baseOf = (g: string) => {
      const scan = micromatch.scan(g);
      // A literal path's "base" is the path itself: its directory is what the job writes into.
      const base = scan.isGlob ? scan.base : posix.dirname(g);
      return base === '.' ? '' : base;
    };
    const bases = [...new Set(globs.map(baseOf))];
    this.windows.set(jobId, { jobId, generation, bases, declared: compileGlobs(globs), startNs: BigInt(Date.now() - CLOCK_SLACK_MS) * 1_000_000n, endNs: null, closedAt: null });
  }

  /** Closes a job's window at its end (it lingers a while for late events). */
  close(jobId: string): void {
    const w = this.windows.get(jobId);
    if (!w) return;
    w.endNs = BigInt(Date.now() + CLOCK_SLACK_MS) * 1_000_000n;
    w.closedAt = Date.now();
  }

  /** The job that wrote this file, if a window covers it and the job did not declare it. */
  attribute(e: FileEvent): { jobId: string; generation: number } | null {
    if (e.cause !== null || (e.kind !== 'created' && e.kind !== 'modified') || this.windows.size === 0) return null;
    const mtime = mtimeOf(e.version);
    if (mtime === null) return null;
    const now = Date.now();
    let found: Window | null = null;
    for (const w of this.windows.values()) {
      if (w.closedAt !== null && now - w.closedAt > LINGER_MS) {
        this.windows.delete(w.jobId);
        continue;
      }
      if (found || w.declared(e.path)) continue;
      if (mtime < w.startNs || (w.endNs !== null && mtime > w.endNs)) continue;
      if (w.bases.some((b) => b === '' || e.path.startsWith(`${b}/`))) found = w;
    }
    return found ? { jobId: found.jobId, generation: found.generation + 1 } : null;
  }
}
