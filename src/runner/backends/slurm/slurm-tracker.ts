/**
 * Watches Slurm jobs: one `squeue` call per poll interval for every tracked
 * job, and for jobs that left the queue one batched look-up of their final
 * state in `sacct`, falling back to the job completion log (`sacct -c`) and
 * the controller's memory (`scontrol show job`) when accounting storage is
 * off. A job array's task is tracked by its own id, `ARRAYID_TASK`.
 */
import { BatchPoll } from '../batch-poll.js';
import { commandFailure, runCommand } from '../remote-exec.js';

/*
 * A tracked job's states, as the tracker reports them:
 *
 *   pending ──► running ──► final
 *      │           │
 *      └───────────┴──────► lost   (known nowhere for several polls)
 */

/** Still in the queue. */
export interface SlurmActive {
  kind: 'pending' | 'running';
  /** Slurm's state word (PENDING, RUNNING, COMPLETING, …). */
  state: string;
  /** Run time so far (squeue %M); null when not known. */
  elapsedMs: number | null;
  /** Why it waits (squeue %r). */
  reason: string;
}

/** Ended, with Slurm's final word on it. */
export interface SlurmFinal {
  kind: 'final';
  /** COMPLETED, FAILED, CANCELLED, TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, … */
  state: string;
  /** The batch script's exit code. */
  exitCode: number | null;
  /** The signal number that ended it, or 0. */
  signal: number;
  /** Which tool knew it: sacct, sacct -c or scontrol. */
  source: string;
}

/** Known to none of squeue, sacct, sacct -c and scontrol. */
export interface SlurmLost {
  kind: 'lost';
}

export type SlurmStatus = SlurmActive | SlurmFinal | SlurmLost;

const PENDING = new Set(['PENDING', 'CONFIGURING', 'REQUEUED', 'REQUEUE_HOLD', 'REQUEUE_FED', 'RESV_DEL_HOLD', 'SPECIAL_EXIT']);
const RUNNING = new Set(['RUNNING', 'COMPLETING', 'SIGNALING', 'STAGE_OUT', 'SUSPENDED', 'RESIZING', 'STOPPED']);
/** States a job never leaves. */
export const FINAL_STATES = new Set([
  'BOOT_FAIL',
  'CANCELLED',
  'COMPLETED',
  'DEADLINE',
  'FAILED',
  'NODE_FAIL',
  'OUT_OF_MEMORY',
  'PREEMPTED',
  'TIMEOUT',
  'REVOKED',
]);
/** A job known nowhere this many polls in a row (and for this long) is lost. */
const LOST_AFTER_POLLS = 5;
const LOST_AFTER_MS = 10_000;
/** squeue -j takes a comma-separated list; keep each call's argv modest. */
const IDS_PER_CALL = 1000;

type Listener = (status: SlurmStatus) => void;

interface Tracked {
  listeners: Set<Listener>;
  misses: number;
  firstMiss: number | null;
}

/** Batched polling of Slurm job states. */
export class SlurmTracker extends BatchPoll {
  private readonly jobs = new Map<string, Tracked>();
  /** Set once `sacct` says accounting storage is disabled: go straight to the fallbacks. */
  private accountingOff = false;
  private lastError: string | null = null;

  constructor(
    pollIntervalMs: number,
    /** Told when Slurm's tools fail (once per streak of failures). */
    private readonly onError: (message: string) => void = () => undefined,
  ) {
    super(pollIntervalMs);
  }

  /** Reports each poll's status of a job until the returned function is called. */
  watch(id: string, listener: Listener): () => void {
    let t = this.jobs.get(id);
    if (!t) this.jobs.set(id, (t = { listeners: new Set(), misses: 0, firstMiss: null }));
    t.listeners.add(listener);
    this.watching();
    return () => {
      const cur = this.jobs.get(id);
      if (!cur) return;
      cur.listeners.delete(listener);
      if (cur.listeners.size === 0) this.jobs.delete(id);
    };
  }

  override close(): void {
    super.close();
    this.jobs.clear();
  }

  protected get watchedCount(): number {
    return this.jobs.size;
  }

  protected pollFailed(err: unknown): void {
    this.report(err instanceof Error ? err.message : String(err));
  }

