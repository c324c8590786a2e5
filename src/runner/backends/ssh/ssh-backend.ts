import { constants } from 'node:os';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { errorMessage } from '../../../core/errors.js';
import { BASH_EXEC, LAUNCH_FILES, finishOutcome, resolveLaunch, writeLaunchFiles } from '../remote-launch.js';
import { bashQuote, commandFailure } from '../remote-exec.js';
import { SshConnection } from './ssh-connection.js';
import { parseSshOptions, type SshOptions } from './ssh-options.js';
import { sshGpuSource } from '../remote-errors.js';
import { SshPoller, type RemoteStatus } from './ssh-poller.js';
import { PathMap, REMOTE_CONTROL_DIR, SSH_SCRIPT, matchOutputs, outputDirs, removeTree, rewrittenJobFiles, stageList } from './ssh-stage.js';
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
 * Runs jobs on a host over SSH: the job dir, the recipes and the workspace
 * files a job names are staged with rsync to a mirror of the workspace under
 * the remote workdir (paths rewritten), the job runs there detached (setsid),
 * one batched ssh call per poll interval watches all jobs, and the logs and
 * declared outputs come back with rsync. Cancel kills the remote process group.
 */
export class SshBackend implements Backend {
  readonly name: string;
  private readonly options: SshOptions;
  private readonly optionErrors: string[];
  private readonly conn: SshConnection;
  private readonly poller: SshPoller;
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
    await writeFile(join(req.jobDir, SSH_SCRIPT), this.wrapper(req, remoteDir), { mode: 0o755 });

    const rewritten = this.options.sharedFs ? [] : await this.stage(req, map, jobRel);
    if (req.signal.aborted) throw new Error('cancelled');
    req.onStarted?.(`${HANDLE_PREFIX}${this.conn.where}`);

