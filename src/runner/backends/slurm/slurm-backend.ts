import { constants } from 'node:os';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { errorMessage } from '../../../core/errors.js';
import { LAUNCH_FILES, finishOutcome, resolveLaunch, writeLaunchFiles, type ResolvedLaunch } from '../remote-launch.js';
import { commandFailure, runCommand } from '../remote-exec.js';
import { translateSlurmRefusal } from '../remote-errors.js';
import { SLURM_SCRIPT, sbatchArgs, slurmScript } from './slurm-script.js';
import { parseSlurmOptions, type SlurmOptions } from './slurm-options.js';
import { SlurmTracker, type SlurmFinal } from './slurm-tracker.js';
import { SlurmArrayPacker } from './slurm-array.js';
import type { Backend, BackendReport, RunRequest } from '../../backend.js';
import type { BackendConfig, WorkspaceConfig } from '../../../core/types.js';

/** Handles of Slurm attempts: `slurm:<job id>` or `slurm:<array id>_<task>`, so they never read as a local pid. */
const HANDLE_PREFIX = 'slurm:';
const CLOSED_NOTE = (name: string) => `backend ${name} was closed while the job was on Slurm; it keeps running there`;
/** After scancel, how long to wait for Slurm to confirm the end before giving up on it. */
const CANCEL_CONFIRM_MS = 60_000;

/**
 * Runs jobs on a Slurm cluster: each attempt is submitted with `sbatch` (the
 * job script and its command files kept in the job dir; bursts packed into
 * job arrays, one task per job), watched by a shared batched `squeue` poll,
 * cancelled with `scancel`. The workspace must be on a
 * filesystem shared with the compute nodes: the job reads its inputs and
 * writes its logs and outputs in place.
 */
export class SlurmBackend implements Backend {
  readonly name: string;
  private readonly options: SlurmOptions;
  private readonly optionErrors: string[];
  private readonly tracker: SlurmTracker;
  private readonly packer: SlurmArrayPacker;
  /** Pending `run`/`reattach` promises, settled by close(). */
  private readonly waiting = new Set<(o: BackendReport) => void>();
  private closed = false;

  constructor(
    backend: BackendConfig,
    private readonly config: WorkspaceConfig,
    /** Where the backend reports trouble with Slurm's tools (squeue failing, …). */
    private readonly log: (message: string) => void = (m) => console.warn(m),
  ) {
    this.name = backend.name;
    const { options, errors } = parseSlurmOptions(backend);
    this.options = options;
    this.optionErrors = errors;
    this.tracker = new SlurmTracker(options.pollIntervalMs, (m) => this.log(`backend ${this.name}: ${m}`));
    this.packer = new SlurmArrayPacker({ windowMs: options.arrayWindowMs, size: options.arraySize, spool: join(config.root, '.meow', 'slurm') });
  }

  async run(req: RunRequest): Promise<BackendReport> {
    if (this.optionErrors.length > 0) return failed(this.optionErrors.join('\n'));
    if (this.closed) return failed(`backend ${this.name} is closed`);
    let launch: ResolvedLaunch;
    let args: string[];
    try {
      launch = await resolveLaunch(req, this.config.root, this.options.node);
      await writeLaunchFiles(req.jobDir, launch);
      // A retry reuses the job dir: what the last attempt left must not be read as this one's.
      await Promise.all([LAUNCH_FILES.launchError, LAUNCH_FILES.fnReply].map((f) => rm(join(req.jobDir, f), { force: true })));
      const script = join(req.jobDir, SLURM_SCRIPT);
      args = sbatchArgs(req, this.options, script);
      await writeFile(script, slurmScript(req, this.name, args), { mode: 0o755 });
    } catch (err) {
      return failed(`backend ${this.name}: cannot prepare the job script in ${req.jobDir}: ${errorMessage(err)}`);
    }
    if (req.signal.aborted) return { ...failed(null), cancelled: true };
    const submitted = await this.packer.submit(req.jobDir, args);
    if ('failed' in submitted) {
      const r = submitted.failed;
      const refusal = await translateSlurmRefusal({ pattern: req.job.pattern, resources: req.resources, backend: this.name, partition: this.options.partition }, r.stderr);
      if (refusal) return failed(refusal);
      const hint = r.spawnError ? '; install the Slurm client tools (sbatch, squeue, sacct, scancel) or put them on PATH' : '';
      return failed(`backend ${this.name}: cannot submit the job to Slurm: ${commandFailure('sbatch', ['--parsable', '…'], r)}${hint}`);
    }
    const { id } = submitted;
    req.onStarted?.(`${HANDLE_PREFIX}${id}`);
    return (await this.follow(req, id, launch, false)) ?? failed(`Slurm job ${id} disappeared`);
  }

