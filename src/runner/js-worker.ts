/*
 * The piscina worker that runs JavaScript recipes. Each task imports the
 * recipe module (by file URL plus `?v=<version>`, so an edited recipe is a new
 * module rather than a stale cache hit), calls its default export with the
 * variables and a context, and replies with a plain JSON outcome: errors cross
 * the thread boundary as text, never as Error objects.
 *
 * This file must import nothing from the project at run time: it is loaded on
 * its own by each worker thread.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { format } from 'node:util';
import { BroadcastChannel, workerData } from 'node:worker_threads';
import type { JsValue } from '../core/exact-number.js';
import type { VarValue } from '../core/types.js';

/** One job for the worker. */
export interface WorkerTask {
  modulePath: string;
  /** Content hash of the recipe: the module cache key. */
  version: string;
  /** The job's variables; an int beyond ±(2^53 − 1) arrives as a `bigint`, every other number as a `number`. */
  variables: Record<string, JsValue>;
  jobId: string;
  jobDir: string;
  workspace: string;
  /** This task's key on the pool's abort channel (unique per task: a retried job is a new task). */
  abortKey: number;
}

/** What the pool gives each thread (piscina's `workerData`). */
export interface WorkerData {
  /** The name of the pool's BroadcastChannel: a message is the `abortKey` of a task to cancel. */
  abortChannel: string;
}

/**
 * What the worker replies: the recipe's JSON result, or why it failed. A
 * result may hold bigints (a recipe returning an exact int it was given);
 * the pool turns them back into exact numbers.
 */
export type WorkerReply = { ok: true; result: VarValue | JsValue | null } | { ok: false; error: string };

/** What a recipe function gets as its second argument. */
export interface RecipeContext {
  jobId: string;
  jobDir: string;
  workspace: string;
  /** Aborted when the job is cancelled; the worker is terminated if the function ignores it. */
  signal: AbortSignal;
  /** Lines written to the job's stdout.log (info) and stderr.log (warn, error). */
  log: { info(...args: unknown[]): void; warn(...args: unknown[]): void; error(...args: unknown[]): void };
}

function logger(jobDir: string): RecipeContext['log'] {
  // Synchronous appends keep lines in order and survive a worker terminated mid-job.
  const write = (file: string, prefix: string, args: unknown[]): void =>
    appendFileSync(join(jobDir, file), prefix + format(...args) + '\n');
  return {
    info: (...args) => write('stdout.log', '', args),
    warn: (...args) => write('stderr.log', 'warning: ', args),
    error: (...args) => write('stderr.log', 'error: ', args),
  };
}

/** An error's message and stack, as text. */
function describe(err: unknown): string {
  if (err instanceof Error) {
    const stack = err.stack ?? '';
    return stack.includes(err.message) ? stack : `${err.message}\n${stack}`.trim();
  }
  return `the recipe threw a non-Error value: ${format(err)}`;
}

// A bigint inside the result, carried through the JSON round trip as a one-key marker object.
const BIGINT_MARK = '\u0000bigint';

/** Round-trips through JSON so only what a job record can hold comes back; bigints survive as bigints. */
function toJson(value: unknown, modulePath: string): WorkerReply {
  if (value === undefined) return { ok: true, result: null };
  try {
    const text = JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? { [BIGINT_MARK]: v.toString() } : v));
    const result = JSON.parse(text, (_k, v: unknown) =>
      v !== null && typeof v === 'object' && !Array.isArray(v) && typeof (v as Record<string, unknown>)[BIGINT_MARK] === 'string'
        ? BigInt((v as Record<string, string>)[BIGINT_MARK])
        : v,
    ) as JsValue;
    return { ok: true, result };
  } catch (err) {
    return { ok: false, error: `${modulePath}: the function returned a value that is not JSON (${describe(err).split('\n')[0]}); return plain data` };
  }
}

/** How to cancel each running task, by abort key. */
const running = new Map<number, () => void>();
/**
 * Keys cancelled before their task reached this thread (the channel and the
 * task arrive by different routes, so either may come first). Every thread
 * hears every cancel, so this keeps only the latest few.
 */
const cancelledEarly = new Set<number>();
const EARLY_KEPT = 1024;
const channelName = (workerData as Partial<WorkerData> | null)?.abortChannel;
if (typeof channelName === 'string') {
  const channel = new BroadcastChannel(channelName);
  // Listening must not keep an idle thread alive.
  channel.unref();
  channel.onmessage = (event: unknown) => {
    const key = (event as { data: unknown }).data;
    if (typeof key !== 'number') return;
    const cancel = running.get(key);
    if (cancel) cancel();
    else {
      cancelledEarly.add(key);
      if (cancelledEarly.size > EARLY_KEPT) cancelledEarly.delete(cancelledEarly.values().next().value as number);
    }
  };
}

/** Recipe modules by URL (the URL carries the content version): a cache hit skips the loader's round trip. */
const modules = new Map<string, Promise<unknown>>();

/** Runs one recipe function. Piscina calls this for every task. */
export default async function runRecipe(task: WorkerTask): Promise<WorkerReply> {
  const controller = new AbortController();
  // The reason is made only on a cancel: an Error captures a stack, and this runs for every job.
  const cancel = (): void => controller.abort(new Error(`job ${task.jobId} was cancelled`));
  if (cancelledEarly.delete(task.abortKey)) cancel();
  else running.set(task.abortKey, cancel);
  try {
    const url = `${pathToFileURL(task.modulePath).href}?v=${encodeURIComponent(task.version)}`;
    let loading = modules.get(url);
    if (!loading) {
      loading = import(url);
      modules.set(url, loading);
      // A module that failed to load is tried again by the next task (the file may be fixed meanwhile).
      loading.catch(() => modules.delete(url));
    }
    const mod: unknown = await loading;
    const fn = typeof mod === 'object' && mod !== null && 'default' in mod ? mod.default : undefined;
    if (typeof fn !== 'function') {
      return { ok: false, error: `${task.modulePath}: expected "export default async function (vars, ctx)", but the default export is ${typeof fn}` };
    }
    const ctx: RecipeContext = {
      jobId: task.jobId,
      jobDir: task.jobDir,
      workspace: task.workspace,
      signal: controller.signal,
      log: logger(task.jobDir),
    };
    const value: unknown = await fn(task.variables, ctx);
    return toJson(value, task.modulePath);
  } catch (err) {
    return { ok: false, error: describe(err) };
  } finally {
    running.delete(task.abortKey);
  }
}
