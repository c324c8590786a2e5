import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import type { Variables, VarValue } from '../../src/core/types.js';
import { isPythonIdentifier, pythonLiteral } from '../../src/runner/python-literal.js';
import {
  isPercentScript,
  parameterisePercentScript,
  parameteriseScript,
} from '../../src/runner/python-params.js';
import { requireComponent } from '../helpers/components.js';

const PYTHON = '/usr/bin/python3';
/** Needs a real Python: fails in CI when it is missing, skips loudly elsewhere. */
const python3 = requireComponent('Python 3', () => (spawnSync(PYTHON, ['-c', 'pass']).status === 0 ? null : `${PYTHON} is not installed (apt-get install python3)`));

/** Runs a Python program and returns its stdout. */
function python(code: string): string {
  if (python3.missing) throw new Error(python3.missing);
  const r = spawnSync(PYTHON, ['-c', code], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}\n--- program ---\n${code}`);
  return r.stdout;
}

/** Runs a whole script and returns the JSON it prints last. */
function runScript(text: string): unknown {
  const out = python(text).trim().split('\n');
  return JSON.parse(out[out.length - 1]);
}

describe('pythonLiteral', () => {
  it('renders scalars, lists and dicts', () => {
    expect(pythonLiteral(null)).toBe('None');
    expect(pythonLiteral(true)).toBe('True');
    expect(pythonLiteral(false)).toBe('False');
    expect(pythonLiteral(42)).toBe('42');
    expect(pythonLiteral(-7)).toBe('-7');
    expect(pythonLiteral(0.5)).toBe('0.5');
    expect(pythonLiteral(1e-7)).toBe('1e-7');
    expect(pythonLiteral(1e21)).toBe('1e+21');
    expect(pythonLiteral(-0)).toBe('-0.0');
    expect(pythonLiteral(Infinity)).toBe("float('inf')");
    expect(pythonLiteral('plain')).toBe("'plain'");
    expect(pythonLiteral("it's")).toBe('"it\'s"');
    expect(pythonLiteral('both \' and "')).toBe("'both \\' and \"'");
    expect(pythonLiteral('a\\b\n\t\x00\x7f')).toBe("'a\\\\b\\n\\t\\x00\\x7f'");
    expect(pythonLiteral([1, 'x', [null]])).toBe("[1, 'x', [None]]");
    expect(pythonLiteral({ a: 1, 'b c': { d: [true] } })).toBe("{'a': 1, 'b c': {'d': [True]}}");
    expect(pythonLiteral([])).toBe('[]');
    expect(pythonLiteral({})).toBe('{}');
  });

  const samples: VarValue[] = [
    0, 1, -1, 42, 2 ** 53 - 1, -(2 ** 53) + 1, 0.1, 0.5, 1.5, -2.25, 1 / 3, 1e-7, 6.02e23, 1e21, 5e-324, 1.7976931348623157e308,
    '', 'hello', "it's", 'say "hi"', 'both \' and "', 'back\\slash', 'new\nline\r\ttab', '\x00\x01\x1f\x7f\x80\x9f',
    'café Ω 日本語', 'emoji 😺', '\u200b zero width', '\u2028 line sep', '\ud800 lone', '/tmp/data/with space/x.txt',
    true, false, null, [], {}, [1, [2, [3, 'x']]], { a: 1, b: [true, null], 'k"ey': { 'it\'s': 0.25 } },
  ];

  python3.it('evaluates in Python to the very same values', () => {
    const program = `import json\nvals = [\n${samples.map((v) => `    ${pythonLiteral(v)},`).join('\n')}\n]\nprint(json.dumps(vals))`;
    expect(JSON.parse(python(program))).toEqual(samples);
  });

  python3.it('escapes strings exactly as repr() does', () => {
    const strings = samples.filter((v): v is string => typeof v === 'string' && !v.includes('\ud800'));
    const program = `import json\nprint(json.dumps([repr(s) for s in [${strings.map(pythonLiteral).join(', ')}]]))`;
    expect(JSON.parse(python(program))).toEqual(strings.map(pythonLiteral));
  });

  python3.it('keeps ints ints and floats floats', () => {
    const program = `print(' '.join(type(v).__name__ for v in [${[3, 3.5, 1e21, -0, 2 ** 53 - 1].map((v) => pythonLiteral(v)).join(', ')}]))`;
    expect(python(program).trim()).toBe('int float float float int');
  });

  it('knows which names Python can assign', () => {
    expect(isPythonIdentifier('threshold')).toBe(true);
    expect(isPythonIdentifier('_x1')).toBe(true);
    expect(isPythonIdentifier('größe')).toBe(true);
    expect(isPythonIdentifier('my-var')).toBe(false);
    expect(isPythonIdentifier('1x')).toBe(false);
    expect(isPythonIdentifier('class')).toBe(false);
  });
});

describe('parameteriseScript', () => {
  it('replaces the first top-level assignment and keeps the rest', () => {
    const src = 'import os\nthreshold = 10  # percent\nname = "x"\nprint(threshold, name)\n';
    const { text, warnings } = parameteriseScript(src, { threshold: 42 });
    expect(text).toBe('import os\nthreshold = 42  # percent\nname = "x"\nprint(threshold, name)\n');
    expect(warnings).toEqual([]);
  });

  it('replaces annotated and multi-line defaults whole', () => {
    const src = [
      'limit: int = 3',
      'opts = {',
      "    'a': [1,",
      '          2],  # nested',
      "    'b': \"}\",",
      '}',
      'total = 1 + \\',
      '    2',
      'doc = """',
      'limit = 99',
      '"""',
      'import json',
      'print(json.dumps([limit, opts, total, doc]))',
      '',
    ].join('\n');
    const vars: Variables = { limit: 7, opts: { z: [true] }, total: 0.5 };
    const { text } = parameteriseScript(src, vars);
    expect(text).toContain("limit = 7\nopts = {'z': [True]}\ntotal = 0.5\ndoc = \"\"\"\nlimit = 99\n\"\"\"\n");
    if (python3.ready()) expect(runScript(text)).toEqual([7, { z: [true] }, 0.5, '\nlimit = 99\n']);
  });

  it('inserts unassigned variables after shebang, encoding, docstring and __future__ imports', () => {
    const src = [
      '#!/usr/bin/env python3',
      '# -*- coding: utf-8 -*-',
      '"""A recipe.',
      '',
      'x = 1 in the docstring is not code."""',
      'from __future__ import annotations',
      'import json',
      'def f():',
      '    input_file = "indented, not top level"',
      '    return input_file',
      'print(json.dumps([input_file, f()]))',
      '',
    ].join('\n');
    const { text } = parameteriseScript(src, { input_file: '/data/a b.txt' });
    expect(text.split('\n').slice(5, 8)).toEqual([
      'from __future__ import annotations',
      '# Parameters (injected by meowflow)',
      "input_file = '/data/a b.txt'",
    ]);
    if (python3.ready()) expect(runScript(text)).toEqual(['/data/a b.txt', 'indented, not top level']);
  });

  it('handles chained and semicolon statements and reports reassignments and bad names', () => {
    const src = 'a = b = 1; c = 2\nd = 3\nd = 4\nimport json\nprint(json.dumps([a, b, c, d]))\n';
    const { text, warnings } = parameteriseScript(src, { a: 10, c: 30, d: 40, 'my-var': 1 });
    expect(text.startsWith('a = b = 1; c = 30\na = 10\nd = 40\nd = 4\n')).toBe(true);
    expect(warnings).toHaveLength(2);
    expect(warnings[0]).toMatch(/"my-var" is not a Python identifier.*MEOW_PARAMS/);
    expect(warnings[1]).toMatch(/line 3 assigns "d" again/);
    if (python3.ready()) expect(runScript(text)).toEqual([10, 1, 30, 4]);
  });

  it('does not mistake comparisons or strings for assignments', () => {
    const src = "x == 1\ns = 'x = 5'\nx = 2\n";
    expect(parameteriseScript(src, { x: 9 }).text).toBe("x == 1\ns = 'x = 5'\nx = 9\n");
  });

  it('inserts at the top of a script with no header and no final newline', () => {
    expect(parameteriseScript('print(x)', { x: 1 }).text).toBe('# Parameters (injected by meowflow)\nx = 1\nprint(x)');
    expect(parameteriseScript('"""doc"""', { x: 1 }).text).toBe('"""doc"""\n# Parameters (injected by meowflow)\nx = 1\n');
  });
});

describe('parameterisePercentScript', () => {
  const src = [
    '# %% [markdown]',
    '# A title',
    '',
    '# %% tags=["parameters"]',
    'threshold = 10',
    '',
    '# %% tags=["injected-parameters"]',
    '# Parameters',
    'threshold = 1',
    '',
    '# %%',
    'print(threshold)',
    '',
  ].join('\n');

  it('recognises percent scripts', () => {
    expect(isPercentScript(src)).toBe(true);
    expect(isPercentScript('x = 1\n# not a %% marker\n')).toBe(false);
  });

  it('injects a cell after the parameters cell, replacing an earlier one', () => {
    const { text } = parameterisePercentScript(src, { threshold: 42, name: 'n' });
    expect(text).toBe([
      '# %% [markdown]', '# A title', '',
      '# %% tags=["parameters"]', 'threshold = 10', '',
      '# %% tags=["injected-parameters"]', '# Parameters', 'threshold = 42', "name = 'n'", '',
      '# %%', 'print(threshold)', '',
    ].join('\n'));
  });

  it('accepts [parameters] as the marker, also as the last cell without a final newline', () => {
    const { text } = parameterisePercentScript('# %% [parameters]\nx = 1', { x: 2 });
    expect(text).toBe('# %% [parameters]\nx = 1\n\n# %% tags=["injected-parameters"]\n# Parameters\nx = 2\n');
  });

  it('falls back to plain replacement when no cell is tagged parameters', () => {
    const { text } = parameterisePercentScript('# %%\nx = 1\n\n# %%\nprint(x)\n', { x: 2 });
    expect(text).toBe('# %%\nx = 2\n\n# %%\nprint(x)\n');
  });
});
