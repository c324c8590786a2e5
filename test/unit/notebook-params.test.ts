import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { ParsedPattern, ParsedRecipe, Variables } from '../../src/core/types.js';
import { parsePattern } from '../../src/core/pattern-schema.js';
import { parseRecipe } from '../../src/core/recipe-schema.js';
import { cellNumbersArg } from '../../src/runner/executors/notebook-executor.js';
import { kernelProblem } from '../../src/runner/notebook-params/kernels.js';
import { lintNotebooks } from '../../src/runner/notebook-params/lint.js';
import type { NotebookCell, NotebookJson } from '../../src/runner/notebook-params/notebook-json.js';
import { parameteriseNotebook } from '../../src/runner/notebook-params/parameterise.js';
import { findTranslator, rLiteral, rName } from '../../src/runner/notebook-params/translators.js';

const code = (source: string, tags?: string[]): NotebookCell => ({ cell_type: 'code', execution_count: null, outputs: [], source, metadata: tags ? { tags } : {} });
const md = (source: string, tags?: string[]): NotebookCell => ({ cell_type: 'markdown', source, metadata: tags ? { tags } : {} });
const nb = (cells: NotebookCell[], opts: { minor?: number; kernel?: string; language?: string } = {}): NotebookJson => ({
  nbformat: 4, nbformat_minor: opts.minor ?? 5,
  metadata: { kernelspec: { name: opts.kernel ?? 'python3', language: opts.language ?? 'python', display_name: 'k' } },
  cells: cells.map((c, i) => ({ id: `c${i}`, ...c })),
});
const sources = (n: NotebookJson): string[] => n.cells.map((c) => (Array.isArray(c.source) ? c.source.join('') : c.source));
const run = (n: unknown, vars: Variables, mode: 'papermill' | 'assignments' | null = null) => parameteriseNotebook(n, vars, { mode, version: 'meowflow test' });

