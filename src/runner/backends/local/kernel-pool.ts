import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { packageFile } from '../../../core/package-root.js';
import { errorMessage } from '../../../core/errors.js';
import { runsOnSameInterpreter } from '../../notebook-params/kernels.js';
import { isNotebook } from '../../notebook-params/notebook-json.js';
import type { Rule } from '../../../core/types.js';

/*
 * Warm kernels. A kernel pool (`runtime/kernel_pool.py`) is one Python
 * process per interpreter that keeps `warm_kernels` python3 kernels started
 * and idle. A notebook job still runs as its own process (`nb_runner.py`
 * under the exit-status wrapper, so its exit status, cancel, timeout and
 * re-attach after a restart are those of any local job); told the pool's
 * socket by `MEOW_KERNEL_POOL`, it has the pool run the notebook on a kernel
 * that ran nothing else, which is shut down after the job and replaced in the
 * background. With no pool answering, it starts a kernel of its own.
 *
 * The pool never outlives the engine by more than the jobs it is running:
 * the engine's close stops it (SIGTERM); when the engine dies, its stdin
 * closes and its parent changes, and it exits once the jobs it runs have
 * ended. Its kernels die with it.
 */

/** How long `close()` waits for a pool to stop after SIGTERM, before SIGKILL. */
const STOP_WAIT_MS = 5000;
/** Unix socket paths longer than this do not fit `sockaddr_un` on every system. */
const MAX_SOCKET_PATH = 100;

let driver: string | undefined;

function poolDriver(): string {
  if (driver) return driver;
  const found = packageFile(join('runtime', 'kernel_pool.py'));
  if (!found) throw new Error('runtime/kernel_pool.py not found; the meowflow installation is incomplete, reinstall it');
  return (driver = found);
}

let serial = 0;

/** A socket path for a new pool: in the workspace's `.meow/`, or the temp dir when that path is too long. */
function socketPathFor(root: string): string {
  const name = `kernels-${process.pid}-${++serial}.sock`;
  const inside = join(root, '.meow', name);
  return Buffer.byteLength(inside) <= MAX_SOCKET_PATH ? inside : join(tmpdir(), `meow-${name}`);
}

/** One running pool process: its interpreter's python3 kernels. */
export class KernelPool {
  readonly socket: string;
  private readonly child: ChildProcess;
  private readonly exited: Promise<void>;
  private gone = false;
  private listening = false;

  constructor(
    readonly python: string,
    size: number,
    root: string,
    log: (message: string) => void,
  ) {
    this.socket = socketPathFor(root);
    // Its own process group: a Ctrl-C at the terminal is the engine's to handle, not the pool's.
    this.child = spawn(python, [poolDriver(), this.socket, '--size', String(size), '--cwd', root], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
      detached: true,
    });
    this.exited = new Promise((resolve) => {
      this.child.once('close', () => {
        this.gone = true;
        resolve();
      });
      this.child.once('error', (err) => {
        log(`warm kernels for ${python} did not start: ${errorMessage(err)}; notebook jobs start kernels of their own`);
      });
    });
    this.child.stdin?.on('error', () => undefined);
    // "listening": the socket exists; jobs launched before that start kernels of their own.
    this.child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
      if (chunk.includes('listening')) this.listening = true;
    });
    let partial = '';
    this.child.stderr?.setEncoding('utf8').on('data', (chunk: string) => {
      const lines = (partial + chunk).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) if (line.trim()) log(line);
    });
  }

  /** The pool's process id (its process group's too). */
  get pid(): number | undefined {
    return this.child.pid;
  }

  /** Whether the process is still there. */
  get alive(): boolean {
    return !this.gone;
  }

  /** Whether it takes jobs: running, and its socket listens. */
  get ready(): boolean {
    return this.listening && !this.gone;
  }

  /**
   * Stops the pool now: SIGTERM (its idle kernels are shut down, a job still
   * on it is cancelled: the backend closes after its jobs ended), then
   * SIGKILL to its group if it lingers.
   */
  async close(): Promise<void> {
    this.child.stdin?.end();
    for (const signal of ['SIGTERM', 'SIGKILL'] as const) {
      if (this.gone) return;
      try {
        if (this.child.pid !== undefined) process.kill(-this.child.pid, signal);
      } catch {
        // gone meanwhile
      }
      let timer: NodeJS.Timeout | undefined;
      const waited = await Promise.race([this.exited.then(() => true), new Promise<boolean>((r) => (timer = setTimeout(() => r(false), STOP_WAIT_MS)))]);
      clearTimeout(timer);
      if (waited) return;
    }
    await this.exited;
  }
}

/** Whether a rule runs a notebook whose kernel is the interpreter's own python3 (the kernels a pool holds). */
export function runsWarmNotebook(rule: Rule): boolean {
  if (rule.recipe.kind !== 'notebook') return false;
  try {
    const nb: unknown = JSON.parse(rule.recipe.source);
    return isNotebook(nb) && runsOnSameInterpreter(nb);
  } catch {
    return false;
  }
}

/**
 * The pools of one backend, one per interpreter, each of `size` idle kernels
 * (0: none; every notebook job starts its own kernel). Owns the processes:
 * call `close()`.
 */
export class KernelPools {
  private readonly pools = new Map<string, KernelPool>();
  private closed = false;

  constructor(
    private readonly size: number,
    private readonly root: string,
    private readonly log: (message: string) => void,
  ) {}

  /** Keeps a pool for each interpreter in `pythons` and stops the others. */
  want(pythons: ReadonlySet<string>): void {
    if (this.closed || this.size === 0) return;
    for (const [python, pool] of this.pools) {
      if (!pythons.has(python) || !pool.alive) {
        this.pools.delete(python);
        void pool.close();
      }
    }
    for (const python of pythons) {
      if (!this.pools.has(python)) this.pools.set(python, new KernelPool(python, this.size, this.root, this.log));
    }
  }

  /**
   * The socket of the running pool for `python`, or null. A pool that died
   * is started again for the jobs after this one.
   */
  socketFor(python: string): string | null {
    const pool = this.pools.get(python);
    if (!pool || pool.alive) return pool?.ready ? pool.socket : null;
    if (!this.closed) this.pools.set(python, new KernelPool(python, this.size, this.root, this.log));
    return null;
  }

  /** The running pools (for tests and `meow status`-like reports). */
  get running(): KernelPool[] {
    return [...this.pools.values()].filter((p) => p.alive);
  }

  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.all(all.map((p) => p.close()));
  }
}
