import { join } from 'node:path';
import { createOutputDirs } from './output-dirs.js';
import { cleanAttemptDir, writeAttemptRecord, type AttemptRecord } from './recovery-attempt.js';
import { INPUTS_LIST, createJobDir, makeJobDir, tailFile } from './job-dir.js';
import { isDiskFull } from './disk-space.js';
import { outcomeOf, type RunOutcome } from './outcome.js';
import { tailLogOf } from './resource-log-cap.js';
import { linkRefusalNow } from '../monitor/watched-tree.js';
import { errorMessage } from '../core/errors.js';
import { formatDuration } from '../core/durations.js';
import { expandAll, placeholderValues } from '../rules/variables.js';
import type { Backend, RunRequest } from './backend.js';
import type { Executor, ExecutorContext, Launch } from './executor.js';
import type { Allocation } from './resource-pool.js';
import type { JobRecord, RecipeKind, Rule, Variables, WorkspaceConfig } from '../core/types.js';

/** An attempt found running after a restart, to be followed by its backend (see `Scheduler.adopt`). */
export interface Orphan {
  job: JobRecord;
  handle: string;
  record: AttemptRecord;
  /** Its rule as registered when the engine stopped, or null. */
  rule: Rule | null;
}

/** Placeholders, runtime variables and executor context of one attempt. */
export interface AttemptSite {
  runtime: Variables;
  placeholders: Record<string, string>;
  /** Absolute job directory. */
  dir: string;
  ctx: ExecutorContext;
}

/** A process attempt's executor, which reads what the run left behind. */
export interface ProcessEnd {
  ctx: ExecutorContext;
  executor: Executor;
}

/** What an outcome means for the job: its error (null for success), result and exit code. */
export interface Verdict {
  error: string | null;
  result: JobRecord['result'];
  exitCode: number | null;
}

/** Called once the attempt exists on its backend, with the backend's handle (the scheduler records it). */
export type OnHandle = (handle: string, pid: number | null) => void;

/**
 * Runs one attempt on its backend and says how it ended. It prepares the job
 * dir and the recipe, hands the launch to the backend, and reads the
 * backend's report as a {@link RunOutcome}. It never touches the database:
 * the scheduler records what it returns.
 */
export class AttemptRunner {
  constructor(
    private readonly config: WorkspaceConfig,
    private readonly backends: ReadonlyMap<string, Backend>,
    private readonly executors: ReadonlyMap<RecipeKind, Executor>,
  ) {}

  /** Placeholders, runtime variables and executor context of one attempt (no side effects). */
  site(job: JobRecord, rule: Rule): AttemptSite {
    const { config } = this;
    const absInput = join(config.root, job.input);
    const site = { rule, event: { kind: job.event, path: job.input, oldPath: job.oldPath, version: job.inputVersion, generation: job.generation, cause: job.cause }, jobId: job.id, jobDir: job.jobDir, workspace: config.root, sweepPoint: job.sweepPoint };
    // A set job's list variable holds every member's absolute path (fan-in).
    const absInputs = job.inputs?.map((p) => join(config.root, p)) ?? null;
    const runtime: Variables = { ...job.variables, [rule.pattern.input]: absInputs ?? absInput };
    const placeholders = placeholderValues(site, { ...rule.pattern.variables, ...job.variables });
    placeholders[rule.pattern.input] = absInputs ? JSON.stringify(absInputs) : absInput;
    const dir = join(config.root, job.jobDir);
    const env: Record<string, string> = { MEOW_JOB_ID: job.id, MEOW_JOB_DIR: dir, MEOW_WORKSPACE: config.root, MEOW_PARAMS: join(dir, 'params.json') };
    if (absInputs) env.MEOW_INPUTS = join(dir, INPUTS_LIST);
    const ctx: ExecutorContext = { job, rule, config, jobDir: dir, variables: runtime, placeholders, env };
    return { runtime, placeholders, dir, ctx };
  }

  /** The executor that reads a process attempt's end (null for a function). */
  processEnd(rule: Rule, site: AttemptSite, launch: Launch | null): ProcessEnd | null {
    const executor = this.executors.get(rule.recipe.kind);
    return executor && (launch === null || launch.type === 'process') ? { ctx: site.ctx, executor } : null;
  }

