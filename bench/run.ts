/*
 * `npm run bench [-- --quick] [--only 1,3] [--out FILE] [--strict] [--require-peers] [--markdown]`: runs the
 * workloads of issue 6, each in its own process and temporary workspace,
 * prints the results table and writes bench/results.json (each row says
 * whether it came from a full or a quick run).
 *
 * Exit status: 0 when every workload ran and was correct, even if a timing
 * target was missed (CI runs --quick as harness health); 1 when a workload
 * failed a correctness check (a job failed, a count was off) or crashed;
 * with --strict (meant for a quiet machine), also 1 when a target was
 * missed; with --require-peers (CI), 1 when a peer the benchmark measures
 * beside the engine (Watchman, inotifywait) is not installed; 2 bad usage.
 * `npm run bench -- --render FILE` prints a results file as a Markdown table.
 */
import { fork } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describeMachine, machine } from './lib/machine.js';
import { now, round } from './lib/stats.js';
import { markdownTable, resultsTable } from './lib/table.js';
import { REPO } from './lib/workspace.js';
import { WORKLOADS } from './workloads/index.js';
import type { ChildMessage } from './child.js';
import type { Machine, Measurement, Row, Workload } from './lib/types.js';

interface Options {
  quick: boolean;
  only: Set<string> | null;
  out: string;
  strict: boolean;
  requirePeers: boolean;
  markdown: boolean;
  render: string;
}

function parseArgs(argv: readonly string[]): Options {
  const o: Options = { quick: false, only: null, out: '', strict: false, requirePeers: false, markdown: false, render: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = (): string => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (v === undefined) usage(`${a} needs a value`);
      return v;
    };
    if (a === '--quick') o.quick = true;
    else if (a === '--strict') o.strict = true;
    else if (a === '--require-peers') o.requirePeers = true;
    else if (a === '--markdown') o.markdown = true;
    else if (a.startsWith('--only')) o.only = new Set(value().split(','));
    else if (a.startsWith('--out')) o.out = value();
    else if (a.startsWith('--render')) o.render = value();
    else usage(`unknown option ${a}`);
  }
  o.out ||= join(REPO, 'bench', 'results.json');
  const unknown = [...(o.only ?? [])].filter((id) => !WORKLOADS.some((w) => w.id === id));
  if (unknown.length) usage(`--only: no workload ${unknown.join(', ')}; the workloads are ${WORKLOADS.map((w) => w.id).join(', ')}`);
  return o;
}

function usage(problem: string): never {
  process.stderr.write(`bench: ${problem}\nusage: npm run bench -- [--quick] [--only 1,3] [--out FILE] [--strict] [--require-peers] [--markdown] | --render FILE\n`);
  process.exit(2);
}

const CHILD = join(dirname(fileURLToPath(import.meta.url)), 'child.js');

/** Runs one workload in a child process; an error comes back as `{ error }`. */
async function runWorkload(w: Workload, o: Options, prior: Record<string, { figure: number; unit: string }>): Promise<{ m: Measurement } | { error: string; code: string }> {
  const tmp = await mkdtemp(join(tmpdir(), `meow-bench-${w.id}-`));
  // Generous: a workload runs its peers too, and CI's machine may be busy (timings are not asserted).
  const limitMs = (o.quick ? 360 : 900) * 1000;
  try {
    return await new Promise((resolve) => {
      // Its own process group, so that what it started (a peer's daemon, a spawner) goes with it.
      const child = fork(CHILD, [w.id, JSON.stringify({ quick: o.quick, tmp, prior, requirePeers: o.requirePeers })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], detached: true });
      const killGroup = () => {
        try {
          if (child.pid) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // The group is gone already.
        }
      };
      const interrupted = () => {
        killGroup();
        process.exit(130);
      };
      process.once('SIGINT', interrupted);
      process.once('SIGTERM', interrupted);
      let outcome: { m: Measurement } | { error: string; code: string } | null = null;
      const timer = setTimeout(() => {
        outcome ??= { error: `did not finish within ${limitMs / 1000} s`, code: 'MEOW_BENCH_ERROR' };
        killGroup();
      }, limitMs);
      child.on('message', (msg: ChildMessage) => {
        if (msg.type === 'log') process.stdout.write(`    ${msg.message}\n`);
        else if (msg.type === 'result') outcome = { m: msg.measurement };
        else outcome = { error: msg.message, code: msg.code };
      });
      child.once('exit', (code, signal) => {
        clearTimeout(timer);
        process.off('SIGINT', interrupted);
        process.off('SIGTERM', interrupted);
        // Whatever the workload left running goes too.
        killGroup();
        resolve(outcome ?? { error: `the workload process exited (${signal ?? code}) without a result`, code: 'MEOW_BENCH_ERROR' });
      });
    });
  } finally {
    await rm(tmp, { recursive: true, force: true, maxRetries: 5 });
  }
}

