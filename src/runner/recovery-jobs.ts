import { join } from 'node:path';
import { readAttemptRecord } from './recovery-attempt.js';
import { foundHandle } from './backends/local/local-backend.js';
import { jobProcesses, signalAll } from './process-tree.js';
import type { Backend } from './backend.js';
import type { Orphan, Scheduler } from './scheduler.js';
import type { EngineEvents } from '../core/engine-events.js';
import type { Rule, WorkspaceConfig } from '../core/types.js';
import type { Store } from '../store/store.js';

/** What recovery needs from the engine. */
export interface RecoveryDeps {
  store: Store;
  config: WorkspaceConfig;
  backends: ReadonlyMap<string, Backend>;
  scheduler: Scheduler;
  /** The rules as registered when the engine stopped, by version. */
  rules: ReadonlyMap<string, Rule>;
  emit<K extends keyof EngineEvents>(name: K, ...args: EngineEvents[K]): void;
}

/** What recovery did. */
export interface RecoveryReport {
  /** Attempts handed to their backend to follow (`reattach`). */
  adopted: number;
  /** Attempts that could not be followed, queued again (a lost attempt does not count against retries). */
  requeued: number;
  /** Attempts that could not be followed nor queued again (their job changed state meanwhile). */
  failed: number;
  /** Orphaned processes killed. */
  killed: number;
}

/**
 * After an engine stop (a crash, `kill -9`, a reboot), before definitions are
 * registered: every job still `running` in the database is either adopted —
 * its backend can re-attach to it by the handle it reported and the job dir
 * holds its attempt record — or queued again: the attempt was lost by the
 * engine, not ended by the recipe, so it does not count against `retries`. Then every process on this machine that belongs to
 * a job of this workspace on a local backend (found by its environment) and
 * is not part of an adopted attempt is killed: the leftovers of attempts
 * queued again, and of jobs that ended or were cancelled while the engine
 * died. Nothing succeeded runs again: only `running` jobs are touched.
 */
export function recoverInterrupted(deps: RecoveryDeps): RecoveryReport {
  const { store, config, backends, scheduler } = deps;
  const report: RecoveryReport = { adopted: 0, requeued: 0, failed: 0, killed: 0 };
  const orphans: Orphan[] = [];
  const processes = jobProcesses(config.root);
  for (const job of store.listJobs({ status: 'running' })) {
    const backend = backends.get(job.backend);
    const record = readAttemptRecord(join(config.root, job.jobDir));
    let handle = store.handleOf(job.id);
    // A local attempt recorded but not its handle: the engine died right after the fork, or before it.
    if (handle === null && record !== null && record.launch.type === 'process' && config.backends[job.backend]?.type === 'local') {
      handle = foundHandle(processes.get(job.id) ?? []);
    }
    if (backend?.reattach && handle !== null && record !== null && record.attempt === job.attempt) {
      orphans.push({ job, handle, record, rule: deps.rules.get(job.ruleVersion) ?? null });
      continue;
    }
    const why = !backend
      ? `its backend "${job.backend}" is no longer configured`
      : !backend.reattach
        ? `backend "${job.backend}" cannot re-attach to it`
        : handle === null
          ? 'it had reported no handle to re-attach to (it had not started yet, or ran as a JavaScript function inside the engine)'
          : 'its attempt record (attempt.json) is missing';
    const queued = scheduler.interrupted(job, why);
    if (queued) report.requeued++;
    else report.failed++;
  }
  const adopted = new Set(orphans.map((o) => o.job.id));
  for (const [id, pids] of processes) {
    if (adopted.has(id)) continue;
    const job = store.getJob(id);
    if (!job || config.backends[job.backend]?.type !== 'local') continue;
    signalAll(pids, 'SIGKILL');
    report.killed += pids.length;
  }
  scheduler.adopt(orphans);
  report.adopted = orphans.length;
  if (report.adopted + report.requeued + report.failed + report.killed > 0) {
    deps.emit(
      'log',
      'warn',
      `the engine had stopped with jobs running: ${report.adopted} re-attached, ${report.requeued} queued again as a new attempt, ` +
        `${report.failed} failed (no retries left), ${report.killed} orphaned process(es) killed`,
    );
  }
  return report;
}
