/**
 * Packs bursts of Slurm jobs into job arrays. Jobs submitted within
 * `array_window` of each other that ask for the same resources go to Slurm
 * as one `sbatch --array=0-N` (at most `array_size` tasks); task i enters
 * the i-th job's directory (chosen by SLURM_ARRAY_TASK_ID) and runs that
 * job's own script, `job.sbatch`. Each job keeps its own handle
 * (`ARRAYID_TASK`), so cancel (`scancel ARRAYID_TASK`), exit status, timeout
 * and re-attach stay per job. A window that caught one job submits it alone,
 * as an ordinary job.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { runCommand, bashQuote, type CommandResult } from '../remote-exec.js';

/** A job waiting in an array window. */
interface Pending {
  jobDir: string;
  /** The job's own sbatch arguments, ending with its script. */
  args: string[];
  resolve: (r: ArraySubmit) => void;
}

/** What a submission gave one job: its Slurm id (`123` or `123_4`), or sbatch's failure. */
export type ArraySubmit = { id: string } | { failed: CommandResult };

/** sbatch arguments that differ between the jobs of one array; the rest must be equal to share an array. */
const PER_JOB = /^--(job-name|comment|chdir|output|error)=/;

/** Options of the packer. */
export interface ArrayOptions {
  /** How long a window stays open for more jobs, ms; 0 submits every job alone. */
  windowMs: number;
  /** Most tasks in one array. */
  size: number;
  /** Where the array scripts are written before submission (removed after). */
  spool: string;
}

/** Collects jobs into job arrays. */
export class SlurmArrayPacker {
  private readonly groups = new Map<string, { jobs: Pending[]; timer: NodeJS.Timeout }>();

  constructor(private readonly options: ArrayOptions) {}

  /** Submits one job (its args end with its script), packed with others when they come within the window. */
  submit(jobDir: string, args: string[]): Promise<ArraySubmit> {
    if (this.options.windowMs <= 0 || this.options.size <= 1) return submitAlone(args);
    const key = JSON.stringify(args.slice(0, -1).filter((a) => !PER_JOB.test(a)));
    return new Promise<ArraySubmit>((resolve) => {
      let g = this.groups.get(key);
      if (!g) {
        const timer = setTimeout(() => void this.flush(key), this.options.windowMs);
        this.groups.set(key, (g = { jobs: [], timer }));
      }
      g.jobs.push({ jobDir, args, resolve });
      if (g.jobs.length >= this.options.size) void this.flush(key);
    });
  }

  /** Submits what the windows hold now (on close). */
  async flushAll(): Promise<void> {
    await Promise.all([...this.groups.keys()].map((k) => this.flush(k)));
  }

  private async flush(key: string): Promise<void> {
    const g = this.groups.get(key);
    if (!g) return;
    this.groups.delete(key);
    clearTimeout(g.timer);
    const jobs = g.jobs;
    if (jobs.length === 1) {
      jobs[0].resolve(await submitAlone(jobs[0].args));
      return;
    }
    const r = await this.submitArray(jobs);
    jobs.forEach((j, i) => j.resolve('id' in r ? { id: `${r.id}_${i}` } : r));
  }

  private async submitArray(jobs: Pending[]): Promise<{ id: string } | { failed: CommandResult }> {
    const shared = jobs[0].args.slice(0, -1).filter((a) => !PER_JOB.test(a));
    await mkdir(this.options.spool, { recursive: true });
    const script = join(this.options.spool, `array-${randomUUID()}.sbatch`);
    try {
      await writeFile(script, arrayScript(jobs.map((j) => j.jobDir)), { mode: 0o755 });
      // Slurm's own logs go nowhere: each task appends to its job's stdout.log and stderr.log itself.
      const args = [...shared.filter((a) => a !== '--open-mode=append'), `--array=0-${jobs.length - 1}`, '--job-name=meow-array', '--output=/dev/null', '--error=/dev/null', `--chdir=${this.options.spool}`, script];
      return await submitAlone(args);
    } finally {
      // sbatch keeps its own copy of the script.
      await rm(script, { force: true });
    }
  }
}

async function submitAlone(args: string[]): Promise<ArraySubmit> {
  const r = await runCommand('sbatch', args, { timeoutMs: 120_000 });
  const id = /^(\d+)/.exec(r.stdout.trim())?.[1];
  return r.code === 0 && id ? { id } : { failed: r };
}

/**
 * The array's script: the job directories in order (quoted for bash: any
 * name is safe), and for task i, the i-th job's own script run in its
 * directory with its logs appended to.
 */
export function arrayScript(jobDirs: string[]): string {
  return `#!/bin/bash
# meowflow: ${jobDirs.length} jobs packed into one Slurm job array; task i runs the i-th job's job.sbatch.
set -u
meow_dirs=(
${jobDirs.map((d) => `  ${bashQuote(d)}`).join('\n')}
)
meow_dir="\${meow_dirs[\${SLURM_ARRAY_TASK_ID:-x}]:-}"
if [ -z "$meow_dir" ] || ! cd -- "$meow_dir" 2>/dev/null; then
  echo "meowflow: array task \${SLURM_ARRAY_TASK_ID:-?}: the job directory $meow_dir is not visible on $(hostname)" >&2
  exit 1
fi
exec >> stdout.log 2>> stderr.log
exec bash ./job.sbatch
`;
}
