/**
 * The downstream consequence of a plan: the jobs that the first-level jobs'
 * outputs will trigger, and theirs, through the emergent graph. An
 * *estimate*, never a promise: it assumes each job writes one file per
 * output template that another pattern's trigger matches, and it follows a
 * loop once round (a loop then runs on until it converges or `max_generation`
 * stops it). Pure: a function of the plan and the patterns.
 */
import { sweepSize } from './sweep.js';
import { globsIntersect, templateToGlob } from './glob-intersect.js';
import type { Plan } from './planner.js';
import type { ParsedPattern } from '../core/types.js';

/** The estimated cascade of a plan, per downstream pattern. */
export interface CascadeEstimate {
  /** Always true: these counts are estimates (the first-level `triggers` are exact). */
  estimate: true;
  /** Downstream jobs in all. */
  jobs: number;
  /** Each downstream pattern reached, in the order first reached: its estimated jobs, and whether its outputs lead back round a loop. */
  patterns: { pattern: string; jobs: number; loop: boolean }[];
  /** The patterns the cascade comes back to round a loop: it goes on past the estimate, until the loop converges or max_generation stops it. */
  loops: string[];
  /** True when the graph had more paths than were followed; the counts are then a lower bound. */
  truncated: boolean;
}

/** The most paths followed through the graph: a plan is shown at once, however tangled the patterns. */
const MAX_STEPS = 10_000;

/** The patterns in force once `plan` is applied: its added and changed rules, and the unchanged ones of `current`. */
export function patternsAfter(plan: Plan, current: readonly ParsedPattern[]): ParsedPattern[] {
  const unchanged = new Set(plan.unchanged);
  return [...plan.changes.flatMap((c) => (c.after ? [c.after.pattern] : [])), ...current.filter((p) => unchanged.has(p.name))];
}

function triggersOnArrival(p: ParsedPattern): boolean {
  return p.trigger.events.some((e) => e === 'created' || e === 'modified' || e === 'moved');
}

/** How many of `a`'s output templates `b`'s trigger matches: files per job of `a` that reach `b`. */
function filesPerJob(a: ParsedPattern, b: ParsedPattern): number {
  if (!triggersOnArrival(b)) return 0;
  return a.outputs.filter((t) => {
    const glob = templateToGlob(t, { ...a.variables, [a.input]: '{path}' });
    return b.trigger.paths.some((g) => globsIntersect(glob, g));
  }).length;
}

/** The jobs `files` arriving files make for `p`: one per file, or per set or batch, times its sweep points. */
function jobsFor(p: ParsedPattern, files: number, upstreamJobs: number): number {
  let runs = files;
  if (p.collect) runs = p.collect.complete.kind === 'count' ? Math.ceil(files / p.collect.complete.count) : upstreamJobs;
  else if (p.batch) runs = p.batch.maxFiles ? Math.ceil(files / p.batch.maxFiles) : upstreamJobs;
  return runs * sweepSize(p.sweep);
}

/** Estimates the jobs that follow from a plan's first-level jobs through `patterns` (those in force after it). */
export function estimateCascade(plan: Plan, patterns: readonly ParsedPattern[]): CascadeEstimate {
  const byName = new Map(patterns.map((p) => [p.name, p]));
  const next = new Map(patterns.map((a) => [a.name, patterns.map((b) => ({ to: b, per: filesPerJob(a, b) })).filter((e) => e.per > 0)]));
  const jobs = new Map<string, number>();
  const loops = new Set<string>();
  const loopsBack = new Set<string>();
  let steps = 0;
  let truncated = false;
  const follow = (from: ParsedPattern, count: number, path: ReadonlySet<string>): void => {
    for (const { to, per } of next.get(from.name) ?? []) {
      if (path.has(to.name)) {
        loops.add(to.name);
        loopsBack.add(from.name);
        continue;
      }
      if (++steps > MAX_STEPS) {
        truncated = true;
        return;
      }
      const n = jobsFor(to, count * per, count);
      if (n === 0) continue;
      jobs.set(to.name, (jobs.get(to.name) ?? 0) + n);
      follow(to, n, new Set([...path, to.name]));
    }
  };
  for (const c of plan.changes) {
    const p = c.after ? byName.get(c.name) : undefined;
    if (p && c.triggers > 0) follow(p, c.triggers, new Set([p.name]));
  }
  const list = [...jobs].map(([pattern, n]) => ({ pattern, jobs: n, loop: loopsBack.has(pattern) }));
  return { estimate: true, jobs: list.reduce((n, p) => n + p.jobs, 0), patterns: list, loops: [...loops].sort(), truncated };
}

/** "about 57 more jobs downstream (estimate: segment ~19, analyse ~38)", or null when nothing follows. */
export function describeCascade(c: CascadeEstimate): string | null {
  const loop = c.loops.length === 0 ? '' : `${c.jobs === 0 ? '' : '; '}then round the loop through ${c.loops.join(', ')} until it converges`;
  if (c.jobs === 0) return loop === '' ? null : loop;
  const each = c.patterns.map((p) => `${p.pattern} ~${p.jobs}`).join(', ');
  return `about ${c.truncated ? 'at least ' : ''}${c.jobs} more job${c.jobs === 1 ? '' : 's'} downstream (estimate: ${each})${loop}`;
}
