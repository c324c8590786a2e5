import { linkRules } from '../rules/linker.js';
import { buildGraph, type WorkflowGraph } from '../rules/graph.js';
import { JOB_STATES, type JobStatus } from '../core/types.js';
import { pendingLines, pendingSets } from './pending-sets.js';
import { readWorkspace, withStore, workspaceRoot, type GlobalOptions } from './workspace.js';

type Counts = Map<string, Record<JobStatus, number>>;

const SHORT: Record<JobStatus, string> = { queued: 'queued', running: 'running', succeeded: 'ok', failed: 'failed', cancelled: 'cancelled' };

function runs(counts: Counts | null, name: string): string {
  const c = counts?.get(name);
  if (!c) return '';
  return JOB_STATES.filter((s) => c[s] > 0)
    .map((s) => `${c[s]} ${SHORT[s]}`)
    .join(', ');
}

/** Plain text: one line per edge, then cycles and waiting patterns. */
export function graphText(g: WorkflowGraph, counts: Counts | null): string {
  const lines: string[] = [];
  const label = (n: string) => {
    const p = g.patterns.find((x) => x.name === n);
    const r = runs(counts, n);
    return `${n}${p?.fanIn ? ` [${p.fanIn}]` : ''}${p && !p.linked ? ' [waiting for recipe]' : ''}${p?.cyclic ? ' [loop]' : ''}${r ? ` (${r})` : ''}`;
  };
  for (const i of g.inputs) lines.push(`${i.glob} → ${label(i.to)}`);
  for (const e of g.edges) lines.push(`${label(e.from)} → ${e.via} → ${label(e.to)}${e.cyclic ? '   ↺' : ''}`);
  for (const r of g.reads) lines.push(`${label(r.from)} → ${r.via} ⇢ read by ${label(r.to)}`);
  for (const s of g.sinks) lines.push(`${label(s.from)} → ${s.glob}`);
  for (const p of g.patterns) if (!g.inputs.some((i) => i.to === p.name) && !g.edges.some((e) => e.to === p.name || e.from === p.name) && !g.reads.some((r) => r.to === p.name || r.from === p.name)) lines.push(label(p.name));
  for (const c of g.cycles) lines.push(`loop: ${c.patterns.join(' → ')}${c.intended ? ' (intended: loop: true)' : ' (not marked loop: true)'}`);
  return lines.join('\n');
}

const id = (prefix: string, s: string) => `${prefix}_${s.replace(/[^A-Za-z0-9_]/g, '_')}`;
const q = (s: string) => s.replace(/"/g, '#quot;');

/** Mermaid flowchart: inputs as stadiums, patterns as boxes, loops marked. */
export function graphMermaid(g: WorkflowGraph, counts: Counts | null): string {
  const out = ['flowchart LR'];
  g.inputs.forEach((i, n) => out.push(`  in${n}(["${q(i.glob)}"]) --> ${id('p', i.to)}`));
  for (const p of g.patterns) {
    const r = runs(counts, p.name);
    out.push(`  ${id('p', p.name)}["${q(p.name)}<br/>recipe: ${q(p.recipe)}${p.fanIn ? `<br/>${q(p.fanIn)}` : ''}${p.linked ? '' : ' (waiting)'}${r ? `<br/>${r}` : ''}"]`);
  }
  for (const e of g.edges) out.push(`  ${id('p', e.from)} ${e.cyclic ? '-. "loop: ' + q(e.via) + '" .->' : '-- "' + q(e.via) + '" -->'} ${id('p', e.to)}`);
  for (const e of g.reads) out.push(`  ${id('p', e.from)} -. "reads: ${q(e.via)}" .-> ${id('p', e.to)}`);
  g.sinks.forEach((s, n) => out.push(`  ${id('p', s.from)} --> out${n}[/"${q(s.glob)}"/]`));
  const waiting = g.patterns.filter((p) => !p.linked).map((p) => id('p', p.name));
  const cyclic = g.patterns.filter((p) => p.cyclic).map((p) => id('p', p.name));
  out.push('  classDef waiting stroke-dasharray: 5 5;', '  classDef loop stroke:#d33,stroke-width:2px;');
  if (waiting.length) out.push(`  class ${waiting.join(',')} waiting;`);
  if (cyclic.length) out.push(`  class ${cyclic.join(',')} loop;`);
  return out.join('\n');
}

/** Graphviz dot. */
export function graphDot(g: WorkflowGraph, counts: Counts | null): string {
  const s = (x: string) => JSON.stringify(x);
  const out = ['digraph meowflow {', '  rankdir=LR;', '  node [fontname="Helvetica"];'];
  g.inputs.forEach((i, n) => out.push(`  in${n} [label=${s(i.glob)}, shape=note];`, `  in${n} -> ${id('p', i.to)};`));
  for (const p of g.patterns) {
    const r = runs(counts, p.name);
    const attrs = [`label=${s(`${p.name}\nrecipe: ${p.recipe}${p.fanIn ? `\n${p.fanIn}` : ''}${r ? `\n${r}` : ''}`)}`, 'shape=box'];
    if (!p.linked) attrs.push('style=dashed');
    if (p.cyclic) attrs.push('color=red');
    out.push(`  ${id('p', p.name)} [${attrs.join(', ')}];`);
  }
  for (const e of g.edges) out.push(`  ${id('p', e.from)} -> ${id('p', e.to)} [label=${s(e.via)}${e.cyclic ? ', color=red, style=dashed' : ''}];`);
  for (const e of g.reads) out.push(`  ${id('p', e.from)} -> ${id('p', e.to)} [label=${s(`reads ${e.via}`)}, style=dotted];`);
  g.sinks.forEach((k, n) => out.push(`  out${n} [label=${s(k.glob)}, shape=note];`, `  ${id('p', k.from)} -> out${n};`));
  out.push('}');
  return out.join('\n');
}

/** `meow graph [--format text|mermaid|dot] [--runs]`. */
export async function graphCommand(gopts: GlobalOptions, o: { format?: string; runs?: boolean }): Promise<number> {
  const root = workspaceRoot(gopts);
  const ws = await readWorkspace(root);
  const linked = new Set(linkRules(ws.patterns, ws.recipes).rules.map((r) => r.name));
  const graph = buildGraph(ws.patterns, linked);
  let counts: Counts | null = null;
  if (o.runs) {
    counts = await withStore(root, (store) => store?.countJobsByPattern() ?? new Map());
  }
  const format = o.format ?? 'text';
  // The text form ends with the open fan-in groups and how far each is from complete.
  const pending = format === 'text' ? pendingLines(await pendingSets(root)) : [];
  console.log(format === 'mermaid' ? graphMermaid(graph, counts) : format === 'dot' ? graphDot(graph, counts) : [graphText(graph, counts), ...pending].join('\n'));
  return 0;
}
