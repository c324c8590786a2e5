import { patternsJson, recipesJson } from '../api/shapes.js';
import { formatDefinitionError } from '../monitor/definitions-reader.js';
import { printJson, table } from './format.js';
import { connectEngine } from '../api/client.js';
import { readWorkspace, withStore, workspaceRoot, type GlobalOptions } from './workspace.js';

/** `meow patterns`: every pattern, linked to its recipe or waiting for it. */
export async function patternsCommand(g: GlobalOptions, o: { json?: boolean }): Promise<number> {
  const root = workspaceRoot(g);
  const ws = await readWorkspace(root);
  const client = await connectEngine(root);
  const rows = client ? await client.get<ReturnType<typeof patternsJson>>('/patterns') : patternsJson(ws.patterns, ws.recipes, await withStore(root, (s) => s?.pausedPatterns() ?? new Set<string>()));
  if (o.json) printJson(rows);
  else {
    console.log(table(['NAME', 'RECIPE', 'STATE', 'EVENTS', 'PATHS'], rows.map((r) => [r.name, r.recipe, r.linked ? (r.paused ? 'paused' : 'linked') : 'waiting for recipe', r.events.join(','), r.paths.join(' ')])));
    for (const e of ws.errors) console.error(formatDefinitionError(e));
  }
  return 0;
}

/** `meow recipes`. */
export async function recipesCommand(g: GlobalOptions, o: { json?: boolean }): Promise<number> {
  const ws = await readWorkspace(workspaceRoot(g));
  const rows = recipesJson(ws.recipes);
  if (o.json) printJson(rows);
  else {
    const users = (name: string) => ws.patterns.filter((p) => p.recipe === name).map((p) => p.name).join(', ');
    console.log(table(['NAME', 'KIND', 'FILE', 'USED BY'], rows.map((r) => [r.name, r.kind, r.file, users(r.name) || '-'])));
    for (const e of ws.errors) console.error(formatDefinitionError(e));
  }
  return 0;
}
