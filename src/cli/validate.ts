import { formatDefinitionError } from '../monitor/definitions-reader.js';
import { linkRules } from '../rules/linker.js';
import { buildGraph, cycleWarnings } from '../rules/graph.js';
import { printJson } from './format.js';
import { uncarriedValues } from '../core/recipe-values.js';
import { workspaceRoot, type GlobalOptions } from './workspace.js';
import { readConfig, readDefinitions } from '../monitor/definitions-reader.js';
import { installedKernels } from '../runner/notebook-params/kernels.js';
import { lintNotebooks, needsKernelList } from '../runner/notebook-params/lint.js';
import { detectPython } from '../runner/python-detect.js';

/** `meow validate`: every definition error, exit 2 if there is any. */
export async function validateCommand(g: GlobalOptions, o: { json?: boolean }): Promise<number> {
  const root = workspaceRoot(g);
  const { config, errors: configErrors } = await readConfig(root);
  const defs = await readDefinitions(root, config);
  const notebooks = lintNotebooks(defs.patterns, defs.recipes, await notebookKernels(config, needsKernelList(defs.recipes)));
  const errors = [...configErrors, ...defs.errors, ...notebooks.errors];
  const { waiting } = linkRules(defs.patterns, defs.recipes);
  // Values the linked recipe's kind cannot receive (inf and nan for bash and command recipes).
  for (const p of defs.patterns) {
    const recipe = defs.recipes.find((r) => r.name === p.recipe);
    if (!recipe) continue;
    for (const u of uncarriedValues(recipe.kind, p.variables, p.sweep)) errors.push({ file: p.file, key: u.key, message: u.message, code: 'MEOW_PATTERN_INVALID' });
  }
  const linked = new Set(defs.patterns.filter((p) => !waiting.includes(p)).map((p) => p.name));
  const warnings = [
    ...waiting.map((p) => ({ file: p.file, key: 'recipe', message: `recipe "${p.recipe}" does not exist yet; the pattern waits until recipes/${p.recipe}.* appears` })),
    ...cycleWarnings(buildGraph(defs.patterns, linked), defs.patterns),
    ...notebooks.warnings,
  ];
  if (o.json) printJson({ valid: errors.length === 0, errors, warnings, patterns: defs.patterns.length, recipes: defs.recipes.length });
  else {
    for (const e of errors) console.error(formatDefinitionError(e));
    for (const w of warnings) console.error(`warning: ${w.file}: ${w.key}: ${w.message}`);
    const summary = `${defs.patterns.length} patterns, ${defs.recipes.length} recipes`;
    console.log(errors.length ? `${errors.length} error${errors.length > 1 ? 's' : ''} (${summary} valid)` : `ok: ${summary}`);
  }
  return errors.length ? 2 : 0;
}

/** The Jupyter kernels installed for the interpreter that runs notebooks (looked up only when a notebook names a kernel other than Python's). */
async function notebookKernels(config: Parameters<typeof detectPython>[0], any: boolean): Promise<string[]> {
  if (!any) return [];
  try {
    return await installedKernels(await detectPython(config, 'jupyter'));
  } catch {
    return []; // no Jupyter at all: jobs fail with the fix; only Python kernels pass here
  }
}
