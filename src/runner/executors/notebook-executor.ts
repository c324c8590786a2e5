import { stateJson } from '../../core/exact-json.js';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { packageFile, packageVersion } from '../../core/package-root.js';
import type { RecipeKind } from '../../core/types.js';
import { MeowError, errorMessage } from '../../core/errors.js';
import type { Executor, ExecutorContext, ExecutorOutcome, Launch } from '../executor.js';
import { detectPython } from '../python-detect.js';
import { installedKernels, kernelProblem, runsOnSameInterpreter } from '../notebook-params/kernels.js';
import { asNotebook } from '../notebook-params/notebook-json.js';
import { parameteriseNotebook } from '../notebook-params/parameterise.js';
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

/** What `metadata.papermill.version` says of a notebook meowflow prepared: `meowflow <version>`. */
export function runnerVersion(): string {
  return `meowflow ${packageVersion()}`;
}

/**
 * `--cell-numbers` for nb_runner.py: `-` for a cell meowflow added, runs of
 * consecutive numbers as `A-B`, so a notebook of thousands of cells stays one
 * short argument.
 */
export function cellNumbersArg(numbers: readonly (number | null)[]): string {
  const items: string[] = [];
  for (let i = 0; i < numbers.length; ) {
    const first = numbers[i];
    if (first === null) {
      items.push('-');
      i++;
      continue;
    }
    let j = i;
    while (j + 1 < numbers.length && numbers[j + 1] === (numbers[j] ?? NaN) + 1) j++;
    items.push(j === i ? String(first) : `${first}-${numbers[j]}`);
    i = j + 1;
  }
  return items.join(',');
}

/** What `nb_runner.py` writes to error.json when a run fails. */
interface DriverError {
  /** Index of the failed cell in the executed notebook (from 0), or null. */
  cell_index: number | null;
  /** Its number in the recipe file (from 1), or null for the injected cell or no cell. */
  cell: number | null;
  execution_count: number | null;
  ename: string;
  evalue: string;
  traceback: string;
}

function isDriverError(v: unknown): v is DriverError {
  return typeof v === 'object' && v !== null && 'ename' in v && typeof v.ename === 'string';
}

/** Where a failure happened, as a person names it: `cell 3`, the injected cell, or the notebook. */
export function cellPlace(e: Pick<DriverError, 'cell' | 'cell_index'>): string {
  if (e.cell !== null) return `cell ${e.cell}`;
  return e.cell_index !== null ? 'the injected-parameters cell' : 'the notebook';
}

/**
 * The message for a failed notebook. Cells are counted as a person counts
 * them in the recipe file (the first cell is 1, markdown cells included, the
 * injected cell not counted), so the number points at the cell the user
 * wrote. The traceback's last line repeats `ename: evalue`, so it is dropped.
 */
export function notebookError(e: DriverError): string {
  if (e.ename === 'Terminated') return `${e.evalue}${e.cell_index === null ? '' : ` during ${cellPlace(e)}`}`;
  const head = `${e.ename}: ${e.evalue}`;
  const lines = e.traceback.trimEnd().split('\n');
  while (lines.length > 0 && lines[lines.length - 1].trim() === '') lines.pop();
  if (lines.length > 0 && lines[lines.length - 1].trim() === head.trim()) lines.pop();
  const tb = lines.slice(-TRACEBACK_LINES).join('\n').trim();
  return `${cellPlace(e)} raised ${head}${tb ? `\n${tb}` : ''}`;
}

/**
 * Runs `*.ipynb` recipes on a real Jupyter kernel (the one the notebook names):
 * the notebook is parameterised the papermill way or MEOW's (`recipe.ipynb`
 * in the job dir) and `nb_runner.py` executes it cell by cell into
 * `output.ipynb`.
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
    const mode = ctx.rule.pattern.parameterize ?? ctx.rule.recipe.parameterize ?? null;
    try {
      injected = parameteriseNotebook(parsed, ctx.variables, { mode, version: runnerVersion() });
    } catch (err) {
      throw new MeowError('MEOW_RECIPE_INVALID', `${file}: ${errorMessage(err)}`, { cause: err });
    }
    // Detect before writing anything: without Jupyter the job fails with the fix in its message.
    const python = await detectPython(ctx.config, 'jupyter');
    const nb = asNotebook(parsed);
    const same = runsOnSameInterpreter(nb);
    const kernel = same ? null : kernelProblem(nb, await installedKernels(python));
    if (kernel !== null) throw new MeowError('MEOW_RECIPE_INVALID', `${file}: ${kernel}`);
    const input = join(ctx.jobDir, 'recipe.ipynb');
    const params = join(ctx.jobDir, 'recipe.params.json');
    await writeFile(input, JSON.stringify(injected.notebook, null, 1) + '\n');
    await writeFile(params, stateJson(ctx.variables) + '\n');
    await reportWarnings(ctx, injected.warnings);
    const cellTimeout = ctx.job.timeoutMs === null ? 0 : Math.ceil(ctx.job.timeoutMs / 1000);
    return {
      type: 'process',
      file: python,
      args: [
        notebookDriver(), input, join(ctx.jobDir, 'output.ipynb'),
        '--cell-timeout', String(cellTimeout), '--params', params, '--cwd', ctx.config.root,
        // One argument with "=": a list starting with "-" would read as an option.
        `--cell-numbers=${cellNumbersArg(injected.cellNumbers)}`,
      ],
      env: pythonEnv(ctx),
      cwd: ctx.config.root,
      // Other kernels (IRkernel, …) always start cold: pools hold the interpreter's own.
      ...(same ? { kernel: 'python3' as const } : {}),
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