  protected async pollOnce(): Promise<void> {
    const ids = [...this.jobs.keys()];
    const queued = new Map<string, SlurmActive | { kind: 'ended'; state: string }>();
    for (let i = 0; i < ids.length; i += IDS_PER_CALL) {
      const chunk = ids.slice(i, i + IDS_PER_CALL);
      // -r: one line per array task, pending ones included.
      const args = ['-h', '-r', '-t', 'all', '-j', chunk.join(','), '-o', '%i|%T|%M|%r'];
      const r = await runCommand('squeue', args, { timeoutMs: 60_000 });
      if (r.code !== 0 && !/invalid job id/i.test(r.stderr)) {
        // The controller may be restarting: keep every job and try again next time.
        this.report(`cannot check the jobs' states: ${commandFailure('squeue', args, r)}`);
        return;
      }
      for (const line of r.stdout.split('\n')) {
        const [id, state, elapsed, reason] = line.trim().split('|');
        if (!id || !state) continue;
        const word = state.split(/[\s+]/)[0];
        if (FINAL_STATES.has(word)) queued.set(id, { kind: 'ended', state: word });
        else queued.set(id, { kind: RUNNING.has(word) ? 'running' : 'pending', state: word, elapsedMs: parseElapsed(elapsed ?? ''), reason: reason ?? '' });
      }
    }
    this.lastError = null;
    const needFinal: string[] = [];
    for (const id of ids) {
      const s = queued.get(id);
      if (s && s.kind !== 'ended') this.tell(id, PENDING.has(s.state) || s.kind === 'pending' ? { ...s, kind: 'pending' } : s);
      else needFinal.push(id);
    }
    if (needFinal.length === 0) return;
    const finals = await this.finalStates(needFinal);
    const now = Date.now();
    for (const id of needFinal) {
      const f = finals.get(id);
      const t = this.jobs.get(id);
      if (f) {
        this.tell(id, f);
        continue;
      }
      if (!t) continue;
      // A job that just ended may take a moment to reach the completion records.
      t.misses++;
      t.firstMiss ??= now;
      if (t.misses >= LOST_AFTER_POLLS && now - t.firstMiss >= LOST_AFTER_MS) this.tell(id, { kind: 'lost' });
    }
  }

  private tell(id: string, status: SlurmStatus): void {
    const t = this.jobs.get(id);
    if (!t) return;
    if (status.kind !== 'lost') {
      t.misses = 0;
      t.firstMiss = null;
    }
    for (const l of [...t.listeners]) l(status);
  }

  private report(message: string): void {
    if (this.lastError === message) return;
    this.lastError = message;
    this.onError(message);
  }

  /** Final states of jobs no longer in the queue: sacct, then sacct -c, then scontrol. */
  private async finalStates(ids: string[]): Promise<Map<string, SlurmFinal>> {
    const found = new Map<string, SlurmFinal>();
    const missing = () => ids.filter((id) => !found.has(id));
    if (!this.accountingOff) {
      // JobID names an array task as ARRAYID_TASK; JobIDRaw its own number.
      const args = ['-X', '-P', '-n', '-j', ids.join(','), '-o', 'JobID,State,ExitCode'];
      const r = await runCommand('sacct', args, { timeoutMs: 60_000 });
      if (r.code === 0) parseSacct(r.stdout, 'sacct', found);
      else if (/accounting storage is disabled|slurmdbd|accounting_storage\/none/i.test(r.stderr)) this.accountingOff = true;
    }
    // The completion log does not know array tasks by their task ids.
    const plain = () => missing().filter((id) => !id.includes('_'));
    if (plain().length > 0) {
      const args = ['-c', '-P', '-n', '-j', plain().join(','), '-o', 'JobID,State,ExitCode'];
      const r = await runCommand('sacct', args, { timeoutMs: 60_000 });
      if (r.code === 0) parseSacct(r.stdout, 'sacct -c', found);
    }
    if (missing().length > 0) {
      // Without an id, scontrol lists every job the controller still remembers: one call for all.
      const r = await runCommand('scontrol', ['-o', 'show', 'job'], { timeoutMs: 60_000 });
      if (r.code === 0) parseScontrol(r.stdout, new Set(missing()), found);
    }
    return found;
  }
}

/** `[days-][hours:]minutes:seconds` in milliseconds; null for anything else. */
export function parseElapsed(text: string): number | null {
  const m = /^(?:(\d+)-)?(?:(\d+):)?(\d+):(\d+)$/.exec(text.trim());
  if (!m) return null;
  const [, d, h, min, s] = m;
  return (((Number(d ?? 0) * 24 + Number(h ?? 0)) * 60 + Number(min)) * 60 + Number(s)) * 1000;
}

/** `exit:signal` (sacct, scontrol). */
function parseExit(text: string): { exitCode: number | null; signal: number } {
  const m = /^(\d+):(\d+)$/.exec(text.trim());
  return m ? { exitCode: Number(m[1]), signal: Number(m[2]) } : { exitCode: null, signal: 0 };
}

function parseSacct(stdout: string, source: string, into: Map<string, SlurmFinal>): void {
  for (const line of stdout.split('\n')) {
    const [id, state, exit] = line.trim().split('|');
    if (!id || !state || id.includes('.')) continue;
    const word = state.split(/\s+/)[0]; // "CANCELLED by 0"
    if (!FINAL_STATES.has(word)) continue; // accounting may lag behind the controller
    into.set(id, { kind: 'final', state: word, ...parseExit(exit ?? ''), source });
  }
}

function parseScontrol(stdout: string, want: Set<string>, into: Map<string, SlurmFinal>): void {
  for (const line of stdout.split('\n')) {
    const raw = /(?:^|\s)JobId=(\d+)/.exec(line)?.[1];
    const task = /(?:^|\s)ArrayJobId=(\d+) ArrayTaskId=(\d+)(?:\s|$)/.exec(line);
    const id = task && want.has(`${task[1]}_${task[2]}`) ? `${task[1]}_${task[2]}` : raw;
    if (!id || !want.has(id)) continue;
    const state = /(?:^|\s)JobState=(\S+)/.exec(line)?.[1] ?? '';
    if (!FINAL_STATES.has(state)) continue;
    into.set(id, { kind: 'final', state, ...parseExit(/(?:^|\s)ExitCode=(\S+)/.exec(line)?.[1] ?? ''), source: 'scontrol' });
  }
}
