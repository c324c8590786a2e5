import type { DefinitionError, ParsedPattern, ParsedRecipe } from '../../core/types.js';
import { errorMessage } from '../../core/errors.js';
import { kernelProblem, runsOnSameInterpreter } from './kernels.js';
import { PARAMETERS_TAG, asNotebook, firstTagged, type NotebookJson } from './notebook-json.js';
import { NO_PARAMETERS_CELL, translatorFor } from './parameterise.js';

/** A finding of {@link lintNotebooks}: a definition error or a warning, in `meow validate`'s shape. */
export interface NotebookFinding {
  file: string;
  key: string;
  message: string;
}

function readNotebook(recipe: ParsedRecipe): NotebookJson | null {
  try {
    return asNotebook(JSON.parse(recipe.source));
  } catch {
    return null; // the recipe parser already reported it
  }
}

/** Whether any notebook recipe names a kernel that needs the installed kernelspecs looked up. */
export function needsKernelList(recipes: readonly ParsedRecipe[]): boolean {
  return recipes.some((r) => {
    if (r.kind !== 'notebook') return false;
    const nb = readNotebook(r);
    return nb !== null && !runsOnSameInterpreter(nb);
  });
}

/**
 * What `meow validate` says about notebook recipes, as a function of values:
 * errors for a kernel that is not installed (`installed` lists the
 * kernelspecs found), a language with no parameter translator, and
 * `parameterize: assignments` on a notebook that is not Python; a warning for
 * a notebook with no `parameters` cell used by a pattern that made no choice.
 */
export function lintNotebooks(
  patterns: readonly ParsedPattern[],
  recipes: readonly ParsedRecipe[],
  installed: readonly string[],
): { errors: DefinitionError[]; warnings: NotebookFinding[] } {
  const errors: DefinitionError[] = [];
  const warnings: NotebookFinding[] = [];
  const kinds = new Map(recipes.map((r) => [r.name, r.kind]));
  for (const p of patterns) {
    const kind = kinds.get(p.recipe);
    if (p.parameterize !== undefined && kind !== undefined && kind !== 'notebook') {
      warnings.push({ file: p.file, key: 'parameterize', message: `only notebooks use "parameterize", and recipe "${p.recipe}" is a ${kind} recipe; remove the key` });
    }
  }
  for (const recipe of recipes) {
    if (recipe.kind !== 'notebook') continue;
    const nb = readNotebook(recipe);
    if (nb === null) continue;
    const kernel = kernelProblem(nb, installed);
    if (kernel !== null) errors.push({ file: recipe.file, key: 'metadata.kernelspec.name', message: kernel, code: 'MEOW_RECIPE_INVALID' });
    let python = true;
    try {
      python = translatorFor(nb).language === 'python';
    } catch (err) {
      errors.push({ file: recipe.file, key: 'metadata.kernelspec', message: errorMessage(err), code: 'MEOW_RECIPE_INVALID' });
      continue;
    }
    const users = patterns.filter((p) => p.recipe === recipe.name);
    const modes = users.map((p) => p.parameterize ?? recipe.parameterize ?? null);
    if (!python) {
      const fix = 'it reads Python; tag the defaults cell "parameters" and use "parameterize: papermill"';
      if (recipe.parameterize === 'assignments') errors.push({ file: recipe.file, key: 'metadata.meowflow.parameterize', message: `"assignments" does not apply to a notebook in ${translatorFor(nb).language}: ${fix}`, code: 'MEOW_RECIPE_INVALID' });
      for (const p of users) {
        if (p.parameterize === 'assignments') errors.push({ file: p.file, key: 'parameterize', message: `"assignments" does not apply to ${recipe.file}, a notebook in ${translatorFor(nb).language}: ${fix}`, code: 'MEOW_PATTERN_INVALID' });
      }
    }
    if (firstTagged(nb.cells, PARAMETERS_TAG) < 0 && modes.includes(null)) {
      warnings.push({ file: recipe.file, key: 'cells', message: NO_PARAMETERS_CELL });
    }
  }
  return { errors, warnings };
}
