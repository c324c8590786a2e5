import { readFileSync } from 'node:fs';
import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Launch } from './executor.js';
import type { Allocation } from './resource-pool.js';
import type { Resources } from '../core/types.js';
import { writeSmall } from '../core/quick-io.js';

/** The attempt record in a job dir. */
export const ATTEMPT_FILE = 'attempt.json';

/**
 * What a restarted engine needs to follow an attempt it did not start:
 * written to the job dir just before a process attempt is handed to its
 * backend, read back when the engine finds the job still `running`.
 */
export interface AttemptRecord {
  attempt: number;
  /** The backend's name. */
  backend: string;
  /** How it was launched (nothing is prepared again on re-attach). */
  launch: Launch;
  /** GPU ids granted. */
  gpus: string[];
  /** What it holds of its backend's capacity. */
  allocation: Allocation;
  outputs: string[];
  resources: Resources;
  startedAt: string;
}

export async function writeAttemptRecord(jobDir: string, record: AttemptRecord): Promise<void> {
  await writeSmall(join(jobDir, ATTEMPT_FILE), `${JSON.stringify(record)}\n`);
}

/** The attempt record of a job dir, or null when there is none (or it is unreadable: a crash mid-write). */
export function readAttemptRecord(jobDir: string): AttemptRecord | null {
  try {
    const r = JSON.parse(readFileSync(join(jobDir, ATTEMPT_FILE), 'utf8')) as Partial<AttemptRecord>;
    if (typeof r.attempt !== 'number' || typeof r.backend !== 'string' || !r.launch || !r.allocation || !r.resources) return null;
    return { attempt: r.attempt, backend: r.backend, launch: r.launch, gpus: r.gpus ?? [], allocation: r.allocation, outputs: r.outputs ?? [], resources: r.resources, startedAt: r.startedAt ?? '' };
  } catch {
    return null;
  }
}

/** Kept from one attempt to the next: the logs (attempts append to them) and the ends of capped logs. */
const KEPT = new Set(['stdout.log', 'stderr.log', 'stdout.tail.log', 'stderr.tail.log']);

/**
 * Empties a job dir, but for its logs, before a new attempt: what a failed
 * or crashed attempt left half-written (params, results, error reports, exit
 * status) is never read as the new attempt's.
 */
export async function cleanAttemptDir(jobDir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(jobDir);
  } catch {
    return;
  }
  await Promise.all(names.filter((n) => !KEPT.has(n)).map((n) => rm(join(jobDir, n), { recursive: true, force: true })));
}