describe('parameteriseNotebook, papermill convention', () => {
  it('puts the injected cell after the first parameters cell and numbers cells as the recipe file does', () => {
    const input = nb([md('# Title'), code('threshold = 10\ninput_file = None', ['parameters']), code('print(threshold)')]);
    const before = structuredClone(input);
    const { notebook, warnings, cellNumbers } = run(input, { threshold: 42, input_file: '/x.txt' });
    expect(warnings).toEqual([]);
    expect(input).toEqual(before);
    expect(sources(notebook)).toEqual(['# Title', 'threshold = 10\ninput_file = None', "# Parameters\nthreshold = 42\ninput_file = '/x.txt'\n", 'print(threshold)']);
    expect(notebook.cells[2]).toMatchObject({ cell_type: 'code', metadata: { tags: ['injected-parameters'] }, outputs: [], execution_count: null, id: expect.stringMatching(/^[0-9a-f]{8}$/) });
    expect(cellNumbers).toEqual([1, 2, null, 3]);
    // papermill's notebook metadata, and tags/papermill on every cell (load_notebook_node).
    expect(notebook.metadata.papermill).toEqual({ default_parameters: {}, parameters: { threshold: 42, input_file: '/x.txt' }, environment_variables: {}, version: 'meowflow test' });
    for (const c of notebook.cells) expect(c.metadata).toMatchObject({ tags: expect.any(Array) });
    expect(notebook.cells[0].metadata.papermill).toEqual({});
  });

  it('replaces the first earlier injected cell in place, as papermill does, even away from the parameters cell', () => {
    const input = nb([code('a = 1', ['parameters']), code('b = 2'), code('# Parameters\na = 2\n', ['injected-parameters']), code('a')]);
    const { notebook, cellNumbers } = run(input, { a: 3 });
    expect(sources(notebook)).toEqual(['a = 1', 'b = 2', '# Parameters\na = 3\n', 'a']);
    expect(cellNumbers).toEqual([1, 2, 3, 4]);
  });

  it('upgrades nbformat 4.4 to 4.5 with fresh cell ids, as nbformat.v4.upgrade does', () => {
    const input = nb([code('a = 1', ['parameters'])], { minor: 4 });
    for (const c of input.cells) delete c.id;
    const { notebook } = run(input, { a: 3 });
    expect(notebook.nbformat_minor).toBe(5);
    expect(notebook.metadata.orig_nbformat_minor).toBeUndefined(); // nbformat strips it on write
    const ids = notebook.cells.map((c) => c.id);
    for (const id of ids) expect(id).toMatch(/^[0-9a-f]{8}$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('upgrades nbformat 3 as nbformat.v4.upgrade does: worksheets flattened, headings as markdown', () => {
    const v3 = {
      nbformat: 3, nbformat_minor: 0, metadata: { name: 'old', signature: 'x' },
      worksheets: [{ cells: [
        { cell_type: 'heading', level: 2, source: 'Old\nstyle', metadata: {} },
        { cell_type: 'code', language: 'python', input: 'a = 1', prompt_number: 4, collapsed: true, outputs: [{ output_type: 'pyout', text: '1' }], metadata: { tags: ['parameters'] } },
        { cell_type: 'markdown', source: 'text', metadata: {} },
      ] }],
    };
    expect(parseRecipe('recipes/old.ipynb', JSON.stringify(v3)).errors).toEqual([]);
    const { notebook, cellNumbers } = run(v3, { a: 2 });
    expect(notebook).toMatchObject({ nbformat: 4, nbformat_minor: 5, metadata: { orig_nbformat: 3 } });
    expect(notebook.metadata.name).toBeUndefined();
    expect(notebook.cells.map((c) => c.cell_type)).toEqual(['markdown', 'code', 'code', 'markdown']);
    expect(sources(notebook)).toEqual(['## Old style', 'a = 1', '# Parameters\na = 2\n', 'text']);
    expect(notebook.cells[1]).toMatchObject({ execution_count: null, outputs: [], metadata: { collapsed: true, tags: ['parameters'] } });
    expect(cellNumbers).toEqual([1, 2, null, 3]);
  });

  it('removes stale papermill error banners before the run; the numbers stay those of the file', () => {
    const input = nb([md('banner', ['papermill-error-cell-tag']), code('a = 1', ['parameters']), md('anchor', ['papermill-error-cell-tag']), code('raise ValueError()')]);
    const { notebook, cellNumbers } = run(input, { a: 2 });
    expect(sources(notebook)).toEqual(['a = 1', '# Parameters\na = 2\n', 'raise ValueError()']);
    expect(cellNumbers).toEqual([2, null, 4]);
  });

  it('warns about parameters the parameters cell does not define (papermill: "Passed unknown parameter")', () => {
    const { warnings } = run(nb([code('a = 1\nb: int = 2\ndef f():\n    c = 3', ['parameters'])]), { a: 1, b: 2, c: 3 });
    expect(warnings).toEqual(['Passed unknown parameter: c (the cell tagged "parameters" does not assign it)']);
  });

  it('with no parameters cell and no choice, puts the cell first and names both options', () => {
    const { notebook, warnings, cellNumbers } = run(nb([code('a = 1')]), { a: 3 });
    expect(sources(notebook)).toEqual(['# Parameters\na = 3\n', 'a = 1']);
    expect(cellNumbers).toEqual([null, 1]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/no cell is tagged "parameters".*"parameters".*parameterize: assignments/);
  });

  it('injects nothing when there are no variables, as papermill does', () => {
    const { notebook, warnings } = run(nb([code('a = 1')]), {});
    expect(sources(notebook)).toEqual(['a = 1']);
    expect(warnings).toEqual([]);
  });

  it('refuses what is not an nbformat 4 notebook, and a language with no translator', () => {
    expect(() => run({ cells: 'no' }, {})).toThrow(/nbformat 4/);
    expect(() => run(nb([code('x')], { kernel: 'bash', language: 'bash' }), { a: 1 })).toThrow(/kernel "bash" \(language "bash"\) has no parameter translator.*Python and R/);
  });
});

describe('parameteriseNotebook, MEOW assignments', () => {
  it('replaces every top-level assignment in every code cell, never inside functions, strings or cell magics', () => {
    const input = nb([
      md('threshold = 1'),
      code('import numpy as np'),
      code('threshold = 10  # default\nlabel = "a"'),
      code('def f():\n    threshold = 5\n    return threshold\ndoc = """\nthreshold = 6\n"""'),
      code('%%bash\nthreshold=7'),
      code('threshold = (\n    20\n)\nprint(threshold)'),
    ]);
    const { notebook, warnings, cellNumbers } = run(input, { threshold: 42, label: 'b' }, 'assignments');
    expect(warnings).toEqual([]);
    expect(sources(notebook)).toEqual([
      'threshold = 1', 'import numpy as np', "threshold = 42  # default\nlabel = 'b'",
      'def f():\n    threshold = 5\n    return threshold\ndoc = """\nthreshold = 6\n"""', '%%bash\nthreshold=7', 'threshold = 42\nprint(threshold)',
    ]);
    expect(cellNumbers).toEqual([1, 2, 3, 4, 5, 6]);
    expect(notebook.metadata.papermill).toMatchObject({ parameters: { threshold: 42, label: 'b' } });
  });

  it('reports variables the notebook never assigns and defines them in a cell put first', () => {
    const { notebook, warnings, cellNumbers } = run(nb([code('x = 1')]), { x: 2, input_file: '/in' }, 'assignments');
    expect(sources(notebook)).toEqual(["# Parameters\ninput_file = '/in'\n", 'x = 2']);
    expect(cellNumbers).toEqual([null, 1]);
    expect(warnings).toEqual(['the notebook never assigns "input_file" at the top level of a code cell, so it is defined in a cell put first']);
  });

  it('is refused for an R notebook', () => {
    expect(() => run(nb([code('x <- 1')], { kernel: 'ir', language: 'R' }), { x: 2 }, 'assignments')).toThrow(/reads Python.*language is R/);
  });
});

describe('the R translator (papermill rules)', () => {
  it('renders values as R literals', () => {
    expect(rLiteral(null)).toBe('NULL');
    expect(rLiteral(true)).toBe('TRUE');
    expect(rLiteral(3)).toBe('3');
    expect(rLiteral(0.5)).toBe('0.5');
    expect(rLiteral(-Infinity)).toBe('-Inf');
    expect(rLiteral(NaN)).toBe('NaN');
    expect(rLiteral('say "hi"\n\\ é')).toBe('"say \\"hi\\"\\n\\\\ \\u00e9"');
    expect(rLiteral([1, 'a', { k: false }])).toBe('list(1, "a", list("k" = FALSE))');
  });

  it('drops leading underscores and back-quotes names R cannot read', () => {
    expect(rName('_x')).toBe('x');
    expect(rName('my.var')).toBe('my.var');
    expect(rName('my-var')).toBe('`my-var`');
    expect(rName('if')).toBe('`if`');
  });

  it('is found by language when the kernel name is unknown, and codifies an injected cell', () => {
    const t = findTranslator('ir-4.3', 'R');
    expect(t?.language).toBe('R');
    expect(t?.codify({ n: 2, label: 'x' }, [])).toBe('# Parameters\nn = 2\nlabel = "x"\n');
    expect(t?.inspect('n <- 1\nlabel = "a"\nf <- function() {\n  inner <- 2\n}\n')).toEqual(['n', 'label', 'f']);
    expect(findTranslator('bash', 'bash')).toBeNull();
    expect(findTranslator(null, null)?.language).toBe('python');
  });

  const R = spawnSync('Rscript', ['--version']).status === 0;
  it.skipIf(!R && !process.env.CI)('R reads every literal back as the value', () => {
    const values = { s: 'a "q" \\ é ☃ 😀\ttab', n: 42, f: -0.125, b: true, z: null, l: [1, 'two'], m: { k: 'v' } };
    const source = Object.entries(values).map(([k, v]) => `${rName(k)} = ${rLiteral(v)}`).join('\n') + '\ncat(paste(s, n, f, b, is.null(z), l[[2]], m$k, sep = "|"))';
    const out = spawnSync('Rscript', ['-e', source], { encoding: 'utf8', env: { ...process.env, LANG: 'C.UTF-8' } });
    expect(out.stderr).toBe('');
    expect(out.stdout).toBe('a "q" \\ é ☃ 😀\ttab|42|-0.125|TRUE|TRUE|two|v');
  });
});

describe('notebook validation', () => {
  const recipe = (name: string, n: NotebookJson): ParsedRecipe => {
    const r = parseRecipe(`recipes/${name}.ipynb`, JSON.stringify(n)).recipe;
    if (!r) throw new Error('bad recipe');
    return r;
  };
  const pattern = (yaml: string): ParsedPattern => {
    const p = parsePattern('patterns/p.yaml', yaml, { maxSweep: 100, backends: ['local'] }).pattern;
    if (!p) throw new Error('bad pattern');
    return p;
  };

  it('names a kernel that is not installed and how to install it', () => {
    expect(kernelProblem(nb([], { kernel: 'ir', language: 'R' }), ['python3'])).toMatch(/kernel "ir" .* is not installed \(installed kernels: python3\).*r-cran-irkernel/);
    expect(kernelProblem(nb([], { kernel: 'ir', language: 'R' }), ['ir', 'python3'])).toBeNull();
    expect(kernelProblem(nb([]), [])).toBeNull();
    const { errors } = lintNotebooks([], [recipe('r', nb([], { kernel: 'julia-1.9', language: 'julia' }))], ['python3']);
    expect(errors.map((e) => [e.file, e.key])).toEqual([['recipes/r.ipynb', 'metadata.kernelspec.name'], ['recipes/r.ipynb', 'metadata.kernelspec']]);
    expect(errors[0].message).toMatch(/julia-1\.9.*IJulia/);
    expect(errors[1].message).toMatch(/no parameter translator/);
  });

  it('warns about an untagged notebook when neither pattern nor recipe chooses, naming both options', () => {
    const untagged = recipe('u', nb([code('x = 1')]));
    const warn = lintNotebooks([pattern('recipe: u\ntrigger: {paths: "a/*"}\n')], [untagged], []);
    expect(warn.errors).toEqual([]);
    expect(warn.warnings).toHaveLength(1);
    expect(warn.warnings[0].message).toMatch(/tag the cell .*"parameters".*parameterize: assignments/);
    expect(lintNotebooks([pattern('recipe: u\ntrigger: {paths: "a/*"}\nparameterize: assignments\n')], [untagged], []).warnings).toEqual([]);
    const chosen = recipe('u', { ...nb([code('x = 1')]), metadata: { meowflow: { parameterize: 'assignments' } } });
    expect(chosen.parameterize).toBe('assignments');
    expect(lintNotebooks([pattern('recipe: u\ntrigger: {paths: "a/*"}\n')], [chosen], []).warnings).toEqual([]);
  });

  it('warns about parameterize on a pattern whose recipe is not a notebook', () => {
    const script = parseRecipe('recipes/s.py', 'x = 1\n').recipe;
    if (!script) throw new Error('bad recipe');
    const { warnings } = lintNotebooks([pattern('recipe: s\ntrigger: {paths: "a/*"}\nparameterize: assignments\n')], [script], []);
    expect(warnings).toEqual([{ file: 'patterns/p.yaml', key: 'parameterize', message: 'only notebooks use "parameterize", and recipe "s" is a python recipe; remove the key' }]);
  });

  it('refuses assignments on an R notebook and a bad parameterize value', () => {
    const r = recipe('r', nb([code('x <- 1', ['parameters'])], { kernel: 'ir', language: 'R' }));
    const { errors } = lintNotebooks([pattern('recipe: r\ntrigger: {paths: "a/*"}\nparameterize: assignments\n')], [r], ['ir']);
    expect(errors.map((e) => [e.file, e.key])).toEqual([['patterns/p.yaml', 'parameterize']]);
    const bad = parsePattern('patterns/p.yaml', 'recipe: r\ntrigger: {paths: "a/*"}\nparameterize: assignment\n', { maxSweep: 100, backends: ['local'] });
    expect(bad.errors[0]).toMatchObject({ key: 'parameterize', message: expect.stringMatching(/papermill.*assignments.*did you mean "assignments"/) });
    const badRecipe = parseRecipe('recipes/x.ipynb', JSON.stringify({ ...nb([]), metadata: { meowflow: { parameterize: 'yes' } } }));
    expect(badRecipe.errors[0]).toMatchObject({ key: 'metadata.meowflow.parameterize' });
  });
});

describe('cellNumbersArg', () => {
  it('writes runs of consecutive numbers as A-B and the injected cell as -', () => {
    expect(cellNumbersArg([1, 2, null, 3, 4, 5])).toBe('1-2,-,3-5');
    expect(cellNumbersArg([null, 1])).toBe('-,1');
    expect(cellNumbersArg([2, 4, 5])).toBe('2,4-5');
    expect(cellNumbersArg(Array.from({ length: 20_000 }, (_, i) => i + 1))).toBe('1-20000');
    expect(cellNumbersArg([])).toBe('');
  });
});
