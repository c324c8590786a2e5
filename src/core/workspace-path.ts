/**
 * Paths handed in from outside the engine (the control socket, the CLI) that
 * must name something inside the workspace. Pure: the text is checked, not
 * the filesystem.
 */
import { escapeControl } from './safe-text.js';

/**
 * Why `path` cannot name a file of the workspace, or null when it can: it
 * must be relative, stay inside (no `..` segment), hold no NUL, and not point
 * into the engine's own `.meow/` directory.
 */
export function workspacePathProblem(path: string): string | null {
  const shown = JSON.stringify(escapeControl(path));
  if (path === '') return 'the path is empty; give a path relative to the workspace, e.g. "data/a.txt"';
  if (path.includes('\0')) return `${shown} holds a NUL character, which no file name can`;
  if (path.startsWith('/') || path.startsWith('~') || /^[A-Za-z]:[\\/]/.test(path)) {
    return `${shown} is an absolute path; give a path relative to the workspace, e.g. "data/a.txt"`;
  }
  const parts = path.split(/[\\/]/);
  if (parts.includes('..')) return `${shown} leaves the workspace (".."); only files inside the workspace can trigger patterns`;
  if (parts.filter((p) => p !== '' && p !== '.')[0] === '.meow') return `${shown} is inside .meow/, the engine's own state, which never triggers patterns`;
  return null;
}
