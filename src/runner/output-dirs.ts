/**
 * The directories of a job's declared outputs exist before its recipe runs,
 * on every backend: a recipe may write `out/{stem}.txt` without creating
 * `out/` first. The attempt runner creates them in the workspace (which the
 * local and Slurm backends, and an SSH host with a shared filesystem, write
 * into); the SSH backend creates them in its mirror too.
 */
import { dirname, join } from 'node:path';
import micromatch from 'micromatch';
import { mkdirQuick } from '../core/quick-io.js';

/**
 * The directories the declared outputs go to (the static part of each glob),
 * workspace-relative. Outputs given as absolute paths under `root` count;
 * anything outside the workspace does not.
 */
export function outputDirs(outputs: string[], root: string): string[] {
  const dirs = new Set<string>();
  for (const g of outputs) {
    const rel = g.startsWith(`${root}/`) ? g.slice(root.length + 1) : g;
    const scan = micromatch.scan(rel);
    const base = scan.isGlob ? scan.base : dirname(rel);
    if (base !== '' && base !== '.' && !base.startsWith('/') && !base.split('/').includes('..')) dirs.add(base);
  }
  return [...dirs];
}

/** Creates the directories of `outputs` under `root` (those that exist stay as they are). */
export async function createOutputDirs(root: string, outputs: string[]): Promise<void> {
  for (const d of outputDirs(outputs, root)) await mkdirQuick(join(root, d), true);
}
