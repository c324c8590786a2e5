import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (this file is dist/bench/lib/workspace.js once built). */
export const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** What a benchmark workspace holds: meow.yaml, patterns and recipes by file name. */
export interface WorkspaceSpec {
  config?: string;
  patterns?: Record<string, string>;
  recipes?: Record<string, string>;
}

/** Writes a workspace under `root` (created if needed); returns `root`. */
export async function createWorkspace(root: string, spec: WorkspaceSpec): Promise<string> {
  await mkdir(join(root, 'patterns'), { recursive: true });
  await mkdir(join(root, 'recipes'), { recursive: true });
  if (spec.config !== undefined) await writeFile(join(root, 'meow.yaml'), spec.config);
  for (const [name, text] of Object.entries(spec.patterns ?? {})) await writeFile(join(root, 'patterns', name), text);
  for (const [name, text] of Object.entries(spec.recipes ?? {})) await writeFile(join(root, 'recipes', name), text);
  return root;
}

/** `count` workspace-relative paths spread over `dirs` directories under `base`. */
export function filePaths(base: string, count: number, dirs = 1, ext = 'txt'): string[] {
  const paths: string[] = [];
  const width = String(count).length;
  for (let i = 0; i < count; i++) {
    const name = `f${String(i).padStart(width, '0')}.${ext}`;
    paths.push(dirs <= 1 ? `${base}/${name}` : `${base}/d${String(i % dirs).padStart(3, '0')}/${name}`);
  }
  return paths;
}

/**
 * Writes small files as fast as the filesystem takes them (`concurrency`
 * writes in flight): "dropped at once". Parent directories are created first.
 */
export async function writeFiles(root: string, paths: readonly string[], concurrency = 64): Promise<void> {
  const dirs = new Set(paths.map((p) => dirname(join(root, p))));
  for (const d of dirs) await mkdir(d, { recursive: true });
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const p = paths[next++];
      await writeFile(join(root, p), `${p}\n`);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, paths.length) }, worker));
}

/** A pattern file: one glob, the given recipe, settle 0 unless said otherwise. */
export function patternYaml(o: { recipe: string; paths: string; events?: string[]; settle?: string; variables?: Record<string, string>; outputs?: string[] }): string {
  const lines = [`recipe: ${o.recipe}`, 'trigger:', `  paths: ${JSON.stringify(o.paths)}`, `  events: [${(o.events ?? ['created']).join(', ')}]`, `  settle: ${o.settle ?? '0'}`];
  if (o.variables) {
    lines.push('variables:');
    for (const [k, v] of Object.entries(o.variables)) lines.push(`  ${k}: ${JSON.stringify(v)}`);
  }
  if (o.outputs) lines.push(`outputs: [${o.outputs.map((g) => JSON.stringify(g)).join(', ')}]`);
  return `${lines.join('\n')}\n`;
}

/** A JavaScript recipe that does nothing. */
export const NOOP_JS = 'export default async () => null;\n';
