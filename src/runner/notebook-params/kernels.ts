import { execFile } from 'node:child_process';
import { kernelNameOf, type NotebookJson } from './notebook-json.js';

/*
 * Which Jupyter kernels are installed. A notebook naming `python3` (or
 * `python`, or no kernel at all) runs on ipykernel in the interpreter meowflow
 * checked for nbclient, so its packages are the ones meowflow found; any other
 * kernel runs as its installed kernelspec says, and must be installed.
 * Listing costs a Python start-up, so the answer is cached per interpreter.
 */

/** Kernel names that always run on the configured interpreter's ipykernel. */
export const SAME_INTERPRETER_KERNELS: readonly string[] = ['python3', 'python'];

const LIST = 'import json; from jupyter_client.kernelspec import KernelSpecManager; print(json.dumps(sorted(KernelSpecManager().find_kernel_specs())))';
const LIST_TIMEOUT_MS = 60_000;
const cache = new Map<string, Promise<string[]>>();

/** The kernelspec names the interpreter's Jupyter finds (empty when it cannot say). Cached per interpreter. */
export function installedKernels(python: string): Promise<string[]> {
  let answer = cache.get(python);
  if (!answer) {
    answer = new Promise((resolve) => {
      execFile(python, ['-c', LIST], { timeout: LIST_TIMEOUT_MS, windowsHide: true }, (err, stdout) => {
        try {
          const names: unknown = JSON.parse(stdout.trim().split('\n').pop() ?? '');
          resolve(!err && Array.isArray(names) ? names.filter((n): n is string => typeof n === 'string') : []);
        } catch {
          resolve([]);
        }
      });
    });
    cache.set(python, answer);
  }
  return answer;
}

/** Forgets the cached kernel lists, e.g. after a kernel was installed. */
export function clearKernelCache(): void {
  cache.clear();
}

/** How to install well-known kernels. */
const INSTALL_HINTS: Record<string, string> = {
  ir: 'install IRkernel (Debian: apt-get install r-cran-irkernel; elsewhere: R -e \'install.packages("IRkernel"); IRkernel::installspec()\')',
  julia: 'install IJulia (julia -e \'using Pkg; Pkg.add("IJulia")\')',
};

/** The install advice for a kernel that is missing. */
export function installHint(kernel: string): string {
  const known = INSTALL_HINTS[kernel.toLowerCase()] ?? (/^julia/i.test(kernel) ? INSTALL_HINTS.julia : undefined);
  return known ?? `install the kernel and register its kernelspec (for a Python environment: <env>/bin/python -m ipykernel install --user --name ${kernel}), or change the notebook's kernel to one that is installed`;
}

/** Whether a notebook runs on the configured interpreter's ipykernel (no kernelspec lookup needed). */
export function runsOnSameInterpreter(nb: NotebookJson): boolean {
  const kernel = kernelNameOf(nb);
  return kernel === null || SAME_INTERPRETER_KERNELS.includes(kernel);
}

/**
 * What is wrong with the kernel a notebook names, or null when it can run.
 * `installed` is {@link installedKernels} of the interpreter that runs notebooks.
 */
export function kernelProblem(nb: NotebookJson, installed: readonly string[]): string | null {
  const kernel = kernelNameOf(nb);
  if (kernel === null || runsOnSameInterpreter(nb) || installed.includes(kernel)) return null;
  const have = installed.length > 0 ? `installed kernels: ${installed.join(', ')}` : 'no kernel is installed';
  return `the notebook's kernel "${kernel}" (metadata.kernelspec.name) is not installed (${have}). Fix: ${installHint(kernel)}`;
}