  async reattach(req: RunRequest, handle: string): Promise<BackendReport | null> {
    const id = /^(?:slurm:)?(\d+(?:_\d+)?)$/.exec(handle)?.[1];
    if (!id || this.closed) return null;
    return this.follow(req, id, { fn: req.launch.type === 'function' }, true);
  }

  /**
   * Waits for a submitted job's end: cancels it on abort, and on timeout
   * (counted from when it started running, not from submission).
   */
  private follow(req: RunRequest, id: string, launch: { fn: boolean }, reattaching: boolean): Promise<BackendReport | null> {
    // Closed while the job was being submitted: it runs on, re-attached at the next start.
    if (this.closed) return Promise.resolve(failed(CLOSED_NOTE(this.name)));
    return new Promise<BackendReport | null>((resolve) => {
      let cancelled = false;
      let timedOut = false;
      let seen = false;
      let timer: NodeJS.Timeout | null = null;
      let confirm: NodeJS.Timeout | null = null;
      let settled = false;
      const settle = (o: BackendReport | null) => {
        if (settled) return;
        settled = true;
        unwatch();
        if (timer) clearTimeout(timer);
        if (confirm) clearTimeout(confirm);
        req.signal.removeEventListener('abort', onAbort);
        this.waiting.delete(onClose);
        if (o === null) resolve(null);
        else void finishOutcome(req.jobDir, launch, o).then(resolve, () => resolve(o));
      };
      const stop = () => {
        if (confirm) return;
        void runCommand('scancel', [id], { timeoutMs: 60_000 }).then((r) => {
          if (r.code !== 0) this.log(`backend ${this.name}: ${commandFailure('scancel', [id], r)}`);
          this.tracker.pollSoon();
        });
        // Should Slurm never confirm, the attempt still ends for the engine.
        confirm = setTimeout(() => settle({ ...failed(null), cancelled, timedOut, signal: 'SIGTERM' }), CANCEL_CONFIRM_MS);
      };
      const onAbort = () => {
        cancelled = true;
        stop();
      };
      const onClose = (o: BackendReport) => settle(o);
      const unwatch = this.tracker.watch(id, (s) => {
        if (s.kind === 'lost') {
          settle(reattaching && !seen ? null : failed(`Slurm job ${id} disappeared: squeue, sacct, sacct -c and scontrol no longer know it`));
          return;
        }
        seen = true;
        if (s.kind === 'final') {
          settle(outcomeOf(id, s, cancelled, timedOut));
          return;
        }
        // Counted from when Slurm started it, by Slurm's own run time: time spent queued does not count,
        // and a re-attached job keeps its deadline (its full timeout, not what the engine thinks is left).
        const limit = reattaching ? (req.job.timeoutMs ?? req.timeoutMs) : req.timeoutMs;
        if (s.kind === 'running' && timer === null && limit !== null && !cancelled) {
          const left = limit - (s.elapsedMs ?? 0);
          timer = setTimeout(() => ((timedOut = true), stop()), Math.max(0, left));
        }
      });
      this.waiting.add(onClose);
      req.signal.addEventListener('abort', onAbort, { once: true });
      if (req.signal.aborted) onAbort();
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    // Jobs in an open window are submitted (and recorded) rather than lost.
    await this.packer.flushAll();
    this.tracker.close();
    for (const settle of [...this.waiting]) settle(failed(CLOSED_NOTE(this.name)));
    this.waiting.clear();
  }
}

function failed(error: string | null): BackendReport {
  return { exitCode: null, signal: null, timedOut: false, cancelled: false, error, result: null };
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));

/** What a final Slurm state means for the attempt. */
function outcomeOf(id: string, f: SlurmFinal, cancelled: boolean, timedOut: boolean): BackendReport {
  const signal = f.signal > 0 ? (SIGNAL_NAMES.get(f.signal) ?? `signal ${f.signal}`) : null;
  const base: BackendReport = { exitCode: signal ? null : f.exitCode, signal, timedOut, cancelled, error: null, result: null };
  switch (f.state) {
    case 'COMPLETED':
    case 'FAILED':
      return base;
    case 'TIMEOUT':
      return { ...base, timedOut: true };
    case 'CANCELLED':
      // Stopped by us: killed, whatever exit status the batch script left.
      if (cancelled || timedOut) return { ...base, exitCode: null, signal: base.signal ?? 'SIGTERM' };
      return { ...base, error: `Slurm job ${id} was cancelled outside meowflow (scancel or an administrator); retry it with "meow job retry"` };
    case 'OUT_OF_MEMORY':
      return { ...base, error: `Slurm job ${id} ran out of memory (OUT_OF_MEMORY); ask for more with "resources: {memory: …}" in the pattern` };
    default:
      return { ...base, error: `Slurm job ${id} ended in state ${f.state} (${f.source}), exit code ${f.exitCode ?? 'unknown'}; see the cluster's logs` };
  }
}
