/*
 * `meow plan` gives the first-level jobs exactly and estimates, per pattern,
 * the jobs that follow downstream through the emergent graph; for a plain
 * chain the estimate is what the run then does. The run's log counts jobs.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parsePattern } from '../../src/core/pattern-schema.js';
import { describeCascade, estimateCascade } from '../../src/rules/cascade.js';
import type { ParsedPattern, Rule } from '../../src/core/types.js';
import type { Plan } from '../../src/rules/planner.js';
import { meow, meowJson, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';

interface PlanJson {
  changes: { pattern: string; triggers: number }[];
  cascade: { estimate: true; jobs: number; patterns: { pattern: string; jobs: number; loop: boolean }[]; loops: string[]; truncated: boolean };
}

const COPY_SH = 'mkdir -p "$(dirname "$out")"\ncp "$input_file" "$out"\n';

function pattern(name: string, text: string): ParsedPattern {
  const { pattern, errors } = parsePattern(`patterns/${name}.yaml`, text, { maxSweep: 1000, backends: ['local'] });
  if (!pattern) throw new Error(errors.map((e) => e.message).join('; '));
  return pattern;
}

/** A plan adding `name` with `triggers` first-level jobs. */
function added(p: ParsedPattern, triggers: number): Plan {
  const rule = { name: p.name, version: 'v', pattern: p, recipe: { name: p.recipe } } as unknown as Rule;
  return { changes: [{ name: p.name, change: 'added', before: null, after: rule, triggers, files: triggers, cancels: [], sets: null }], unchanged: [] };
}

describe('the cascade a plan sets off', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('follows outputs to triggers, multiplies by sweep points and divides by sets, and goes round a loop once', () => {
    const a = pattern('a', 'recipe: r\ntrigger: {paths: "raw/*.txt"}\noutputs: ["mid/{stem}.txt", "log/{stem}.log"]\n');
    const b = pattern('b', 'recipe: r\ntrigger: {paths: "mid/*.txt"}\nsweep: {k: [1, 2]}\noutputs: ["out/{stem}-{k}.txt"]\n');
    const c = pattern('c', 'recipe: r\ntrigger: {paths: "out/*.txt"}\ncollect: {by: "{dir}", complete: {count: 4}}\n');
    const d = pattern('d', 'recipe: r\ntrigger: {paths: "log/*.log"}\n');
    const e = estimateCascade(added(a, 10), [a, b, c, d]);
    // 10 a-jobs → 10 mid files → 20 b-jobs (two sweep points) → 20 out files → 5 sets of 4; 10 log files → 10 d-jobs.
    expect(e).toEqual({
      estimate: true,
      jobs: 35,
      patterns: [
        { pattern: 'b', jobs: 20, loop: false },
        { pattern: 'c', jobs: 5, loop: false },
        { pattern: 'd', jobs: 10, loop: false },
      ],
      loops: [],
      truncated: false,
    });
    expect(describeCascade(e)).toBe('about 35 more jobs downstream (estimate: b ~20, c ~5, d ~10)');

    const steer = pattern('steer', 'recipe: r\ntrigger: {paths: "m/*.json"}\noutputs: ["q/*.json"]\nloop: true\n');
    const instrument = pattern('instrument', 'recipe: r\ntrigger: {paths: "q/*.json"}\noutputs: ["m/{stem}.json"]\n');
    const loop = estimateCascade(added(steer, 1), [steer, instrument]);
    expect(loop).toMatchObject({ jobs: 1, patterns: [{ pattern: 'instrument', jobs: 1, loop: true }], loops: ['steer'] });
    expect(describeCascade(loop)).toBe('about 1 more job downstream (estimate: instrument ~1); then round the loop through steer until it converges');
    const self = pattern('self', 'recipe: r\ntrigger: {paths: "s/*.txt"}\noutputs: ["s/{stem}-next.txt"]\nloop: true\n');
    const selfLoop = estimateCascade(added(self, 3), [self]);
    expect(selfLoop).toMatchObject({ jobs: 0, patterns: [], loops: ['self'] });
    expect(describeCascade(selfLoop)).toBe('then round the loop through self until it converges');
    expect(describeCascade(estimateCascade(added(d, 3), [a, b, c, d]))).toBeNull();
  });

  it('meow plan prints the exact first level and the estimated cascade, which a chain then runs; the log counts jobs', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/copy.sh', COPY_SH);
    await ws.write('patterns/first.yaml', 'recipe: copy\ntrigger: {paths: "raw/*.txt"}\nvariables: {out: "mid/{stem}.txt"}\noutputs: ["mid/{stem}.txt"]\n');
    await ws.write('patterns/second.yaml', 'recipe: copy\ntrigger: {paths: "mid/*.txt"}\nvariables: {out: "done/{stem}.txt"}\noutputs: ["done/{stem}.txt"]\n');
    for (const n of [1, 2, 3]) await ws.write(`raw/s${n}.txt`, `${n}\n`);

    const plan = await meowJson<PlanJson>(['plan', '-w', ws.root]);
    expect(plan.changes.map((c) => [c.pattern, c.triggers])).toEqual([
      ['first', 3],
      ['second', 0],
    ]);
    expect(plan.cascade).toEqual({ estimate: true, jobs: 3, patterns: [{ pattern: 'second', jobs: 3, loop: false }], loops: [], truncated: false });
    const text = await meow(['plan', '-w', ws.root]);
    expect(text.stdout).toContain('this change triggers 3 jobs and cancels 0\nthen about 3 more jobs downstream (estimate: second ~3)\n');

    const run = await meow(['run', '--until-idle', '--no-tui', '-w', ws.root]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/pattern first added: 3 jobs triggered, 0 cancelled; about 3 more jobs downstream \(estimate: second ~3\)/);
    expect(run.stdout).toMatch(/pattern second added: 0 jobs triggered, 0 cancelled\n/);
    const jobs = await meowJson<{ pattern: string; status: string }[]>(['jobs', '-w', ws.root]);
    expect(jobs.filter((j) => j.pattern === 'second' && j.status === 'succeeded')).toHaveLength(3);
  });
});
