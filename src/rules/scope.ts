import { compileGlobs } from './matcher.js';
import type { WorkspaceConfig } from '../core/types.js';

/** Top-level entries never watched: engine state, definitions, VCS and dependencies. */
export const BUILTIN_IGNORES = ['.meow', 'patterns', 'recipes', '.git', 'node_modules', 'meow.yaml'] as const;

/** Which workspace-relative paths belong to the watched tree. */
export interface WatchScope {
  /** True for files the engine watches. */
  includes(path: string): boolean;
  /** True for directories the engine should not descend into. */
  prunes(dir: string): boolean;
}

/** The watched tree of a workspace: `watch` globs minus built-in and configured ignores. */
export function watchScope(config: Pick<WorkspaceConfig, 'watch' | 'ignore'>): WatchScope {
  const watch = compileGlobs(config.watch);
  const ignore = compileGlobs(config.ignore);
  const builtin = new Set<string>(BUILTIN_IGNORES);
  const top = (p: string) => {
    const i = p.indexOf('/');
    return i < 0 ? p : p.slice(0, i);
  };
  return {
    includes: (p) => !builtin.has(top(p)) && watch(p) && !ignore(p),
    prunes: (d) => builtin.has(top(d)) || ignore(d) || ignore(`${d}/`),
  };
}
