/*
 * The analysis step of the steering loop (a JavaScript recipe: it runs in a
 * worker thread of the engine, so the loop needs nothing but Node).
 *
 * Triggered by each new measurement, it reads every measurement up to that
 * one, decides where to measure next (lib/optimum-search.mjs), redraws the
 * convergence plot, and then writes either the next request — which the
 * instrument answers with the next measurement, which triggers this recipe
 * again — or, once the optimum is known well enough, result.json, which ends
 * the loop.
 */
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { convergencePlot } from './lib/convergence-plot.mjs';
import { decide } from './lib/optimum-search.mjs';

/** Writes under a hidden name, then renames: readers never see half a file. */
async function writeAtomically(path, text) {
  await mkdir(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tmp`);
  await writeFile(tmp, text);
  await rename(tmp, path);
}

function number(vars, name) {
  const v = vars[name];
  if (typeof v !== 'number' || !Number.isFinite(v)) throw new Error(`variable "${name}": expected a number, got ${JSON.stringify(v)}; set it in patterns/steer.yaml`);
  return v;
}

const round = (v) => Number(v.toFixed(4));

export default async (vars, ctx) => {
  const parameter = String(vars.parameter);
  const signal = String(vars.signal);
  const options = {
    low: number(vars, 'low'),
    high: number(vars, 'high'),
    window: number(vars, 'window'),
    tolerance: number(vars, 'tolerance'),
    minFitPoints: number(vars, 'min_fit_points'),
  };
  const maxIterations = number(vars, 'max_iterations');

  // Every measurement up to this one: a later one (a re-run) must not change this step.
  const dir = dirname(vars.input_file);
  const index = Number.parseInt(basename(vars.input_file, '.json'), 10);
  if (!Number.isInteger(index)) throw new Error(`${vars.input_file}: expected a numbered measurement such as measurements/007.json`);
  const names = (await readdir(dir)).filter((n) => /^\d+\.json$/.test(n) && Number.parseInt(n, 10) <= index).sort();
  const points = [];
  for (const name of names) {
    const m = JSON.parse(await readFile(join(dir, name), { encoding: 'utf8', signal: ctx.signal }));
    const x = m[parameter];
    const y = m[signal];
    if (typeof x !== 'number' || typeof y !== 'number') throw new Error(`${join(dir, name)}: expected numbers "${parameter}" and "${signal}"`);
    points.push({ x, y });
  }

  // The decision after each measurement: the plot shows how the estimate got here.
  const history = points.map((_, i) => decide(points.slice(0, i + 1), options));
  const decision = history[history.length - 1];
  const done = decision.phase === 'converged' || points.length >= maxIterations;
  await writeAtomically(join(ctx.workspace, vars.plot), convergencePlot({ parameter, low: options.low, high: options.high, points, history, fit: decision.fit }));

  const last = points[points.length - 1];
  const step = { iteration: points.length, [parameter]: last.x, [signal]: last.y, phase: decision.phase, estimate: round(decision.estimate), uncertainty: round(decision.uncertainty) };
  if (done) {
    const result = {
      converged: decision.phase === 'converged',
      parameter,
      optimum: round(decision.estimate),
      uncertainty: round(decision.uncertainty),
      iterations: points.length,
      from: `${basename(dir)}/${names[names.length - 1]}`,
      plot: vars.plot,
    };
    await writeAtomically(join(ctx.workspace, vars.result), `${JSON.stringify(result, null, 2)}\n`);
    ctx.log.info(`${result.converged ? 'converged' : `no convergence after ${maxIterations} measurements`}: ${parameter} ${result.optimum} ± ${result.uncertainty}`);
    return { ...step, next: null, converged: result.converged };
  }
  const next = String(index + 1).padStart(3, '0');
  await writeAtomically(join(ctx.workspace, vars.requests, `${next}.json`), `${JSON.stringify({ [parameter]: round(decision.next) })}\n`);
  ctx.log.info(`after ${points.length} measurements (${decision.phase}): ${parameter} ${step.estimate} ± ${step.uncertainty}; next ${round(decision.next)}`);
  return { ...step, next: round(decision.next) };
};
