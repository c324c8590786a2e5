import { constants } from 'node:os';
import { rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { errorMessage } from '../../../core/errors.js';
import { LAUNCH_FILES, finishOutcome, resolveLaunch, writeLaunchFiles } from '../remote-launch.js';
import { bashQuote, commandFailure } from '../remote-exec.js';
import { SshConnection } from './ssh-connection.js';
import { parseSshOptions, type SshOptions } from './ssh-options.js';
import { sshGpuSource } from '../remote-errors.js';
import { SshPoller, type RemoteStatus } from './ssh-poller.js';
import { PathMap, REMOTE_CONTROL_DIR, SSH_SCRIPT, matchOutputs, outputDirs, removeTree, rewrittenJobFiles, stageList, wrapperScript } from './ssh-stage.js';
import { Coalescer, collectScript, fetchRsync, stageRsync, findChangedScript, parseChanged, placeCollected, stagePrelude, startScript, startedPids, tooLarge, type StartItem } from './ssh-batch.js';
import type { Backend, Capacity, BackendReport, RunRequest } from '../../backend.js';
import type { BackendConfig, WorkspaceConfig } from '../../../core/types.js';

/**
 * Handles of SSH attempts: `ssh:<user@host:port>`, reported once the job is
 * staged and before it starts, so no moment exists where it runs unrecorded.
 * The remote pid is read back from the job's control files on re-attach.
 */
const HANDLE_PREFIX = 'ssh:';
/** After a kill, how long to wait for the host to confirm the end before giving up on it. */
const CANCEL_CONFIRM_MS = 60_000;
/** How long a re-attach keeps trying to reach the host. */
const REATTACH_PATIENCE_MS = 2 * 60_000;

/** A job ready to be staged and started, with what to copy. */
interface Staged extends StartItem {
  map: PathMap;
  jobRel: string;
  /** Workspace-relative files and directories to copy. */
  files: string[];
  /** The job dir's rewritten files (job-dir-relative) and the temporary tree holding them. */
  tree: string | null;
  rewritten: string[];
}

/** One attempt on the host. */
interface RemoteJob {
  req: RunRequest;
  map: PathMap;
  /** Workspace-relative job dir. */
  jobRel: string;
  /** The job dir on the host. */
  remoteDir: string;
  pid: number;
  fn: boolean;
  /** Job dir files staged rewritten: not brought back. */
  rewritten: string[];
  /** When the attempt started (for timeouts). */
  startedAt: number;
}

/**
 * Runs jobs on a host over SSH, every command in one persistent remote shell:
 * the job dir, the recipes and the workspace files a job names are staged to
 * a mirror of the workspace under the remote workdir (paths rewritten), the
 * job runs there detached (setsid), one batched check per poll interval
 * watches all jobs, and the logs and declared outputs come back. Jobs within
 * `batch_window` of each other share one staging-and-start request and one
 * collecting request (a tar archive; rsync when large). Cancel kills the
 * remote process group.
 */
export class SshBackend implements Backend {
  readonly name: string;
  private readonly options: SshOptions;
  private readonly optionErrors: string[];
  private readonly conn: SshConnection;
  private readonly poller: SshPoller;
  private readonly starts: Coalescer<Staged, number | Error>;
  private readonly collects: Coalescer<RemoteJob, Error | null>;
  private cap: Promise<Capacity> | null = null;
  private readonly waiting = new Set<(o: BackendReport) => void>();
  private closed = false;

  constructor(
    private readonly backend: BackendConfig,
    private readonly config: WorkspaceConfig,
    private readonly log: (message: string) => void = (m) => console.warn(m),
  ) {
    this.name = backend.name;
    const { options, errors } = parseSshOptions(backend);
    this.options = options;
    this.optionErrors = errors;
    this.conn = new SshConnection(options, backend.name, `${config.root}\0${backend.name}\0${options.user ?? ''}@${options.host}:${options.port ?? ''}`);
    this.poller = new SshPoller(this.conn, options.pollIntervalMs, (m) => this.log(`backend ${this.name}: ${m}`));
    this.starts = new Coalescer(options.batchWindowMs, (jobs) => this.startBatch(jobs));
    this.collects = new Coalescer(options.batchWindowMs, (jobs) => this.collectBatch(jobs));
  }

  /**
   * Job slots (`cpus:`, or the host's `nproc`) and the GPUs from meow.yaml:
   * the scheduler hands the GPU ids out, one job each.
   */
  capacity(): Promise<Capacity> {
    this.cap ??= (async (): Promise<Capacity> => {
      const gpus = { gpus: this.options.gpus, sources: { gpus: sshGpuSource(this.name, this.backend.options.gpus, this.options.gpus.length) } };
      if (this.options.cpus !== null) {
        return { cpus: this.options.cpus, memory: null, ...gpus, sources: { ...gpus.sources, cpus: `cpus: ${this.options.cpus} in meow.yaml`, memory: 'no limit' } };
      }
      try {
        const host = await this.connect();
        return { cpus: host.cpus, memory: null, ...gpus, sources: { ...gpus.sources, cpus: `nproc on ${this.options.host}`, memory: 'no limit' } };
      } catch (err) {
        this.log(`${errorMessage(err)}; backend ${this.name} runs one job at a time until the engine restarts (set "cpus:" for it in meow.yaml to not depend on the host at start)`);
        return { cpus: 1, memory: null, ...gpus, sources: { ...gpus.sources, cpus: `${this.options.host} unreachable at start`, memory: 'no limit' } };
      }
    })();
    return this.cap;
  }

  async run(req: RunRequest): Promise<BackendReport> {
    if (this.optionErrors.length > 0) return failed(this.optionErrors.join('\n'));
    if (this.closed) return failed(`backend ${this.name} is closed`);
    if (req.signal.aborted) return { ...failed(null), cancelled: true };
    let job: RemoteJob;
    try {
      job = await this.start(req);
    } catch (err) {
      if (req.signal.aborted) return { ...failed(null), cancelled: true };
      if (this.closed) return failed(this.closedNote());
      return failed(errorMessage(err));
    }
    return (await this.follow(job, false)) ?? failed(`the job's directory vanished from ${this.conn.where}`);
  }

  async reattach(req: RunRequest, handle: string): Promise<BackendReport | null> {
    if (!handle.startsWith(HANDLE_PREFIX) || this.closed || this.optionErrors.length > 0) return null;
    try {
      const map = await this.mappingPatiently(req.signal);
      if (map === null) return { ...failed(null), cancelled: true };
      const jobRel = relative(this.config.root, req.jobDir);
      // The same files as when it was staged: they are not brought back.
      const { tree, files } = this.options.sharedFs ? { tree: null, files: [] } : await rewrittenJobFiles(req.jobDir, jobRel, map);
      await removeTree(tree);
      const remoteDir = map.remotePath(jobRel);
      const pid = await this.remotePid(remoteDir);
      if (pid === null) return null;
      // A re-attach request's timeout is what is left of it, from now.
      const job: RemoteJob = { req, map, jobRel, remoteDir, pid, fn: req.launch.type === 'function', rewritten: files, startedAt: Date.now() };
      return await this.follow(job, true);
    } catch (err) {
      // Not "gone": the job may well run on there. Failing it (retries apply) beats running it twice unknowingly.
      return failed(`cannot re-attach to the job on ${this.conn.where} (${handle}) after a restart: ${errorMessage(err)}`);
    }
  }

  /**
   * The pid a job's wrapper recorded on the host, waiting a moment for one
   * being started; null when the job never started (its staged copy is then
   * removed, so a start still in flight finds nothing to run).
   */
  private async remotePid(remoteDir: string): Promise<number | null> {
    const c = REMOTE_CONTROL_DIR;
    const abandon = this.options.sharedFs ? '' : ` cd / && rm -rf -- ${bashQuote(remoteDir)};`;
    const r = await this.conn.exec(`cd -- ${bashQuote(remoteDir)} 2>/dev/null || { echo missing; exit 0; }
for i in $(seq 1 100); do [ -s ${c}/pid ] && break; sleep 0.05; done
if [ -s ${c}/pid ]; then echo "pid $(cat ${c}/pid)"; else echo none;${abandon} fi
`, 60_000);
    if (r.code !== 0) throw new Error(commandFailure('ssh', [this.conn.where], r));
    const pid = /^pid (\d+)$/m.exec(r.stdout)?.[1];
    return pid ? Number(pid) : null;
  }

  /**
   * The mapping for a re-attach: an engine restarting may find the host
   * briefly unreachable, and a job there must not be run twice because of
   * that, so connecting is retried for a while. Null when cancelled meanwhile.
   */
  private async mappingPatiently(signal: AbortSignal): Promise<PathMap | null> {
    const deadline = Date.now() + REATTACH_PATIENCE_MS;
    for (;;) {
      try {
        return await this.mapping();
      } catch (err) {
        if (Date.now() > deadline || this.closed) throw err;
      }
      await new Promise((r) => setTimeout(r, 5000));
      if (signal.aborted) return null;
    }
  }

  private connect() {
    return this.options.sharedFs ? this.conn.connect(this.config.root, true) : this.conn.connect(this.options.workdir);
  }

  /** The workspace's mirror on the host (connecting first); the workspace itself with `shared_fs`. */
  private async mapping(): Promise<PathMap> {
    const { workdir } = await this.connect();
    if (this.options.sharedFs) return new PathMap(this.config.root, this.config.root);
    const map = PathMap.for(this.config.root, workdir);
    if (map.toRemote(map.remote) !== map.remote) {
      throw new Error(`backend ${this.name}: the remote workdir ${workdir} is inside the workspace ${this.config.root}; choose a "workdir:" outside it in meow.yaml`);
    }
    return map;
  }

  /** Stages the attempt and starts it, detached, on the host. */
  private async start(req: RunRequest): Promise<RemoteJob> {
    const map = await this.mapping();
    const jobRel = relative(this.config.root, req.jobDir);
    if (map.relativeOf(req.jobDir) === null) throw new Error(`backend ${this.name}: the job dir ${req.jobDir} is not inside the workspace`);
    const remoteDir = map.remotePath(jobRel);
    const launch = await resolveLaunch(req, this.config.root, this.options.node, (v) => map.toRemote(v));
    // The scheduler hands the host's GPUs out exclusively; a job asking none sees none.
    if (this.options.gpus.length > 0 || req.gpus.length > 0) launch.env.CUDA_VISIBLE_DEVICES = req.gpus.join(',');
    await writeLaunchFiles(req.jobDir, launch);
    await Promise.all([LAUNCH_FILES.launchError, LAUNCH_FILES.fnReply].map((f) => rm(join(req.jobDir, f), { force: true })));
    await writeFile(join(req.jobDir, SSH_SCRIPT), wrapperScript(req.job.id, this.conn.where, this.name, remoteDir), { mode: 0o755 });

    const staged = this.options.sharedFs ? { files: [], tree: null, rewritten: [] } : await this.prepareStage(req, map, jobRel);
    if (req.signal.aborted) {
      await removeTree(staged.tree);
      throw new Error('cancelled');
    }
    // Recorded before the start: a restart looks for the job on the host rather than running it twice.
    req.onStarted?.(`${HANDLE_PREFIX}${this.conn.where}`);
    const pid = await this.starts.add({ map, jobRel, remoteDir, outputDirs: outputDirs(req.outputs, this.config.root).map((d) => map.remotePath(d)), ...staged });
    if (pid instanceof Error) throw pid;
    return { req, map, jobRel, remoteDir, pid, fn: launch.fn, rewritten: staged.rewritten, startedAt: Date.now() };
  }

  /** What a job stages: workspace files, and its job dir files rewritten for the host in a temporary tree. */
  private async prepareStage(req: RunRequest, map: PathMap, jobRel: string): Promise<Omit<Staged, 'map' | 'jobRel' | 'remoteDir' | 'outputDirs'>> {
    const files = await stageList(req, map, jobRel);
    const { tree, files: rewritten } = await rewrittenJobFiles(req.jobDir, jobRel, map);
    return { files, tree, rewritten };
  }

  /**
   * Stages and starts a batch of jobs in one request on the session (rsync
   * for a batch too large to travel inline); the pid of each, or why not.
   */
  private async startBatch(jobs: Staged[]): Promise<(number | Error)[]> {
    try {
      let prelude = '';
      if (!this.options.sharedFs) {
        const inline = await stagePrelude(this.config.root, jobs[0].map.remote, jobs);
        if (inline === null) for (const j of jobs) await stageRsync(this.conn, this.name, this.config.root, j);
        prelude = inline ?? '';
      }
      const r = await this.conn.exec(startScript(prelude, jobs), 120_000);
      const pids = startedPids(r, jobs.length);
      const why = `backend ${this.name}: cannot start the job on ${this.conn.where}: ${commandFailure('ssh', [this.conn.where], r)}`;
      return pids.map((pid) => (r.code === 0 && pid !== null ? pid : new Error(why)));
    } catch (err) {
      return jobs.map(() => (err instanceof Error ? err : new Error(String(err))));
    } finally {
      await Promise.all(jobs.map((j) => removeTree(j.tree)));
    }
  }

  /** Waits for a started attempt's end (cancel and timeout kill its process group), then fetches. */
  private follow(job: RemoteJob, reattaching: boolean): Promise<BackendReport | null> {
    const { req } = job;
    // Closed while the attempt was being started: it runs on, re-attached at the next start.
    if (this.closed) return Promise.resolve(failed(this.closedNote()));
    return new Promise<BackendReport | null>((resolve) => {
      let cancelled = false;
      let timedOut = false;
      let seen = false;
      let stopAt: number | null = null;
      let killed = false;
      let settled = false;
      const timers: NodeJS.Timeout[] = [];
      const settle = (o: BackendReport | null, fetch: boolean) => {
        if (settled) return;
        settled = true;
        unwatch();
        for (const t of timers) clearTimeout(t);
        req.signal.removeEventListener('abort', onAbort);
        this.waiting.delete(onClose);
        if (o === null || !fetch) resolve(o);
        else void this.finish(job, o).then(resolve);
      };
      const signal = (sig: 'TERM' | 'KILL') => {
        const p = job.pid;
        void this.conn.exec(`kill -s ${sig} -- -${p} 2>/dev/null || kill -s ${sig} ${p} 2>/dev/null || true\n`, 30_000).then(() => this.poller.pollSoon());
      };
      const stop = () => {
        if (stopAt !== null) return;
        stopAt = Date.now();
        signal('TERM');
        timers.push(setTimeout(() => ((killed = true), signal('KILL')), this.config.killGraceMs));
        timers.push(setTimeout(() => settle({ ...failed(null), cancelled, timedOut, signal: 'SIGKILL' }, false), CANCEL_CONFIRM_MS));
      };
      const onAbort = () => {
        cancelled = true;
        stop();
      };
      const onClose = (o: BackendReport) => settle(o, false);
      const unwatch = this.poller.watch(job.remoteDir, job.pid, (s: RemoteStatus) => {
        switch (s.kind) {
          case 'running':
            seen = true;
            // The kill may have been lost with a dropped connection: say it again.
            if (stopAt !== null && killed && Date.now() - stopAt > this.config.killGraceMs + 5000) signal('KILL');
            return;
          case 'exit': {
            const bySignal = (cancelled || timedOut) && s.status > 128 ? (SIGNAL_NAMES.get(s.status - 128) ?? null) : null;
            settle({ ...failed(null), exitCode: bySignal ? null : s.status, signal: bySignal, cancelled, timedOut }, true);
            return;
          }
          case 'gone':
            if (cancelled || timedOut) settle({ ...failed(null), cancelled, timedOut, signal: 'SIGKILL' }, true);
            else settle(failed(`the job's process on ${this.conn.where} ended without recording an exit status (killed from outside, or the host rebooted)`), true);
            return;
          case 'missing':
            settle(reattaching && !seen ? null : failed(`the job's directory ${job.remoteDir} vanished from ${this.conn.where}`), false);
            return;
          case 'unreachable':
            settle(failed(`lost contact with ${this.conn.where} since ${new Date(s.since).toISOString()}; the job may still run there (remote pid ${job.pid})`), false);
            return;
          default: {
            const never: never = s;
            throw new Error(`unknown remote status ${String(never)}`);
          }
        }
      });
      if (req.timeoutMs !== null) {
        const left = req.timeoutMs - (Date.now() - job.startedAt);
        timers.push(setTimeout(() => ((timedOut = true), stop()), Math.max(0, left)));
      }
      this.waiting.add(onClose);
      req.signal.addEventListener('abort', onAbort, { once: true });
      if (req.signal.aborted) onAbort();
    });
  }

  /** Brings the logs, the job dir's new files and the declared outputs back; completes the outcome. */
  private async finish(job: RemoteJob, outcome: BackendReport): Promise<BackendReport> {
    let error: string | null = null;
    try {
      await this.fetch(job);
    } catch (err) {
      error = errorMessage(err);
    }
    const o = await finishOutcome(job.req.jobDir, { fn: job.fn }, outcome).catch(() => outcome);
    if (error !== null && !o.cancelled && o.error === null) return { ...o, error };
    if (error !== null) this.log(`backend ${this.name}: job ${job.req.job.id}: ${error}`);
    return o;
  }

  private async fetch(job: RemoteJob): Promise<void> {
    // On a shared filesystem everything is in place already.
    if (this.options.sharedFs) return rm(join(job.req.jobDir, REMOTE_CONTROL_DIR), { recursive: true, force: true });
    const err = await this.collects.add(job);
    if (err) throw err;
  }

  /** The declared outputs each job created or changed on the host (one request for all of them). */
  private async changedOutputs(jobs: RemoteJob[]): Promise<string[][]> {
    if (jobs.every((j) => j.req.outputs.length === 0)) return jobs.map(() => []);
    const r = await this.conn.exec(findChangedScript(jobs[0].map.remote, jobs.map((j) => (j.req.outputs.length > 0 ? j.jobRel : null))), 120_000);
    if (r.code !== 0) throw new Error(`cannot list the job's outputs on ${this.conn.where}: ${commandFailure('find', [jobs[0].map.remote], r)}`);
    const changed = parseChanged(r.stdout, jobs.length);
    return jobs.map((j, i) => matchOutputs(j.req.outputs, this.config.root, changed[i]));
  }

  /** Brings a batch of finished jobs back in one archive (rsync when too large), then removes them from the host. */
  private async collectBatch(jobs: RemoteJob[]): Promise<(Error | null)[]> {
    try {
      const outputs = await this.changedOutputs(jobs);
      const paths = [...new Set(jobs.flatMap((j, i) => [j.jobRel, ...outputs[i]]))];
      const r = await this.conn.exec(collectScript(jobs[0].map.remote, paths), 300_000);
      if (tooLarge(r)) {
        for (const [i, j] of jobs.entries()) await fetchRsync(this.conn, this.config.root, j, outputs[i]);
      } else if (r.code !== 0) {
        throw new Error(`cannot bring the job's logs and outputs back from ${this.conn.where}: ${commandFailure('tar', paths, r)}`);
      } else {
        const skip = new Set(jobs.flatMap((j) => j.rewritten.map((f) => `${j.jobRel}/${f}`)));
        await placeCollected(this.config.root, r.bytes, skip, jobs.map((j) => j.jobRel));
      }
      await this.conn.exec(`rm -rf -- ${jobs.map((j) => bashQuote(j.remoteDir)).join(' ')}\n`, 60_000);
      return jobs.map(() => null);
    } catch (err) {
      return jobs.map(() => (err instanceof Error ? err : new Error(String(err))));
    }
  }

  private closedNote(): string {
    return `backend ${this.name} was closed while the job ran on ${this.options.host}; it keeps running there`;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.poller.close();
    await Promise.all([this.starts.flush(), this.collects.flush()]);
    for (const settle of [...this.waiting]) settle(failed(this.closedNote()));
    this.waiting.clear();
    await this.conn.close();
  }
}

function failed(error: string | null): BackendReport {
  return { exitCode: null, signal: null, timedOut: false, cancelled: false, error, result: null };
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));
