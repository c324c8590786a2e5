import { globsIntersect, templateToGlob } from './glob-intersect.js';
import type { ParsedPattern } from '../core/types.js';

/** An edge of the emergent workflow: outputs of `from` may trigger `to`. */
export interface GraphEdge {
  from: string;
  to: string;
  /** The output template of `from` that overlaps `to`'s trigger. */
  via: string;
  /** Both ends are in one cycle. */
  cyclic: boolean;
}

/** The workflow that emerges from the patterns alone. */
export interface WorkflowGraph {
  patterns: { name: string; recipe: string; linked: boolean; loop: boolean; cyclic: boolean; fanIn: string | null }[];
  /** Trigger globs no pattern produces: where files come from outside. */
  inputs: { glob: string; to: string }[];
  edges: GraphEdge[];
  /** Outputs of `from` that `to` reads as declared inputs (`inputs:`): lineage, not triggers. */
  reads: { from: string; to: string; via: string }[];
  /** Outputs no pattern consumes. */
  sinks: { from: string; glob: string }[];
  /** Each cycle's patterns, and whether a pattern in it is marked `loop: true`. */
  cycles: { patterns: string[]; intended: boolean }[];
}

function triggersOnArrival(p: ParsedPattern): boolean {
  return p.trigger.events.some((e) => e === 'created' || e === 'modified' || e === 'moved');
}

/** Strongly connected components with a cycle (Tarjan). */
function cycles(names: string[], next: Map<string, Set<string>>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const on = new Set<string>();
  const out: string[][] = [];
  const visit = (v: string): void => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    on.add(v);
    for (const w of next.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (on.has(w)) low.set(v, Math.min(low.get(v) as number, idx.get(w) as number));
    }
    if (low.get(v) === idx.get(v)) {
      const comp: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        on.delete(w);
        comp.push(w);
      } while (w !== v);
      if (comp.length > 1 || next.get(v)?.has(v)) out.push(comp.sort());
    }
  };
  for (const n of names) if (!idx.has(n)) visit(n);
  return out;
}

/**
 * Builds the emergent workflow: trigger globs → pattern → declared outputs →
 * patterns whose triggers overlap them. Pure: a function of the patterns.
 */
export function buildGraph(patterns: readonly ParsedPattern[], linked: ReadonlySet<string>): WorkflowGraph {
  const edges: Omit<GraphEdge, 'cyclic'>[] = [];
  const next = new Map<string, Set<string>>();
  const producers = new Map<string, Set<string>>(); // "to\0glob" → patterns whose outputs overlap that trigger glob
  const consumed = new Set<string>(); // "from\0template"
  for (const a of patterns) {
    for (const template of a.outputs) {
      const out = templateToGlob(template, { ...a.variables, [a.input]: '{path}' });
      for (const b of patterns) {
        if (!triggersOnArrival(b)) continue;
        const hit = b.trigger.paths.filter((g) => globsIntersect(out, g));
        if (hit.length === 0) continue;
        for (const g of hit) {
          const key = `${b.name}\0${g}`;
          if (!producers.has(key)) producers.set(key, new Set());
          producers.get(key)?.add(a.name);
        }
        consumed.add(`${a.name}\0${template}`);
        if (!edges.some((e) => e.from === a.name && e.to === b.name)) edges.push({ from: a.name, to: b.name, via: template });
        if (!next.has(a.name)) next.set(a.name, new Set());
        next.get(a.name)?.add(b.name);
      }
    }
  }
  const reads: WorkflowGraph['reads'] = [];
  for (const a of patterns) {
    for (const template of a.outputs) {
      const out = templateToGlob(template, { ...a.variables, [a.input]: '{path}' });
      for (const b of patterns) {
        if (!(b.inputs ?? []).some((g) => globsIntersect(out, templateToGlob(g, b.variables)))) continue;
        consumed.add(`${a.name}\0${template}`);
        if (!reads.some((r) => r.from === a.name && r.to === b.name)) reads.push({ from: a.name, to: b.name, via: template });
      }
    }
  }
  const names = patterns.map((p) => p.name);
  const loops = cycles(names, next);
  const cycleOf = new Map<string, number>();
  loops.forEach((c, i) => c.forEach((n) => cycleOf.set(n, i)));
  const byName = new Map(patterns.map((p) => [p.name, p]));
  return {
    patterns: patterns.map((p) => ({ name: p.name, recipe: p.recipe, linked: linked.has(p.name), loop: p.loop, cyclic: cycleOf.has(p.name), fanIn: fanInLabel(p) })),
    // A trigger fed only from inside its own loop still needs files from outside to start.
    inputs: patterns.flatMap((p) =>
      p.trigger.paths
        .filter((g) => [...(producers.get(`${p.name}\0${g}`) ?? [])].every((from) => cycleOf.has(p.name) && cycleOf.get(from) === cycleOf.get(p.name)))
        .map((glob) => ({ glob, to: p.name })),
    ),
    edges: edges.map((e) => ({ ...e, cyclic: cycleOf.has(e.from) && cycleOf.get(e.from) === cycleOf.get(e.to) })),
    reads,
    sinks: patterns.flatMap((p) => p.outputs.filter((t) => !consumed.has(`${p.name}\0${t}`)).map((glob) => ({ from: p.name, glob }))),
    cycles: loops.map((c) => ({ patterns: c, intended: c.some((n) => byName.get(n)?.loop) })),
  };
}

/** "set by {dir}" for a collect pattern, "batch" for a batch pattern, else null. */
function fanInLabel(p: ParsedPattern): string | null {
  if (p.collect) return `set by ${p.collect.by}`;
  if (p.batch) return p.batch.by ? `batch by ${p.batch.by}` : 'batch';
  return null;
}

/** Warnings for cycles not marked as intended (`loop: true`). */
export function cycleWarnings(graph: WorkflowGraph, patterns: readonly ParsedPattern[]): { file: string; key: string; message: string }[] {
  const files = new Map(patterns.map((p) => [p.name, p.file]));
  return graph.cycles
    .filter((c) => !c.intended)
    .map((c) => ({
      file: files.get(c.patterns[0]) ?? '',
      key: 'outputs',
      message:
        c.patterns.length === 1
          ? `pattern "${c.patterns[0]}" triggers itself: its outputs match its own trigger, so it runs until max_generation stops it; if the loop is intended, add "loop: true" to the pattern`
          : `patterns ${c.patterns.join(', ')} form a loop (their outputs trigger each other), so it runs until max_generation stops it; if the loop is intended, add "loop: true" to one of them`,
    }));
}
