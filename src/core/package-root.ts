/**
 * Finds files that ship with meowflow (the notebook driver, the compiled
 * worker threads, the flagship example) from any module, whether it runs
 * from the TypeScript sources (vitest) or from `dist/src/...`.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The first `dir/rel` that exists, walking up from `start` to the filesystem root; null when none does. */
export function findUp(start: string, rel: string): string | null {
  for (let dir = start; ; ) {
    const candidate = join(dir, rel);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) return null;
    dir = parent;
  }
}

let root: string | undefined;

/** The meowflow package root: the nearest directory above this module holding package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const manifest = findUp(dirname(fileURLToPath(import.meta.url)), 'package.json');
  if (manifest === null) throw new Error(`cannot find the meowflow package root (no package.json above ${fileURLToPath(import.meta.url)}); reinstall meowflow`);
  return (root = dirname(manifest));
}

/** `rel` under the package root when it exists there, otherwise null. */
export function packageFile(rel: string): string | null {
  const path = join(packageRoot(), rel);
  return existsSync(path) ? path : null;
}

let version: string | undefined;

/** The `version` of meowflow's package.json (what `meow --version` prints); `unknown` when it cannot be read. */
export function packageVersion(): string {
  if (version !== undefined) return version;
  try {
    const pkg: unknown = JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8'));
    return (version = typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string' ? pkg.version : 'unknown');
  } catch {
    return (version = 'unknown');
  }
}
