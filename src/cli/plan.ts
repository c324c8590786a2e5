import { Engine } from '../engine.js';
import { printJson, table } from './format.js';
import { formatDefinitionError } from '../monitor/definitions-reader.js';
import { workspaceRoot, type GlobalOptions } from './workspace.js';
import { planJson } from '../api/shapes.js';
import { buildGraph, cycleWarnings } from '../rules/graph.js';
import { describeCascade, estimateCascade } from '../rules/cascade.js';

/** `meow plan`: what the definitions on disk would change, without changing anything. */
export async function planCommand(g: GlobalOptions, o: { json?: boolean }): Promise<number> {
  const engine = await Engine.open(workspaceRoot(g), { readonly: true });
  try {
    const [defs, tree] = await Promise.all([engine.loadDefinitions(), engine.scan()]);
    const plan = engine.plan(defs, tree.keys());
    const linked = new Set(engine.linkedNames(defs));
    const after = defs.patterns.filter((p) => linked.has(p.name));
    const cascade = estimateCascade(plan, after);
    const warnings = cycleWarnings(buildGraph(defs.patterns, linked), defs.patterns);
    if (o.json) printJson({ ...planJson(plan, after), errors: defs.errors, warnings });
    else {
      for (const e of defs.errors) console.error(formatDefinitionError(e));
      for (const w of warnings) console.error(`warning: ${w.file}: ${w.key}: ${w.message}`);
      if (plan.changes.length === 0) console.log(`no changes (${plan.unchanged.length} rules unchanged)`);
      else {
        console.log(table(['PATTERN', 'CHANGE', 'TRIGGERS', 'CANCELS'], plan.changes.map((c) => [c.name, c.change, c.triggers, c.cancels.length])));
        const t = plan.changes.reduce((n, c) => n + c.triggers, 0);
        const x = plan.changes.reduce((n, c) => n + c.cancels.length, 0);
        console.log(`this change triggers ${t} job${t === 1 ? '' : 's'} and cancels ${x}`);
        const downstream = describeCascade(cascade);
        if (downstream) console.log(downstream.startsWith('then ') ? downstream : `then ${downstream}`);
        for (const c of plan.changes) {
          if (c.sets) console.log(`${c.name}: ${c.files} file(s) make ${c.sets.fire} complete set(s) that run now; ${c.sets.open} group(s) wait to complete`);
        }
      }
    }
    return 0;
  } finally {
    await engine.close();
  }
}
