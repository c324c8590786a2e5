import type { DefinitionError, ParsedPattern, ParsedRecipe } from '../../core/types.js';
import { errorMessage } from '../../core/errors.js';
import { kernelProblem } from './kernels.js';
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
      if (recipe.parameterize === 'assignments') errors.push({ file: recipe.file, key: 'metadata.meowflow.parameterize', message: `"assignments" does not apply to a ${translatorFor(nb).language} notebook: ${fix}`, code: 'MEOW_RECIPE_INVALID' });
      for (const p of users) {
        if (p.parameterize === 'assignments') errors.push({ file: p.file, key: 'parameterize', message: `"assignments" does not apply to ${recipe.file}, a ${translatorFor(nb).language} notebook: ${fix}`, code: 'MEOW_PATTERN_INVALID' });
      }
    }
    if (firstTagged(nb.cells, PARAMETERS_TAG) < 0 && modes.includes(null)) {
      warnings.push({ file: recipe.file, key: '', message: NO_PARAMETERS_CELL });
    }
  }
  return { errors, warnings };
}
