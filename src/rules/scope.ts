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
  /**
   * Why a path lies beyond the configured bounds (`max_depth` for a
   * directory, `max_path_length` for any path), or null when it does not.
   * Such a path is neither watched nor scanned; the message says so and how
   * to change it.
   */
  beyond(path: string, dir: boolean): string | null;
}

/** The bounds of the watched tree, when a caller does not give them (see CONFIG_DEFAULTS). */
const DEFAULT_BOUNDS = { maxDepth: 64, maxPathLength: 1024 };

/** Bytes of a string in UTF-8. */
function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c < 0xdc00) {
      // A surrogate pair: one four-byte character.
      n += 4;
      i++;
    } else n += 3;
  }
  return n;
}

/** The watched tree of a workspace: `watch` globs minus built-in and configured ignores, within the depth and length bounds. */
export function watchScope(config: Pick<WorkspaceConfig, 'watch' | 'ignore'> & Partial<Pick<WorkspaceConfig, 'maxDepth' | 'maxPathLength'>>): WatchScope {
  const watch = compileGlobs(config.watch);
  const ignore = compileGlobs(config.ignore);
  const maxDepth = config.maxDepth ?? DEFAULT_BOUNDS.maxDepth;
  const maxLength = config.maxPathLength ?? DEFAULT_BOUNDS.maxPathLength;
  const builtin = new Set<string>(BUILTIN_IGNORES);
  const top = (p: string) => {
    const i = p.indexOf('/');
    return i < 0 ? p : p.slice(0, i);
  };
  // Three bytes per UTF-16 unit at most: most paths are short enough not to be measured.
  const tooLong = (p: string) => p.length * 3 > maxLength && utf8Length(p) > maxLength;
  const tooDeep = (d: string) => {
    let levels = 1;
    for (let i = d.indexOf('/'); i >= 0 && levels <= maxDepth; i = d.indexOf('/', i + 1)) levels++;
    return levels > maxDepth;
  };
  const wanted = (p: string) => !builtin.has(top(p)) && watch(p) && !ignore(p);
  const ignored = (d: string) => builtin.has(top(d)) || ignore(d) || ignore(`${d}/`);
  return {
    includes: (p) => wanted(p) && !tooLong(p),
    prunes: (d) => ignored(d) || tooDeep(d) || tooLong(d),
    beyond: (p, dir) => {
      // Paths ignored anyway are not worth a word.
      if (dir ? ignored(p) : !wanted(p)) return null;
      if (dir && tooDeep(p)) {
        return `${p.split('/').length} directory levels below the workspace, more than max_depth ${maxDepth}: neither watched nor scanned, nor anything below it (raise max_depth in meow.yaml to include it)`;
      }
      if (tooLong(p)) {
        return `a path of ${utf8Length(p)} bytes, more than max_path_length ${maxLength}: neither watched nor scanned (shorten the names, or raise max_path_length in meow.yaml)`;
      }
      return null;
    },
  };
}
