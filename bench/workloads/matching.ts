import micromatch from 'micromatch';
import { parsePattern } from '../../src/core/pattern-schema.js';
import { parseRecipe } from '../../src/core/recipe-schema.js';
import { linkRules } from '../../src/rules/linker.js';
import { compileRules, matchEvent, triggers } from '../../src/rules/matcher.js';
import { check } from '../lib/types.js';
import { now, quantile, round } from '../lib/stats.js';
import { NOOP_JS } from '../lib/workspace.js';
import type { EventKind, FileEvent, ParsedPattern, Rule } from '../../src/core/types.js';
import type { RuleSet } from '../../src/rules/matcher.js';
import type { Measurement, Workload } from '../lib/types.js';

/** The ten patterns of one instrument of a facility: a mix of the globs people write. */
function instrumentPatterns(i: number): string[] {
  const d = `data/inst${i}`;
  const p = (paths: string | string[], extra = '') => `recipe: r\ntrigger:\n  paths: ${JSON.stringify(paths)}\n${extra}`;
  return [
    p(`${d}/raw/*.tif`),
    p(`${d}/raw/**/*.h5`),
    p(`${d}/reduced/*.json`, '  events: [created, modified]\n'),
    p(`${d}/*/logs/*.log`),
    p(`${d}/accepted/{a,b}/*.csv`),
    p(`${d}/scan_*/frame_*.tif`, '  ignore: ["**/*.part.tif"]\n'),
    p(`${d}/meta/*.yaml`, '  events: [deleted]\n'),
    p(`${d}/exports/**`, '  events: [moved]\n'),
    p(`${d}/**/*.npy`),
    // Two facility-wide patterns instead of instrument 0's and 1's last one: tested against every event.
    i === 0 ? p('**/*.done') : i === 1 ? p('data/**/*.md', '  events: [created, deleted]\n') : p([`${d}/notes/*.md`, `${d}/notes/*.txt`]),
  ];
}

/** The path of the k-th event: a dozen kinds of files over 120 instruments (100 have patterns). */
function pathOf(k: number): string {
  const d = `data/inst${k % 120}`;
  switch (Math.floor(k / 120) % 12) {
    case 0: return `${d}/raw/img_${k}.tif`;
    case 1: return `${d}/raw/run${k % 7}/x_${k}.h5`;
    case 2: return `${d}/reduced/r_${k}.json`;
    case 3: return `${d}/det${k % 3}/logs/l_${k}.log`;
    case 4: return `${d}/accepted/${k % 2 ? 'a' : 'c'}/c_${k}.csv`;
    case 5: return `${d}/scan_${k % 5}/frame_${k}.tif`;
    case 6: return `${d}/scan_${k % 5}/frame_${k}.part.tif`;
    case 7: return `${d}/meta/m_${k}.yaml`;
    case 8: return `${d}/exports/deep/e_${k}.bin`;
    case 9: return `${d}/a/b/c/d_${k}.npy`;
    case 10: return `other/stuff/o_${k}.dat`;
    default: return `${d}/notes/n_${k}.${k % 3 ? 'md' : 'done'}`;
  }
}

function eventOf(k: number): FileEvent {
  const r = k % 20;
  const kind: EventKind = r < 14 ? 'created' : r < 18 ? 'modified' : r < 19 ? 'deleted' : 'moved';
  return { kind, path: pathOf(k), oldPath: kind === 'moved' ? pathOf(k + 7) : null, version: '1:1', generation: 0, cause: null };
}

/** What every rule in order says about the event, with no index: the reference. */
function linearMatch(e: FileEvent, set: RuleSet): Rule[] {
  return set.rules.filter((c) => triggers(c, e)).map((c) => c.rule);
}

/** The rules as the matcher compiled them before the index: each glob straight through micromatch. */
function plainMicromatch(set: RuleSet): RuleSet {
  const any = (globs: string[]) => {
    const tests = globs.map((g) => micromatch.matcher(g, { dot: false }));
    return (p: string) => tests.some((t) => t(p));
  };
  const rules = set.rules.map(({ rule }) => {
    const paths = any(rule.pattern.trigger.paths);
    const ignore = any(rule.pattern.trigger.ignore);
    return { rule, covers: (p: string) => paths(p) && !ignore(p) };
  });
  return { rules, byName: new Map(rules.map((c) => [c.rule.name, c])) };
}

/** Per-event microseconds of `fn` over the events. */
function timeEach(evs: readonly FileEvent[], fn: (e: FileEvent) => unknown): number[] {
  const us = new Array<number>(evs.length);
  for (let k = 0; k < evs.length; k++) {
    const t0 = process.hrtime.bigint();
    fn(evs[k]);
    us[k] = Number(process.hrtime.bigint() - t0) / 1000;
  }
  return us;
}

export const matching: Workload = {
  id: '4',
  title: 'patterns × paths: matching cost per event',
  async run(ctx): Promise<Measurement> {
    const patternCount = 1_000;
    const events = ctx.quick ? 20_000 : 100_000;
    const { recipe } = parseRecipe('recipes/r.mjs', NOOP_JS);
    check(recipe !== null, 'the benchmark recipe did not parse');
    const patterns: ParsedPattern[] = [];
    for (let i = 0; patterns.length < patternCount; i++) {
      for (const text of instrumentPatterns(i)) {
        const { pattern, errors } = parsePattern(`patterns/p${patterns.length}.yaml`, text, { maxSweep: 10_000, backends: ['local'] });
        check(pattern !== null, `benchmark pattern did not parse: ${errors.map((e) => e.message).join('; ')}`);
        patterns.push(pattern);
      }
    }
    const { rules } = linkRules(patterns.slice(0, patternCount), [recipe]);
    const c0 = now();
    const set = compileRules(rules);
    const compileMs = now() - c0;
    const evs = Array.from({ length: events }, (_, k) => eventOf(k));

    // Correctness, and warm-up: the matcher must say exactly what testing every rule says.
    const plain = plainMicromatch(set);
    let matches = 0;
    for (const e of evs) {
      const want = linearMatch(e, plain);
      const got = matchEvent(e, set);
      check(got.length === want.length && got.every((r, j) => r === want[j]), `matchEvent(${e.kind} ${e.path}) gave [${got.map((r) => r.name)}], testing every rule with micromatch gives [${want.map((r) => r.name)}]`);
      matches += got.length;
    }
    check(matches > events / 2, `only ${matches} matches over ${events} events: the workload's paths are wrong`);

    const before = timeEach(evs, (e) => linearMatch(e, plain));
    const us = timeEach(evs, (e) => matchEvent(e, set));
    const p50 = quantile(us, 0.5);
    const mean = us.reduce((a, b) => a + b, 0) / us.length;
    ctx.log(`matchEvent: median ${round(p50)} µs, p99 ${round(quantile(us, 0.99))} µs, mean ${round(mean)} µs; ${matches} matches; compile ${round(compileMs)} ms`);
    return {
      metric: 'matching cost per event, median',
      figure: p50,
      unit: 'µs',
      baseline: null,
      baselineWhat: '—',
      target: '≤ 20 µs median',
      pass: p50 <= 20,
      size: `${patternCount} patterns × ${events} paths`,
      details: [
        { metric: 'matching cost per event, p99', value: quantile(us, 0.99), unit: 'µs', baseline: null, target: '', pass: null },
        { metric: 'each rule through micromatch in turn (no index), median', value: quantile(before, 0.5), unit: 'µs', baseline: null, target: '', pass: null },
        { metric: `compiling ${patternCount} rules`, value: compileMs, unit: 'ms', baseline: null, target: '', pass: null },
      ],
    };
  },
};