    const dirs = outputDirs(req.outputs, this.config.root).map((d) => bashQuote(map.remotePath(d)));
    const script = `set -e
${dirs.length ? `mkdir -p -- ${dirs.join(' ')}\n` : ''}cd -- ${bashQuote(remoteDir)}
rm -rf ${REMOTE_CONTROL_DIR}
setsid bash ./${SSH_SCRIPT} </dev/null >/dev/null 2>&1 &
for i in $(seq 1 600); do [ -s ${REMOTE_CONTROL_DIR}/pid ] && break; sleep 0.05; done
cat ${REMOTE_CONTROL_DIR}/pid
`;
    const r = await this.conn.exec(script, 60_000);
    const pid = Number.parseInt(r.stdout.trim(), 10);
    if (r.code !== 0 || !Number.isInteger(pid)) throw new Error(`backend ${this.name}: cannot start the job on ${this.conn.where}: ${commandFailure('ssh', [this.conn.where], r)}`);
    return { req, map, jobRel, remoteDir, pid, fn: launch.fn, rewritten, startedAt: Date.now() };
  }

  /** Copies the job to the mirror; returns the job dir files staged rewritten. */
  private async stage(req: RunRequest, map: PathMap, jobRel: string): Promise<string[]> {
    const files = await stageList(req, map, jobRel);
    const push = await this.conn.rsync(`${this.config.root}/`, `remote:${map.remote}/`, files);
    if (push.code !== 0) throw new Error(`backend ${this.name}: cannot copy the job to ${this.conn.where}: ${commandFailure('rsync', files, push)}`);
    const { tree, files: rewritten } = await rewrittenJobFiles(req.jobDir, jobRel, map);
    try {
      if (tree) {
        const over = await this.conn.rsync(`${tree}/`, `remote:${map.remote}/`, rewritten.map((f) => `${jobRel}/${f}`));
        if (over.code !== 0) throw new Error(`backend ${this.name}: cannot copy the job to ${this.conn.where}: ${commandFailure('rsync', rewritten, over)}`);
      }
    } finally {
      await removeTree(tree);
    }
    return rewritten;
  }

  /** The wrapper run on the host: records its pid, runs the command, records the exit status. */
  private wrapper(req: RunRequest, remoteDir: string): string {
    const c = REMOTE_CONTROL_DIR;
    return `#!/bin/bash
# meowflow job ${req.job.id}: run on ${this.conn.where.replace(/[\r\n]/g, ' ')} by the ssh backend "${this.name}",
# detached from the connection (setsid), so a dropped connection does not end it.
# The working directory, program, arguments and environment are in
# command.nul and env.nul (NUL-separated), so no value passes through a shell.
set -u
meow_dir=${bashQuote(remoteDir)}
cd -- "$meow_dir" || exit 1
mkdir -p ${c}
: > ${c}/started
echo "$$" > ${c}/pid.tmp && mv ${c}/pid.tmp ${c}/pid
${BASH_EXEC}
trap 'meow_stopping=1' TERM INT HUP
( meow_exec "$meow_dir" ) >> stdout.log 2>> stderr.log < /dev/null &
meow_child=$!
wait "$meow_child"; meow_status=$?
# A signal to the wrapper interrupts wait; wait again for the program's own status.
while kill -0 "$meow_child" 2>/dev/null; do wait "$meow_child"; meow_status=$?; done
echo "$meow_status" > ${c}/exit.tmp && mv ${c}/exit.tmp ${c}/exit
`;
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
    const { map, jobRel } = job;
    // On a shared filesystem everything is in place already.
    if (this.options.sharedFs) return rm(join(job.req.jobDir, REMOTE_CONTROL_DIR), { recursive: true, force: true });
    let outputs: string[] = [];
    if (job.req.outputs.length > 0) {
      const find = `cd -- ${bashQuote(map.remote)}
[ -f ${bashQuote(`${jobRel}/${REMOTE_CONTROL_DIR}/started`)} ] || exit 0
find . -path ./.meow -prune -o -type f -newer ${bashQuote(`${jobRel}/${REMOTE_CONTROL_DIR}/started`)} -print0
`;
      const r = await this.conn.exec(find, 120_000);
      if (r.code !== 0) throw new Error(`cannot list the job's outputs on ${this.conn.where}: ${commandFailure('find', [map.remote], r)}`);
      const changed = r.stdout.split('\0').filter((p) => p !== '').map((p) => p.replace(/^\.\//, ''));
      outputs = matchOutputs(job.req.outputs, this.config.root, changed);
    }
    // Files land under .meow first and are renamed into place, so the monitor never sees half a file.
    const tmp = join(this.config.root, '.meow', 'ssh-incoming');
    await mkdir(tmp, { recursive: true });
    const excludes = [`/${jobRel}/${REMOTE_CONTROL_DIR}/`, ...job.rewritten.map((f) => `/${jobRel}/${f}`)].map((p) => `--exclude=${p}`);
    const pull = await this.conn.rsync(`remote:${map.remote}/`, `${this.config.root}/`, [jobRel, ...outputs], [`--temp-dir=${tmp}`, ...excludes]);
    if (pull.code !== 0) throw new Error(`cannot bring the job's logs and outputs back from ${this.conn.where}: ${commandFailure('rsync', [jobRel], pull)}`);
    await this.conn.exec(`rm -rf -- ${bashQuote(job.remoteDir)}\n`, 60_000);
  }

  private closedNote(): string {
    return `backend ${this.name} was closed while the job ran on ${this.options.host}; it keeps running there`;
  }

  async close(): Promise<void> {
    this.closed = true;
    this.poller.close();
    for (const settle of [...this.waiting]) settle(failed(this.closedNote()));
    this.waiting.clear();
    await this.conn.close();
  }
}

function failed(error: string | null): BackendReport {
  return { exitCode: null, signal: null, timedOut: false, cancelled: false, error, result: null };
}

const SIGNAL_NAMES = new Map<number, string>(Object.entries(constants.signals).map(([name, n]) => [n, name]));
