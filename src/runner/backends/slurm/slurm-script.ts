/**
 * What the Slurm backend submits: the sbatch arguments (resources, partition,
 * account, extra arguments from meow.yaml) and the job script kept in the job
 * dir. The script reads the command from command.nul / env.nul, so no file
 * name is ever interpolated into shell text.
 */
import { BASH_EXEC } from '../remote-launch.js';
import { bashLine, bashQuote } from '../remote-exec.js';
import type { RunRequest } from '../../backend.js';
import type { SlurmOptions } from './slurm-options.js';

/** The job script's name in the job dir. */
export const SLURM_SCRIPT = 'job.sbatch';

/** sbatch's arguments for one attempt, ending with the script's path. */
export function sbatchArgs(req: RunRequest, options: SlurmOptions, scriptPath: string): string[] {
  const { cpus, gpus, memory } = req.resources;
  const args = [
    '--parsable',
    `--job-name=meow-${req.job.pattern}`,
    `--comment=meowflow job ${req.job.id}`,
    `--chdir=${req.jobDir}`,
    ...logArgs(req.jobDir),
    '--open-mode=append',
    '--ntasks=1',
    `--cpus-per-task=${Math.max(1, cpus)}`,
  ];
  if (memory !== null) args.push(`--mem=${Math.max(1, Math.ceil(memory / 1024 ** 2))}M`);
  if (gpus > 0) args.push(`--gres=gpu:${gpus}`);
  const limit = req.timeoutMs ?? options.timeMs;
  // Slurm counts minutes; the engine's own timer cancels on the dot.
  if (limit !== null) args.push(`--time=${Math.max(1, Math.ceil(limit / 60_000))}`);
  if (options.partition) args.push(`--partition=${options.partition}`);
  if (options.account) args.push(`--account=${options.account}`);
  args.push(...options.sbatchArgs, scriptPath);
  return args;
}

/**
 * Where Slurm writes the job's stdout and stderr. Slurm expands %-patterns
 * (%j, %u, …) in the whole path, so a literal % is doubled; a path with a
 * backslash switches expansion off in a way that also alters the path, so
 * then Slurm's output goes nowhere and the script redirects its own.
 */
function logArgs(jobDir: string): string[] {
  if (jobDir.includes('\\')) return ['--output=/dev/null', '--error=/dev/null'];
  const esc = (name: string) => `${jobDir}/${name}`.replaceAll('%', '%%');
  return [`--output=${esc('stdout.log')}`, `--error=${esc('stderr.log')}`];
}

/** The job script: enters the job dir, then execs the command recorded beside it. */
export function slurmScript(req: RunRequest, backendName: string, sbatch: string[]): string {
  const oneLine = (s: string) => s.replace(/[\r\n]+/g, ' ');
  return `#!/bin/bash
# meowflow job ${req.job.id}: pattern ${oneLine(req.job.pattern)}, recipe ${oneLine(req.job.recipe)}.
# Submitted by the slurm backend "${backendName}" with
#   ${oneLine(bashLine(['sbatch', ...sbatch]))}
# The working directory, program, arguments and environment are in
# command.nul and env.nul (NUL-separated), so no value passes through a shell.
set -u
meow_dir=${bashQuote(req.jobDir)}
if ! cd -- "$meow_dir" 2>/dev/null || [ ! -f command.nul ]; then
  echo "meowflow: the job directory $meow_dir is not visible on $(hostname); the slurm backend needs the workspace on a filesystem shared with the compute nodes" >&2
  exit 1
fi
${req.jobDir.includes('\\') ? 'exec >> stdout.log 2>> stderr.log\n' : ''}${BASH_EXEC}
meow_exec "$meow_dir"
`;
}
