import { existsSync, statSync } from 'node:fs';
import { MeowError } from '../core/errors.js';
import { resolve } from 'node:path';
import { statePath } from '../engine.js';
import { readConfig, readDefinitions } from '../monitor/definitions-reader.js';
import { mergeRegistered } from '../rules/registration.js';
import { Store } from '../store/store.js';
import type { DefinitionError, ParsedPattern, ParsedRecipe, WorkspaceConfig } from '../core/types.js';

/** Options every command takes. */
export interface GlobalOptions {
  workspace?: string;
}

/**
 * The absolute workspace path of a command. Only `meow init` creates a
 * workspace: a `-w` naming no directory is a usage error, never an empty
 * workspace made on the spot.
 * @throws MeowError MEOW_USAGE when the directory does not exist or is a file.
 */
export function workspaceRoot(opts: GlobalOptions): string {
  const root = resolve(opts.workspace ?? process.cwd());
  let isDir: boolean;
  try {
    isDir = statSync(root).isDirectory();
  } catch {
    throw new MeowError('MEOW_USAGE', `no workspace at ${root}: the directory does not exist; check -w, or create a workspace with \`meow init ${opts.workspace ?? root}\``);
  }
  if (!isDir) throw new MeowError('MEOW_USAGE', `no workspace at ${root}: it is a file, not a directory; give -w the workspace directory`);
  return root;
}

/** Opens the state database read-only, or returns null when there is none yet. */
export function openStoreReadonly(root: string): Store | null {
  const path = statePath(root);
  if (!existsSync(path)) return null;
  return new Store(path, { readonly: true });
}

/** Runs `fn` with the read-only store (or null) and closes it. */
export async function withStore<T>(root: string, fn: (store: Store | null) => T | Promise<T>): Promise<T> {
  const store = openStoreReadonly(root);
  try {
    return await fn(store);
  } finally {
    store?.close();
  }
}

/** What the workspace's files say now: config, definitions and their errors. */
export interface WorkspaceView {
  config: WorkspaceConfig;
  patterns: ParsedPattern[];
  recipes: ParsedRecipe[];
  errors: DefinitionError[];
}

/**
 * Reads the definitions as the engine would register them: the files on
 * disk, with a broken file's previously registered version kept.
 */
export async function readWorkspace(root: string): Promise<WorkspaceView> {
  const { config, errors: configErrors } = await readConfig(root);
  const disk = await readDefinitions(root, config);
  const registered = await withStore(root, (s) => s?.registeredDefinitions() ?? { patterns: [], recipes: [] });
  const merged = mergeRegistered(disk, disk.errors, registered);
  return {
    config,
    ...merged,
    errors: [...configErrors, ...disk.errors],
  };
}
