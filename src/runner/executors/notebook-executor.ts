import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageFile } from '../../core/package-root.js';
import type { RecipeKind } from '../../core/types.js';
import { MeowError, errorMessage } from '../../core/errors.js';
import type { Executor, ExecutorContext, ExecutorOutcome, Launch } from '../executor.js';
import { detectPython } from '../python-detect.js';
import { parameteriseNotebook } from '../python-params.js';
import { exitError, processOutcome, readResult } from './outcome.js';
import { pythonEnv, reportWarnings } from './python-executor.js';

/** How many traceback lines an error message keeps (the end, where the cause is). */
const TRACEBACK_LINES = 60;

let driver: string | undefined;

/**
 * The notebook driver, `runtime/nb_runner.py`. It ships beside `src/` (the
 * compiler does not copy .py files), so it is found by walking up from this
 * module, which works from the sources and from `dist/src/...` alike.
 */
export function notebookDriver(): string {
  if (driver) return driver;
  const found = packageFile(join('runtime', 'nb_runner.py'));
  if (found) return (driver = found);
  throw new MeowError('MEOW_NOT_FOUND', `runtime/nb_runner.py not found above ${fileURLToPath(import.meta.url)}; the meowflow installation is incomplete, reinstall it`);
}

/** What `nb_runner.py` writes to error.json when a run fails. */
interface DriverError {
  cell_index: number | null;
  recipe_cell_index: number | null;
  execution_count: number | null;
  ename: string;
  evalue: string;
  traceback: string;
}

function isDriverError(v: unknown): v is DriverError {
  return typeof v === 'object' && v !== null && 'ename' in v && typeof v.ename === 'string';
}

/**
 * The message for a failed notebook. Cells are counted as a person counts
 * them in the recipe (the first cell is 1, the injected cell not counted), so
 * the number points at the cell the user wrote.
 */
export function notebookError(e: DriverError): string {
  const index = e.recipe_cell_index ?? e.cell_index;
  const cell = index === null ? null : index + 1;
  if (e.ename === 'Terminated') return `${e.evalue}${cell === null ? '' : ` during cell ${cell}`}`;
  const where = cell === null ? 'the notebook' : `cell ${cell}`;
  const tb = e.traceback.split('\n').slice(-TRACEBACK_LINES).join('\n').trim();
  return `${where} raised ${e.ename}: ${e.evalue}${tb ? `\n${tb}` : ''}`;
}

/**
 * Runs `*.ipynb` recipes on a real Jupyter kernel: papermill's
 * injected-parameters cell is added (`recipe.ipynb` in the job dir) and
 * `nb_runner.py` executes it cell by cell into `output.ipynb`.
 */
export class NotebookExecutor implements Executor {
  readonly kind: RecipeKind = 'notebook';

  async prepare(ctx: ExecutorContext): Promise<Launch> {
    const file = ctx.rule.recipe.file;
    let parsed: unknown;
    try {
      parsed = JSON.parse(ctx.rule.recipe.source);
    } catch (err) {
      throw new MeowError('MEOW_RECIPE_INVALID', `${file}: not a notebook: invalid JSON (${errorMessage(err)}); re-save it from Jupyter`, { cause: err });
    }
    let injected;
    try {
      injected = parameteriseNotebook(parsed, ctx.variables);
    } catch (err) {
      throw new MeowError('MEOW_RECIPE_INVALID', `${file}: ${errorMessage(err)}`, { cause: err });
    }
    // Detect before writing anything: without Jupyter the job fails with the fix in its message.
    const python = await detectPython(ctx.config, 'jupyter');
    const input = join(ctx.jobDir, 'recipe.ipynb');
    const params = join(ctx.jobDir, 'recipe.params.json');
    await writeFile(input, JSON.stringify(injected.notebook, null, 1) + '\n');
    await writeFile(params, JSON.stringify(ctx.variables) + '\n');
    await reportWarnings(ctx, injected.warnings);
    const cellTimeout = ctx.job.timeoutMs === null ? 0 : Math.ceil(ctx.job.timeoutMs / 1000);
    return {
      type: 'process',
      file: python,
      args: [
        notebookDriver(), input, join(ctx.jobDir, 'output.ipynb'),
        '--cell-timeout', String(cellTimeout), '--params', params, '--cwd', ctx.config.root,
      ],
      env: pythonEnv(ctx),
      cwd: ctx.config.root,
    };
  }

  async finish(ctx: ExecutorContext, exitCode: number | null, stderrTail: string): Promise<ExecutorOutcome> {
    if (exitCode === 0) return processOutcome(ctx.jobDir, exitCode, stderrTail);
    const { result } = await readResult(ctx.jobDir);
    let report: unknown = null;
    try {
      report = JSON.parse(await readFile(join(ctx.jobDir, 'error.json'), 'utf8'));
    } catch {
      // No report: the driver itself failed (no interpreter, killed); stderr says why.
    }
    return { error: isDriverError(report) ? notebookError(report) : exitError(exitCode, stderrTail), result };
  }
}
