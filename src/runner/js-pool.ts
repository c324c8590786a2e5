import { existsSync } from 'node:fs';
import { ExactNumber, exactFromParsed, toJsValue, type JsValue } from '../core/exact-number.js';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { packageFile } from '../core/package-root.js';
import { randomUUID } from 'node:crypto';
import { BroadcastChannel } from 'node:worker_threads';
import { workerStarted } from '../core/heap.js';
import { Piscina } from 'piscina';
import type { Variables, VarValue } from '../core/types.js';
import { MeowError, errorMessage } from '../core/errors.js';
import type { WorkerData, WorkerReply, WorkerTask } from './js-worker.js';

/** Options of a {@link JsPool}. */
export interface JsPoolOptions {
  /** Worker threads at most; JavaScript jobs beyond it wait in the pool's queue. */
  maxThreads: number;
  /** Milliseconds a cancelled function may take to honour its signal before its thread is terminated. */
  graceMs: number;
  /**
   * The compiled worker module. @default `js-worker.js` beside this module, or
   * `dist/src/runner/js-worker.js` above it when running from the TypeScript sources.
   */
  workerFile?: string | URL;
  /** Milliseconds an idle thread lives. @default 30000 */
  idleTimeoutMs?: number;
}

/** Where a job runs, as the recipe function's context reports it. */
export interface JsJobContext {
  jobId: string;
  /** Absolute job directory; ctx.log appends to stdout.log / stderr.log there. */
  jobDir: string;
  /** Absolute workspace root. */
  workspace: string;
  /** Cancels the job: the function's ctx.signal aborts, and after `graceMs` its thread is terminated. */
  signal: AbortSignal;
}

/** The inverse of `toJsValue` for a JavaScript recipe's result: a `bigint` becomes an exact int (a plain number when safe). */
function fromJsValue(v: unknown): VarValue {
  if (typeof v === 'bigint') return exactFromParsed(v, false);
  if (Array.isArray(v)) return v.map(fromJsValue);
  if (v !== null && typeof v === 'object' && !(v instanceof ExactNumber)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, fromJsValue(x)]));
  return v as VarValue;
}

/** The outcome of one JavaScript job. */
export type JsRunOutcome = { ok: true; result: VarValue | null } | { ok: false; error: string };

function findWorker(explicit: string | URL | undefined): string {
  if (explicit !== undefined) return explicit instanceof URL ? explicit.href : pathToFileURL(explicit).href;
  const sibling = new URL('./js-worker.js', import.meta.url);
  if (existsSync(sibling)) return sibling.href;
  // From the .ts sources (vitest), the worker must still be compiled JavaScript: use the build.
  const built = packageFile(join('dist', 'src', 'runner', 'js-worker.js'));
  if (built) return pathToFileURL(built).href;
  throw new MeowError('MEOW_NOT_FOUND', `js-worker.js not found beside ${fileURLToPath(import.meta.url)} or under dist/; run "npm run build"`);
}

/**
 * A pool of worker threads running JavaScript recipes
 * (`export default async function (vars, ctx)`), no subprocess per job.
 * Owns threads: call {@link JsPool.close}.
 */
export class JsPool {
  readonly #pool: Piscina<WorkerTask, WorkerReply>;
  readonly #graceMs: number;
  /** Cancels reach the threads here (one channel for the pool, not a port per task): a message is a task's abort key. */
  readonly #abort: BroadcastChannel;
  #nextKey = 0;
  #closed = false;

  constructor(opts: JsPoolOptions) {
    this.#graceMs = opts.graceMs;
    const workerData: WorkerData = { abortChannel: `meow-js-abort-${randomUUID()}` };
    this.#abort = new BroadcastChannel(workerData.abortChannel);
    this.#abort.unref();
    this.#pool = new Piscina<WorkerTask, WorkerReply>({
      workerData,
      filename: findWorker(opts.workerFile),
      maxThreads: Math.max(1, opts.maxThreads),
      // Threads start on demand: an engine with no JavaScript recipes holds none.
      minThreads: 0,
      idleTimeout: opts.idleTimeoutMs ?? 30_000,
      // A thread's young generation at 8 MiB, not V8's 32 (3 × 16 MiB semi-spaces, each thread its own): ~12 MiB
      // less resident per thread after a burst of small jobs; the old generation, where a recipe's data lives, is unbounded.
      resourceLimits: { maxYoungGenerationSizeMb: 8 },
    });
    this.#pool.on('workerCreate', workerStarted);
  }

  /**
   * Runs the default export of `modulePath` with `variables`. Never rejects:
   * a thrown error, a crashed thread or a cancellation comes back as
   * `{ok: false, error}` (message and stack).
   *
   * @param version the recipe's content hash; a new version is imported afresh.
   */
  async run(modulePath: string, version: string, variables: Variables, ctx: JsJobContext): Promise<JsRunOutcome> {
    if (this.#closed) return { ok: false, error: 'the JavaScript worker pool is closed (the engine is stopping)' };
    if (ctx.signal.aborted) return { ok: false, error: `job ${ctx.jobId} was cancelled before it started` };
    // A thread of the pool may be starting, its heap set-up putting the engine's young-generation cap back,
    // while the burst that started it goes on (a few µs; see core/heap.ts).
    workerStarted();
    // The channel tells a running function to stop; piscina's own signal then terminates its thread.
    const abortKey = ++this.#nextKey;
    const terminate = new AbortController();
    let timer: NodeJS.Timeout | undefined;
    const onAbort = (): void => {
      this.#abort.postMessage(abortKey);
      timer = setTimeout(() => terminate.abort(), this.#graceMs);
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    try {
      const task: WorkerTask = {
        modulePath,
        version,
        variables: toJsValue(variables) as Record<string, JsValue>,
        jobId: ctx.jobId,
        jobDir: ctx.jobDir,
        workspace: ctx.workspace,
        abortKey,
      };
      const reply = (await this.#pool.run(task, { signal: terminate.signal })) as WorkerReply;
      // A bigint the recipe returned becomes an exact int, as YAML's large ints are.
      return reply.ok ? { ok: true, result: fromJsValue(reply.result) } : reply;
    } catch (err) {
      if (terminate.signal.aborted) {
        return { ok: false, error: `job ${ctx.jobId} was cancelled; the function ignored its abort signal for ${this.#graceMs} ms, so its worker thread was terminated` };
      }
      return { ok: false, error: `the worker thread running ${modulePath} failed: ${errorMessage(err)}` };
    } finally {
      ctx.signal.removeEventListener('abort', onAbort);
      clearTimeout(timer);
    }
  }

  /** Terminates every thread; running jobs end as failed. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#pool.close({ force: true });
    this.#abort.close();
  }
}

export type { RecipeContext } from './js-worker.js';