function toRow(w: Workload, m: Measurement, mc: Machine, mode: Row['mode'], seconds: number): Row {
  const ratio = m.baseline !== null && m.baseline > 0 ? round(m.figure / m.baseline) : null;
  return {
    workload: `${w.id} ${w.title}`,
    figure: round(m.figure),
    unit: m.unit,
    baseline: m.baseline === null ? null : round(m.baseline),
    ratio,
    target: m.target,
    pass: m.pass,
    machine: mc,
    metric: m.metric,
    baseline_what: m.baselineWhat,
    size: m.size,
    mode,
    seconds: round(seconds),
    details: m.details.map((d) => ({ ...d, value: round(d.value), baseline: d.baseline === null ? null : round(d.baseline) })),
    ...(m.note ? { note: m.note } : m.pass ? {} : { note: `target missed: BENCHMARKS.md, workload ${w.id}, gives the profile and what would fix it` }),
  };
}

function errorRow(w: Workload, error: string, code: string, mc: Machine, mode: Row['mode'], seconds: number): Row {
  const kind = code === 'MEOW_BENCH_INCORRECT' ? 'incorrect' : 'error';
  return { ...toRow(w, { metric: '—', figure: Number.NaN, unit: '', baseline: null, baselineWhat: '', target: '', pass: false, size: '', details: [] }, mc, mode, seconds), figure: 0, note: `${kind}: ${error}` };
}

async function main(): Promise<number> {
  const o = parseArgs(process.argv.slice(2));
  if (o.render) {
    const text = await readFile(o.render, 'utf8').catch((err: Error) => usage(`--render: cannot read ${o.render}: ${err.message}`));
    const rows = JSON.parse(text) as Row[];
    process.stdout.write(`${rows[0] ? `${rows[0].mode} run on ${describeMachine(rows[0].machine)}\n\n` : ''}${markdownTable(rows)}\n`);
    return 0;
  }
  const mc = machine();
  const mode = o.quick ? 'quick' : 'full';
  process.stdout.write(`meowflow benchmarks (${mode}) on ${describeMachine(mc)}\n`);
  const rows: Row[] = [];
  const prior: Record<string, { figure: number; unit: string }> = {};
  let broken = 0;
  const t0 = now();
  for (const w of WORKLOADS) {
    if (o.only && !o.only.has(w.id)) continue;
    process.stdout.write(`\n[${w.id}] ${w.title}\n`);
    const started = now();
    const r = await runWorkload(w, o, prior);
    const seconds = (now() - started) / 1000;
    if ('m' in r) {
      rows.push(toRow(w, r.m, mc, mode, seconds));
      prior[w.id] = { figure: r.m.figure, unit: r.m.unit };
      const miss = r.m.pass ? 'pass' : r.m.note?.startsWith('skipped') ? r.m.note : 'MISS';
      process.stdout.write(`    ${r.m.metric}: ${round(r.m.figure)} ${r.m.unit} (${miss}) in ${round(seconds)} s\n`);
    } else {
      broken++;
      rows.push(errorRow(w, r.error, r.code, mc, mode, seconds));
      process.stdout.write(`    ${r.code === 'MEOW_BENCH_INCORRECT' ? 'INCORRECT' : 'ERROR'}: ${r.error}\n`);
    }
  }
  process.stdout.write(`\n${o.markdown ? markdownTable(rows) : resultsTable(rows)}\n\n`);
  await writeFile(o.out, `${JSON.stringify(rows, null, 2)}\n`);
  const missed = rows.filter((r) => !r.pass).length;
  process.stdout.write(`${rows.length - missed} of ${rows.length} targets met; ${broken} workload(s) broken; ${round((now() - t0) / 1000)} s in all; wrote ${o.out}\n`);
  if (broken) return 1;
  return o.strict && missed ? 1 : 0;
}

process.exitCode = await main();
