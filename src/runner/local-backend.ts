import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { join } from 'node:path';
import { JsPool } from './js-pool.js';
import { signalGroup } from './process-tree.js';
import { errorMessage } from '../core/errors.js';
import type { Backend, RunOutcome, RunRequest } from './backend.js';
import type { WorkspaceConfig } from '../core/types.js';

/**
 * Runs jobs on this machine: subprocesses (each in its own process group, so
 * cancel and timeout reach the children it forks) and JavaScript functions on
 * a worker-thread pool. Slots are enforced by the scheduler.
 */
export class LocalBackend implements Backend {
  readonly name: string;
  private pool: JsPool | null = null;

  constructor(
    name: string,
    private readonly config: WorkspaceConfig,
  ) {
    this.name = name;
  }

  async run(req: RunRequest): Promise<RunOutcome> {
    if (req.launch.type === 'function') return this.runFunction(req);
    return this.runProcess(req);
  }

  private async runFunction(req: RunRequest): Promise<RunOutcome> {
    if (req.launch.type !== 'function') throw new Error('unreachable');
    this.pool ??= new JsPool({ maxThreads: this.config.cpus, graceMs: this.config.killGraceMs });
    const controller = new AbortController();
    const abort = () => controller.abort();
    req.signal.addEventListener('abort', abort, { once: true });
    let timedOut = false;
    const timer = req.timeoutMs !== null ? setTimeout(() => ((timedOut = true), controller.abort()), req.timeoutMs) : null;
    req.onStarted?.(null);
    try {
      const out = await this.pool.run(req.launch.modulePath, req.job.ruleVersion, req.launch.variables, {
        jobId: req.job.id,
        jobDir: req.jobDir,
        workspace: this.config.root,
        signal: controller.signal,
      });
      const cancelled = req.signal.aborted;
      if (out.ok && !cancelled && !timedOut) return { exitCode: 0, signal: null, timedOut, cancelled, error: null, result: out.result };
      return { exitCode: null, signal: null, timedOut, cancelled, error: out.ok ? null : out.error, result: null };
    } finally {
      if (timer) clearTimeout(timer);
      req.signal.removeEventListener('abort', abort);
    }
  }

  private runProcess(req: RunRequest): Promise<RunOutcome> {
    if (req.launch.type !== 'process') throw new Error('unreachable');
    const launch = req.launch;
    const grace = this.config.killGraceMs;
    return new Promise<RunOutcome>((resolve) => {
      let out: number | null = null;
      let err: number | null = null;
      try {
        out = openSync(join(req.jobDir, 'stdout.log'), 'a');
        err = openSync(join(req.jobDir, 'stderr.log'), 'a');
      } catch (e) {
        for (const fd of [out, err]) if (fd !== null) closeSync(fd);
        resolve(failed(`cannot open the job's log files: ${errorMessage(e)}`));
        return;
      }
      const child = spawn(launch.file, launch.args, {
        cwd: launch.cwd,
        env: { ...process.env, ...launch.env },
        stdio: ['ignore', out, err],
        detached: true,
      });
      closeSync(out);
      closeSync(err);
      let timedOut = false;
      let cancelled = false;
      let killTimer: NodeJS.Timeout | null = null;
      const stop = () => {
        if (child.pid === undefined || killTimer) return;
        signalGroup(child.pid, 'SIGTERM');
        killTimer = setTimeout(() => child.pid !== undefined && signalGroup(child.pid, 'SIGKILL'), grace);
      };
      const onAbort = () => ((cancelled = true), stop());
      req.signal.addEventListener('abort', onAbort, { once: true });
      const timer = req.timeoutMs !== null ? setTimeout(() => ((timedOut = true), stop()), req.timeoutMs) : null;
      let settled = false;
      const finish = (o: RunOutcome) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        if (killTimer) clearTimeout(killTimer);
        req.signal.removeEventListener('abort', onAbort);
        // A cancelled or timed-out job leaves nothing behind: its forked children go too.
        if ((cancelled || timedOut) && child.pid !== undefined) signalGroup(child.pid, 'SIGKILL');
        resolve(o);
      };
      child.once('spawn', () => req.onStarted?.(child.pid === undefined ? null : String(child.pid)));
      child.once('error', (e) => finish(failed(`cannot start ${launch.file}: ${errorMessage(e)}`)));
      child.once('exit', (code, signal) =>
        finish({ exitCode: code, signal, timedOut, cancelled, error: null, result: null }),
      );
      if (req.signal.aborted) onAbort();
    });
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = null;
  }
}

function failed(error: string): RunOutcome {
  return { exitCode: null, signal: null, timedOut: false, cancelled: false, error, result: null };
}
