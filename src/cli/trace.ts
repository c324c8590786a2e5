import { lstatSync } from 'node:fs';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { MeowError } from '../core/errors.js';
import { stringifyExact } from '../core/exact-json.js';
import { escapeControl } from '../core/safe-text.js';
import { knowsPath, traceBack, traceForward, type ForwardNode, type TraceStep } from '../store/trace.js';
import { printJson } from './format.js';
import { originOf } from '../sources/origin-store.js';
import { withStore, workspaceRoot, type GlobalOptions } from './workspace.js';

/** A path argument as a workspace-relative path (relative paths are taken from the current directory). */
export function workspacePath(root: string, arg: string): string {
  const abs = isAbsolute(arg) ? arg : resolve(process.cwd(), arg);
  const rel = relative(root, abs).split('\\').join('/');
  if (rel.startsWith('..')) throw new MeowError('MEOW_USAGE', `${arg} is outside the workspace ${root}`);
  return rel;
}

/** A line of text output, control characters in names escaped (a name never moves the cursor). */
const say = (line: string) => console.log(escapeControl(line));

function printBack(steps: (TraceStep & { origin?: string })[]): void {
  steps.forEach((s) => {
    const pad = '  '.repeat(s.depth);
    if (!s.job) {
      say(`${pad}${s.path}  (from outside${s.origin ? `, forwarded from ${s.origin}` : ''})`);
      return;
    }
    say(`${pad}${s.path}${s.inferred ? '  (undeclared output)' : ''}`);
    say(`${pad}└─ ${s.job} ${s.status}  pattern ${s.pattern}@${s.pattern_version}  recipe ${s.recipe}@${s.recipe_version}`);
    say(`${pad}   ${s.started_at ?? '-'} → ${s.finished_at ?? '-'}  vars ${stringifyExact(s.variables, { nonFinite: 'strings' })}`);
    if (s.inputs.length > 1) say(`${pad}   read ${s.inputs.length} files: ${s.inputs.slice(0, 3).join(', ')}${s.inputs.length > 3 ? ', …' : ''}`);
  });
}

function printForward(nodes: ForwardNode[], depth: number): void {
  for (const n of nodes) {
    say(`${'  '.repeat(depth)}└─ ${n.job} ${n.pattern} ${n.status}`);
    for (const o of n.outputs) {
      say(`${'  '.repeat(depth + 1)}${o.path}${o.inferred ? '  (undeclared output)' : ''}`);
      printForward(o.derived, depth + 2);
    }
  }
}

/** `meow trace PATH [--forward] [--json]`. */
export async function traceCommand(g: GlobalOptions, path: string, o: { forward?: boolean; json?: boolean }): Promise<number> {
  const root = workspaceRoot(g);
  const rel = workspacePath(root, isAbsolute(path) || !g.workspace ? path : resolve(root, path));
  return withStore(root, (store) => {
    if (!store) throw new MeowError('MEOW_NOT_FOUND', `no engine state in ${root}; run \`meow run\` first`);
    // A mistyped path is said to be one, not traced as a file that came from outside.
    if (!lstatSync(join(root, rel), { throwIfNoEntry: false }) && !knowsPath(store, rel)) {
      throw new MeowError('MEOW_NOT_FOUND', `${rel}: no such file in the workspace, and the engine has no record of one there`);
    }
    if (o.forward) {
      const tree = traceForward(store, rel);
      if (o.json) printJson({ path: rel, derived: tree });
      else {
        say(rel);
        printForward(tree, 0);
      }
    } else {
      // A file that came from outside through a source names the host that forwarded it (docs/remote.md).
      const steps = traceBack(store, rel).map((s) => {
        const origin = s.job ? null : originOf(root, s.path);
        return origin ? { ...s, origin: origin.host } : s;
      });
      if (o.json) printJson(steps);
      else printBack(steps);
    }
    return 0;
  });
}
