import type { ParameterizeMode, Variables } from '../../core/types.js';
import { MeowError } from '../../core/errors.js';
import { assignments, replaceAssignments } from '../python-params.js';
import {
  ERROR_MARKER_TAG, INJECTED_TAG, PARAMETERS_TAG, asNotebook, cellTags, cellText, firstTagged, kernelNameOf, languageOf,
  loadAsPapermill, newCodeCell, type NotebookCell, type NotebookJson,
} from './notebook-json.js';
import { TRANSLATED_LANGUAGES, findTranslator, type Translator } from './translators.js';

/** A parameterised notebook and what the user should know about it. */
export interface ParameterisedNotebook {
  notebook: NotebookJson;
  /** Human-readable warnings, for the job's stderr.log. */
  warnings: string[];
  /**
   * For each cell of `notebook`, its number in the recipe file as a person
   * counts it (from 1, code and markdown alike), or null for a cell meowflow
   * added (the injected-parameters cell).
   */
  cellNumbers: (number | null)[];
}

/** Options of {@link parameteriseNotebook}. */
export interface ParameteriseOptions {
  /** The choice made on the pattern or recipe; null when none was made (papermill's convention applies). */
  mode: ParameterizeMode | null;
  /** Written to `metadata.papermill.version` of a notebook that has no papermill metadata yet. */
  version: string;
}

/** The warning for a notebook that has no `parameters` cell and no explicit choice; names both options. */
export const NO_PARAMETERS_CELL =
  'no cell is tagged "parameters", so the variables go into a cell put first and later cells may overwrite them. ' +
  'Fix: tag the cell that sets the defaults "parameters" (papermill\'s convention), or set "parameterize: assignments" ' +
  'on the pattern (or "meowflow": {"parameterize": "assignments"} in the notebook\'s metadata) to replace the notebook\'s own assignments';

/** A cell whose first line is a cell magic (`%%bash`) holds another language: the parameterizer leaves it alone. */
function isCellMagic(cell: NotebookCell): boolean {
  return /^\s*%%/.test(cellText(cell));
}

/**
 * The translator for a notebook's kernel.
 * @throws MeowError MEOW_RECIPE_INVALID when its kernel and language have none.
 */
export function translatorFor(nb: NotebookJson): Translator {
  const kernel = kernelNameOf(nb);
  const language = languageOf(nb);
  const translator = findTranslator(kernel, language);
  if (translator === null) {
    throw new MeowError(
      'MEOW_RECIPE_INVALID',
      `the notebook's kernel "${kernel ?? '?'}" (language "${language ?? '?'}") has no parameter translator; meowflow injects parameters into ${TRANSLATED_LANGUAGES} notebooks. Fix: use a Python or R kernel, or write the recipe as a script or command recipe`,
    );
  }
  return translator;
}

/**
 * Parameterises a notebook as papermill's `execute_notebook` prepares it
 * (load, parameterise, remove stale error banners), or with MEOW's
 * assignment parameterizer when `mode` is `assignments`. The input is not
 * modified; `metadata.papermill.parameters` holds the variables.
 *
 * @throws MeowError MEOW_RECIPE_INVALID when `nb` is not an nbformat 4
 *   notebook, its language has no translator, or `assignments` is asked of a
 *   notebook that is not Python.
 */
export function parameteriseNotebook(input: unknown, variables: Variables, opts: ParameteriseOptions): ParameterisedNotebook {
  const original = asNotebook(input);
  const translator = translatorFor(original);
  const nb = loadAsPapermill(original, opts.version);
  let numbered = nb.cells.map((cell, i) => ({ cell, number: i + 1 as number | null }));
  const warnings: string[] = [];
  if (opts.mode === 'assignments') {
    if (translator.language !== 'python') {
      throw new MeowError('MEOW_RECIPE_INVALID', `"parameterize: assignments" reads Python, but this notebook's language is ${translator.language}. Fix: tag its defaults cell "parameters" and use "parameterize: papermill"`);
    }
    numbered = replaceEverywhere(numbered, variables, warnings);
  } else if (Object.keys(variables).length > 0) {
    // papermill injects nothing when it is given no parameters.
    numbered = inject(numbered, translator, variables, opts.mode, warnings);
  }
  // papermill removes stale banners after parameterising, before the run.
  numbered = numbered.filter(({ cell }) => !cellTags(cell).includes(ERROR_MARKER_TAG));
  (nb.metadata.papermill as Record<string, unknown>).parameters = structuredClone(variables);
  nb.cells = numbered.map((n) => n.cell);
  return { notebook: nb, warnings, cellNumbers: numbered.map((n) => n.number) };
}

type Numbered = { cell: NotebookCell; number: number | null }[];

/** papermill's `parameterize_notebook`: replace the first injected cell in place, else insert after `parameters`, else first. */
function inject(cells: Numbered, translator: Translator, variables: Variables, mode: ParameterizeMode | null, warnings: string[]): Numbered {
  const plain = cells.map((n) => n.cell);
  const params = firstTagged(plain, PARAMETERS_TAG);
  if (params >= 0) {
    const known = new Set(translator.inspect(cellText(plain[params])));
    for (const name of Object.keys(variables)) {
      if (!known.has(name)) warnings.push(`Passed unknown parameter: ${name} (the cell tagged "parameters" does not assign it)`);
    }
  } else if (mode === null) {
    warnings.push(NO_PARAMETERS_CELL);
  } else {
    warnings.push('no cell is tagged "parameters", so the injected-parameters cell was put first and later cells may overwrite the pattern\'s variables. Fix: add the tag "parameters" to the cell that sets the defaults');
  }
  const body = translator.codify(variables, warnings);
  const cell = newCodeCell(body, [INJECTED_TAG]);
  const old = firstTagged(plain, INJECTED_TAG);
  if (old >= 0) return [...cells.slice(0, old), { cell, number: cells[old].number }, ...cells.slice(old + 1)];
  return [...cells.slice(0, params + 1), { cell, number: null }, ...cells.slice(params + 1)];
}

/** MEOW's parameterizer: every top-level assignment of a variable in every code cell is replaced. */
function replaceEverywhere(cells: Numbered, variables: Variables, warnings: string[]): Numbered {
  const lines = assignments(variables, warnings);
  const assigned = new Set<string>();
  const out = cells.map(({ cell, number }) => {
    if (cell.cell_type !== 'code' || isCellMagic(cell)) return { cell, number };
    const done = replaceAssignments(cellText(cell), lines);
    for (const name of done.assigned) assigned.add(name);
    return { cell: done.assigned.size > 0 ? { ...cell, source: done.text } : cell, number };
  });
  const missing = [...lines].filter(([name]) => !assigned.has(name));
  if (missing.length === 0) return out;
  warnings.push(
    `the notebook never assigns ${missing.map(([n]) => `"${n}"`).join(', ')} at the top level of a code cell, so ` +
      `${missing.length === 1 ? 'it is' : 'they are'} defined in a cell put first`,
  );
  const cell = newCodeCell(['# Parameters', ...missing.map(([, line]) => line)].map((l) => l + '\n').join(''), [INJECTED_TAG]);
  return [{ cell, number: null }, ...out];
}
