import { execFile } from 'node:child_process';
import type { WorkspaceConfig } from '../core/types.js';
import { MeowError } from '../core/errors.js';

/*
 * Which Python runs a recipe. Notebooks need nbclient and ipykernel in the same
 * interpreter as the kernel, so an interpreter qualifies only if it can import
 * both. Asking costs a Python start-up (~0.3 s), so each answer is cached for
 * the life of the process, per interpreter.
 */

/** The Debian packages that make the system Python run notebooks. */
export const JUPYTER_PACKAGES = 'jupyter-nbconvert python3-nbclient python3-ipykernel';

/** Interpreters tried, after `config.python`, in order. */
export const PYTHON_CANDIDATES: readonly string[] = ['/usr/bin/python3', 'python3', 'python'];

const PROBE = 'import sys, nbclient, ipykernel; print(sys.executable)';
/** Importing nbclient can take seconds on a cold disk; a hung interpreter must not hang a job forever. */
const PROBE_TIMEOUT_MS = 60_000;

const cache = new Map<string, Promise<string | null>>();

/**
 * The absolute path of `python` if it can import nbclient and ipykernel, else
 * null (also when it does not exist). Cached per interpreter.
 */
export function probeJupyter(python: string): Promise<string | null> {
  let answer = cache.get(python);
  if (!answer) {
    answer = new Promise((resolve) => {
      execFile(python, ['-c', PROBE], { timeout: PROBE_TIMEOUT_MS, windowsHide: true }, (err, stdout) => {
        const exe = stdout.trim().split('\n').pop()?.trim() ?? '';
        // sys.executable can be empty for embedded interpreters; the name still works.
        resolve(err ? null : exe || python);
      });
    });
    cache.set(python, answer);
  }
  return answer;
}

/** Forgets every cached probe, e.g. after packages were installed. */
export function clearPythonCache(): void {
  cache.clear();
}

/**
 * The interpreter for a Python recipe.
 *
 * - `jupyter`: the first of `config.python`, `/usr/bin/python3`, `python3`,
 *   `python` (on PATH) that can import nbclient and ipykernel, as the absolute
 *   path it reports for itself.
 * - `script`: `config.python`, else the Jupyter interpreter if there is one,
 *   else `python3`.
 *
 * @throws MeowError MEOW_PYTHON_MISSING for `jupyter` when no candidate qualifies.
 */
export async function detectPython(config: WorkspaceConfig, need: 'script' | 'jupyter'): Promise<string> {
  if (need === 'script' && config.python) return config.python;
  const candidates = config.python ? [config.python, ...PYTHON_CANDIDATES] : [...PYTHON_CANDIDATES];
  for (const candidate of candidates) {
    const found = await probeJupyter(candidate);
    if (found) return found;
  }
  if (need === 'script') return 'python3';
  throw new MeowError(
    'MEOW_PYTHON_MISSING',
    `notebook recipes need a Python that can "import nbclient, ipykernel"; tried ${candidates.join(', ')} and none could. ` +
      `Fix: on Debian/Ubuntu run "apt-get install ${JUPYTER_PACKAGES}", or "pip install nbclient ipykernel" and set "python:" in meow.yaml to that interpreter`,
  );
}
