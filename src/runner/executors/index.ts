import { BashExecutor } from './bash-executor.js';
import { CommandExecutor } from './command-executor.js';
import { JavascriptExecutor } from './javascript-executor.js';
import { NotebookExecutor } from './notebook-executor.js';
import { PythonExecutor } from './python-executor.js';
import type { Executor } from '../executor.js';
import type { RecipeKind } from '../../core/types.js';

/** One executor per recipe kind. */
export function createExecutors(): Map<RecipeKind, Executor> {
  const all: Executor[] = [new NotebookExecutor(), new PythonExecutor(), new BashExecutor(), new JavascriptExecutor(), new CommandExecutor()];
  return new Map(all.map((e) => [e.kind, e]));
}
