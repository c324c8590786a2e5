import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { errorMessage } from '../core/errors.js';
import { Engine } from '../engine.js';
import { traceBack } from '../store/trace.js';
import { initCommand } from './init.js';
import type { JobRecord } from '../core/types.js';

/** How long the whole loop may take before the demo gives up. */
const DEADLINE_MS = 120_000;

/** result.json, as recipes/steer.mjs writes it. */
interface SteerResult {
  converged: boolean;
  parameter: string;
  optimum: number;
  uncertainty: number;
  iterations: number;
  plot: string;
}

/** The simulated instrument, a child process (instrument.mjs in the workspace). */
interface Instrument {
  output(): string;
  /** The exit code, once it exited. */
  exitCode(): number | null;
  stop(): Promise<void>;
}

function startInstrument(root: string): Instrument {
  const child = spawn(process.execPath, [join(root, 'instrument.mjs'), '--workspace', root], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('close', () => resolve()));
  return {
    output: () => out,
    exitCode: () => child.exitCode ?? (child.signalCode ? 1 : null),
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}

/** One line per analysis step, from the job's result (what recipes/steer.mjs returns). */
function printStep(job: JobRecord): void {
  if (job.pattern !== 'steer') return;
  if (job.status !== 'succeeded') {
    console.log(`  ${job.input}: ${job.status}${job.error ? ` — ${job.error.split('\n')[0]}` : ''}`);
    return;
  }
  const r = (job.result ?? {}) as Record<string, number | string | null>;
  const n = String(Number(r.iteration) - 1).padStart(2);
  const next = r.next === null ? 'done' : `next focus ${Number(r.next).toFixed(3)}`;
  console.log(`  #${n}  focus ${Number(r.focus).toFixed(3)} → intensity ${String(r.intensity).padStart(6)}   estimate ${Number(r.estimate).toFixed(3)} ± ${Number(r.uncertainty).toFixed(3)} (${r.phase})   ${next}`);
}

/** Waits until result.json exists and the engine has nothing left to do; throws on failure, abort or deadline. */
async function waitForResult(root: string, engine: Engine, instrument: Instrument, signal: AbortSignal): Promise<void> {
  const deadline = Date.now() + DEADLINE_MS;
  for (;;) {
    signal.throwIfAborted();
    if (engine.failedCount > 0) throw new Error('an analysis job failed (see above); the loop stopped');
    const code = instrument.exitCode();
    if (code !== null && code !== 0) throw new Error(`the instrument exited with code ${code}:\n${instrument.output()}`);
    if (existsSync(join(root, 'result.json')) && engine.busy === 0) return;
    if (Date.now() > deadline) throw new Error(`no result.json after ${DEADLINE_MS / 1000} s; the instrument said:\n${instrument.output()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/**
 * The lineage of result.json back to the first request, from the engine's
 * records (`meow trace`). The loop passes through the instrument, outside
 * the engine, so each measurement is a file from outside; its `request`
 * field joins it to the request it answers, whose trace goes on.
 */
async function lineage(engine: Engine, root: string): Promise<string[]> {
  const lines: string[] = [];
  let path: string | null = 'result.json';
  const seen = new Set<string>();
  while (path && !seen.has(path)) {
    seen.add(path);
    const [step] = traceBack(engine.store, path);
    if (!step?.job) {
      lines.push(`${path.padEnd(22)} from outside${path === 'requests/000.json' ? ' (the first request, from meow init)' : ''}`);
      break;
    }
    const input = step.inputs[0] ?? '?';
    let request: string | null = null;
    try {
      const m = JSON.parse(await readFile(join(root, input), 'utf8')) as { request?: unknown };
      request = typeof m.request === 'string' ? m.request : null;
    } catch {
      request = null;
    }
    lines.push(`${path.padEnd(22)} ← ${step.pattern} ${step.job} ← ${input}${request ? ` ← instrument ← ${request}` : ' (from outside)'}`);
    path = request;
  }
  return lines;
}

/** The true optimum, from the simulated instrument itself. */
async function knownOptimum(root: string): Promise<number | null> {
  const mod = (await import(pathToFileURL(join(root, 'instrument.mjs')).href)) as { RESPONSE?: { optimum?: unknown } };
  return typeof mod.RESPONSE?.optimum === 'number' ? mod.RESPONSE.optimum : null;
}

/**
 * `meow demo`: the flagship example end to end in a fresh temporary
 * workspace — the engine live, in this process; the simulated instrument as
 * a child process; stopped both once result.json is written.
 */
export async function demoCommand(o: { keep?: boolean }): Promise<number> {
  const root = await mkdtemp(join(tmpdir(), 'meow-demo-'));
  const abort = new AbortController();
  const onSignal = () => abort.abort(new Error('interrupted'));
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    await initCommand(root, { quiet: true });
    console.log('steering loop: the instrument answers requests/*.json with noisy measurements/*.json;');
    console.log('the `steer` pattern analyses each one and asks for the next, until it knows the best focus.\n');
    const engine = await Engine.open(root);
    engine.on('job:finished', printStep);
    engine.on('log', (level, message) => level !== 'info' && process.stderr.write(`${level}: ${message}\n`));
    let instrument: Instrument | null = null;
    try {
      await engine.startLive();
      instrument = startInstrument(root);
      await waitForResult(root, engine, instrument, abort.signal);
      await instrument.stop();
      const result = JSON.parse(await readFile(join(root, 'result.json'), 'utf8')) as SteerResult;
      const optimum = await knownOptimum(root);
      const off = optimum === null ? '' : ` — the instrument's true optimum is ${optimum} (off by ${Math.abs(result.optimum - optimum).toFixed(3)})`;
      console.log(`\n${result.converged ? 'converged' : 'did not converge'} after ${result.iterations} measurements: ${result.parameter} = ${result.optimum} ± ${result.uncertainty}${off}`);
      console.log(`${engine.store.countJobs().succeeded} jobs succeeded; convergence plot: ${o.keep ? join(root, result.plot) : `${result.plot} (use --keep to keep it)`}`);
      console.log('\nlineage of result.json (meow trace, joined across the instrument by each measurement\'s "request"):');
      for (const line of await lineage(engine, root)) console.log(`  ${line}`);
      return result.converged ? 0 : 1;
    } finally {
      await instrument?.stop();
      await engine.close({ cancelRunning: true });
    }
  } catch (err) {
    process.stderr.write(`meow demo: ${errorMessage(err)}\n`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (o.keep) console.log(`\nworkspace kept in ${root}; try: meow trace result.json -w ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
}