  /** Runs a new attempt (the job is `running`, `job.attempt` its number) to its end. */
  async run(job: JobRecord, rule: Rule, site: AttemptSite, signal: AbortSignal, allocation: Allocation, onHandle: OnHandle): Promise<{ outcome: RunOutcome; proc: ProcessEnd | null }> {
    const { config } = this;
    const { runtime, placeholders, dir, ctx } = site;
    let launch: Launch | null = null;
    const executor = this.executors.get(rule.recipe.kind);
    try {
      // An input swapped for a link the policy refuses after the job was queued is not read through;
      // checked while the job dir is made (the steps before a launch run side by side where they can).
      const inputs = [job.input, ...(job.inputs ?? [])];
      const backend = this.backends.get(rule.pattern.backend);
      // A process attempt may get a directory its backend made ahead of time (its files there, empty): new, so fresh.
      const spare = rule.recipe.kind !== 'javascript' && backend?.takeJobDir ? backend.takeJobDir(dir) : Promise.resolve(false);
      const [refusals, fresh] = await Promise.all([Promise.all(inputs.map((p) => linkRefusalNow(config, p))), spare.then((took) => took || makeJobDir(dir))]);
      const refused = refusals.findIndex((r) => r !== null);
      if (refused >= 0) throw new Error(`${inputs[refused]} changed after the job was queued: ${refusals[refused]}`);
      // Each attempt starts from a clean job dir (but for its logs): nothing a crashed or failed attempt left is read as this one's.
      // (A first attempt may follow one the engine lost, which does not count: the dir is cleaned whenever it exists.)
      if (!fresh) await cleanAttemptDir(dir);
      if (!executor) throw new Error(`no executor for ${rule.recipe.kind} recipes`);
      if (!backend) throw new Error(`backend "${rule.pattern.backend}" is not configured in meow.yaml`);
      // params.json (and a set's inputs.list) and the executor's copy of the recipe are written side by side.
      [, launch] = await Promise.all([createJobDir(config.root, job, runtime, rule.recipe.kind !== 'javascript'), executor.prepare(ctx)]);
      const req: RunRequest = {
        job,
        launch,
        jobDir: dir,
        signal,
        timeoutMs: job.timeoutMs,
        resources: rule.pattern.resources,
        gpus: allocation.gpus,
        outputs: rule.pattern.outputs.length ? expandAll(rule.pattern.outputs, placeholders) : [],
        inputs: rule.pattern.inputs?.length ? expandAll(rule.pattern.inputs, placeholders) : [],
        onStarted: (handle, pid) => {
          if (handle !== null) onHandle(handle, pid ?? null);
        },
      };
      // Every backend finds the directories of its declared outputs in place (a remote one also in its mirror);
      // a process attempt's record is written beside them, before it starts.
      const prepared = launch;
      await Promise.all([
        createOutputDirs(config.root, req.outputs),
        prepared.type === 'process'
          ? writeAttemptRecord(dir, { attempt: job.attempt, backend: backend.name, launch: prepared, gpus: req.gpus, allocation, outputs: req.outputs, resources: req.resources, startedAt: job.startedAt ?? new Date().toISOString() })
          : null,
      ]);
      const outcome = outcomeOf(await backend.run(req), 'its backend lost it before it was known to start');
      return { outcome, proc: launch.type === 'process' && executor ? { ctx, executor } : null };
    } catch (err) {
      // A full disk is no fault of the job: the attempt did not start.
      if (isDiskFull(err)) return { outcome: { kind: 'not-started', error: errorMessage(err), diskFull: true }, proc: null };
      // The recipe could not be prepared (a bad recipe, a missing interpreter): its own failure.
      return { outcome: { kind: 'failed', exitCode: null, error: errorMessage(err) }, proc: null };
    }
  }

  /** Follows an attempt found running after a restart to its end, through its backend's `reattach`. */
  async resume(o: Orphan, site: AttemptSite | null, signal: AbortSignal, onHandle: OnHandle): Promise<RunOutcome> {
    const { job, record } = o;
    const backend = this.backends.get(record.backend);
    const elapsed = Date.now() - Date.parse(job.startedAt ?? record.startedAt);
    const req: RunRequest = {
      job,
      launch: record.launch,
      jobDir: site?.dir ?? join(this.config.root, job.jobDir),
      signal,
      timeoutMs: job.timeoutMs === null ? null : Math.max(0, job.timeoutMs - elapsed),
      resources: record.resources,
      gpus: record.gpus,
      outputs: record.outputs,
      onStarted: (handle, pid) => {
        if (handle !== null) onHandle(handle, pid ?? null);
      },
    };
    try {
      return outcomeOf(backend?.reattach ? await backend.reattach(req, o.handle) : null);
    } catch (err) {
      return { kind: 'failed', exitCode: null, error: `re-attaching after a restart failed: ${errorMessage(err)}` };
    }
  }

  /**
   * What an attempt's outcome means for the job; null when the end was not
   * the recipe's own (cancelled, not started, lost).
   */
  async judge(job: JobRecord, proc: ProcessEnd | null, outcome: RunOutcome): Promise<Verdict | null> {
    const finish = async (exitCode: number | null, fallback: { error: string | null; result: JobRecord['result'] }): Promise<Verdict> => {
      if (!proc) return { ...fallback, exitCode };
      try {
        // After exit 0 no executor reads stderr: it is not read for nothing.
        const fin = await proc.executor.finish(proc.ctx, exitCode, exitCode === 0 ? '' : await stderrTail(proc.ctx.jobDir));
        return { error: fin.error, result: fin.result, exitCode };
      } catch (err) {
        return { error: errorMessage(err), result: null, exitCode };
      }
    };
    switch (outcome.kind) {
      case 'exited':
        return finish(outcome.exitCode, { error: null, result: outcome.result });
      case 'failed':
        return { error: outcome.error, result: null, exitCode: outcome.exitCode };
      case 'signalled':
        return finish(null, { error: `killed by ${outcome.signal ?? 'a signal'}`, result: null });
      case 'timed-out':
        // A timed-out attempt has no exit code of its own (its wrapper reports the SIGTERM as 143): null on every backend.
        return { error: `timed out after ${formatDuration(job.timeoutMs ?? 0)}`, result: null, exitCode: null };
      case 'cancelled':
      case 'not-started':
      case 'engine-lost':
        return null;
      default: {
        const never: never = outcome;
        throw new Error(`unknown outcome ${String(never)}`);
      }
    }
  }
}

/** The end of stderr.log, or of stderr.tail.log when the log was capped (where the end of the output went). */
async function stderrTail(jobDir: string): Promise<string> {
  const log = join(jobDir, 'stderr.log');
  const tail = await tailFile(log);
  if (!tail.includes('[meowflow: stderr.log reached max_log_size')) return tail;
  return tailFile(tailLogOf(log));
}
