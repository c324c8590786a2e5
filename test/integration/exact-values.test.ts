/*
 * Exact values end to end: generated variables (ints beyond 2^53, floats
 * written 3.0, exponents, .inf/.nan, unicode strings, nested lists and
 * mappings) go through the real engine to a Python, a notebook, a bash, a
 * command and a JavaScript recipe, and each recipe writes back what it
 * received. Every value must arrive exactly as the pattern wrote it.
 */
import { execFileSync } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseExact, stringifyExact } from '../../src/core/exact-json.js';
import { ExactNumber, toJsValue } from '../../src/core/exact-number.js';
import { renderValue } from '../../src/core/placeholders.js';
import type { VarValue } from '../../src/core/types.js';
import { meow, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';
import { seededRandom } from '../../bench/lib/random.js';

function hasJupyter(): boolean {
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import nbclient, ipykernel'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
const JUPYTER = hasJupyter();
if (!JUPYTER && process.env.CI) throw new Error('CI: Jupyter is missing (apt-get install python3-nbclient python3-ipykernel)');
if (!JUPYTER) console.warn('SKIPPING the notebook part of the exact-values test: /usr/bin/python3 cannot import nbclient and ipykernel');

const prng = seededRandom;

// No braces (they are placeholders) and no lone surrogates (no file or YAML carries them).
const ALPHABET = ['a', 'Z', '0', ' ', '_', '-', "'", '"', '\\', '\n', '\t', '$', '`', 'é', 'ß', '日', '😀', '\u0001', '\u007f', '#', ':'];

/** A generated value with its YAML text (JSON syntax, which YAML 1.2 reads). */
function generate(rand: () => number, depth: number, nonFinite: boolean): { value: VarValue; yaml: string } {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
  const kind = pick(depth > 1 ? ['int', 'big', 'float', 'intfloat', 'exp', 'string', 'bool', 'null'] : ['int', 'big', 'float', 'intfloat', 'exp', 'string', 'bool', 'null', 'list', 'map']);
  switch (kind) {
    case 'int': {
      const n = Math.floor(rand() * 2_000_001) - 1_000_000;
      return { value: n, yaml: String(n) };
    }
    case 'big': {
      let digits = String(1 + Math.floor(rand() * 9));
      const length = 16 + Math.floor(rand() * 14);
      while (digits.length < length) digits += String(Math.floor(rand() * 10));
      const text = rand() < 0.5 ? `-${digits}` : digits;
      const b = BigInt(text);
      const safe = b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER);
      return { value: safe ? Number(b) : new ExactNumber(text, 'int'), yaml: text };
    }
    case 'float': {
      const x = Number(((rand() - 0.5) * 10 ** Math.floor(rand() * 8)).toPrecision(1 + Math.floor(rand() * 15)));
      if (Number.isInteger(x)) return { value: ExactNumber.float(x), yaml: ExactNumber.float(x).text };
      return { value: x, yaml: String(x) };
    }
    case 'intfloat': {
      if (nonFinite && rand() < 0.4) {
        const text = pick(['inf', '-inf', 'nan']);
        return { value: new ExactNumber(text, 'float'), yaml: text === 'nan' ? '.nan' : text === 'inf' ? '.inf' : '-.inf' };
      }
      const n = Math.floor(rand() * 2000) - 1000;
      return { value: ExactNumber.float(n), yaml: `${n}.0` };
    }
    case 'exp': {
      const e = Math.floor(rand() * 600) - 300;
      const x = Number(`${1 + Math.floor(rand() * 9)}e${e}`);
      return { value: Number.isInteger(x) ? ExactNumber.float(x) : x, yaml: `${String(x).replace('e+', 'e')}` };
    }
    case 'string': {
      let s = '';
      const length = Math.floor(rand() * 12);
      for (let i = 0; i < length; i++) s += pick(ALPHABET);
      // YAML does not take a raw DEL: it is escaped like the other controls.
      return { value: s, yaml: JSON.stringify(s).replaceAll('\u007f', '\\u007f') };
    }
    case 'bool': {
      const b = rand() < 0.5;
      return { value: b, yaml: String(b) };
    }
    case 'null':
      return { value: null, yaml: 'null' };
    case 'list': {
      const items = Array.from({ length: Math.floor(rand() * 4) }, () => generate(rand, depth + 1, nonFinite));
      return { value: items.map((i) => i.value), yaml: `[${items.map((i) => i.yaml).join(', ')}]` };
    }
    default: {
      const items = Array.from({ length: Math.floor(rand() * 4) }, (_, i) => ({ key: `k${i}`, ...generate(rand, depth + 1, nonFinite) }));
      return { value: Object.fromEntries(items.map((i) => [i.key, i.value])), yaml: `{${items.map((i) => `"${i.key}": ${i.yaml}`).join(', ')}}` };
    }
  }
}

/** Canonical exact JSON of a value, for comparison. */
const canon = (v: unknown): string => stringifyExact(v, { nonFinite: 'tokens' });

/** JS values with bigints and non-finite numbers spelled out, for comparison. */
const jsCanon = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) => (typeof x === 'bigint' ? `bigint:${x}` : typeof x === 'number' && !Number.isFinite(x) ? `number:${x}` : x));

const PY_DUMP = `import json, os
names = json.load(open(os.environ['MEOW_PARAMS']))
out = {k: globals()[k] for k in names if k.startswith('v')}
open(os.path.join(os.environ['MEOW_JOB_DIR'], 'got.json'), 'w').write(json.dumps(out))
open(os.path.join(os.environ['MEOW_JOB_DIR'], 'types.json'), 'w').write(json.dumps({k: type(v).__name__ for k, v in out.items()}))
`;

describe('exact values through every recipe kind', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('round-trips generated values through python, notebook, bash, command and javascript recipes', async () => {
    ws = await tempWorkspace('meow-exact-');
    const seed = 20261204;
    const rand = prng(seed);
    const finite: { name: string; value: VarValue; yaml: string }[] = [];
    const all: { name: string; value: VarValue; yaml: string }[] = [];
    // The must-haves first, then generated values.
    const fixed: [string, VarValue][] = [
      ['1733322222123456789', new ExactNumber('1733322222123456789', 'int')],
      ['9007199254740993', new ExactNumber('9007199254740993', 'int')],
      ['3.0', ExactNumber.float(3)],
      ['1e-07', 1e-7],
      ['1.5e16', ExactNumber.float(1.5e16)],
    ];
    fixed.forEach(([yaml, value], i) => finite.push({ name: `v${i}`, value, yaml }));
    for (let i = fixed.length; i < 40; i++) finite.push({ name: `v${i}`, ...generate(rand, 0, false) });
    all.push(...finite, { name: 'v900', value: new ExactNumber('inf', 'float'), yaml: '.inf' }, { name: 'v901', value: new ExactNumber('nan', 'float'), yaml: '.nan' });
    for (let i = 902; i < 920; i++) all.push({ name: `v${i}`, ...generate(rand, 0, true) });

    const vars = (list: typeof all) => list.map((v) => `  ${v.name}: ${v.yaml}\n`).join('');
    const pattern = (recipe: string, list: typeof all) => `recipe: ${recipe}\ntrigger: {paths: "data/*.txt"}\nvariables:\n${vars(list)}`;
    await ws.write('patterns/py.yaml', pattern('dump_py', all));
    await ws.write('patterns/js.yaml', pattern('dump_js', all));
    await ws.write('patterns/sh.yaml', pattern('dump_sh', finite));
    await ws.write('patterns/cmd.yaml', pattern('dump_cmd', finite));
    if (JUPYTER) await ws.write('patterns/nb.yaml', pattern('dump_nb', all));
    await ws.write('recipes/dump_py.py', `${all.map((v) => `${v.name} = None\n`).join('')}${PY_DUMP}`);
    await ws.write(
      'recipes/dump_js.mjs',
      `import { writeFileSync } from 'node:fs';
export default async (vars, ctx) => {
  const out = Object.fromEntries(Object.entries(vars).filter(([k]) => k.startsWith('v')));
  writeFileSync(ctx.jobDir + '/got.json', JSON.stringify(out, (_k, x) => (typeof x === 'bigint' ? 'bigint:' + x : typeof x === 'number' && !Number.isFinite(x) ? 'number:' + x : x)));
  return { ts: vars.v0, next: vars.v0 + 1n };
};
`,
    );
    await ws.write('recipes/dump_sh.sh', `for n in ${finite.map((v) => v.name).join(' ')}; do printf '%s' "\${!n}" > "$MEOW_JOB_DIR/env_$n"; done\ncp "$MEOW_PARAMS" "$MEOW_JOB_DIR/params_copy.json"\n`);
    await ws.write(
      'recipes/dump_cmd.yaml',
      `command: [/usr/bin/python3, -c, "import json, os, sys; open(os.environ['MEOW_JOB_DIR'] + '/argv.json', 'w').write(json.dumps(sys.argv[1:]))", ${finite.map((v) => `"{${v.name}}"`).join(', ')}]\n`,
    );
    if (JUPYTER) {
      const cell = (source: string, tags: string[] = []) => ({ cell_type: 'code', metadata: { tags }, source, outputs: [], execution_count: null });
      await ws.write(
        'recipes/dump_nb.ipynb',
        JSON.stringify({
          nbformat: 4,
          nbformat_minor: 5,
          metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
          cells: [cell(all.map((v) => `${v.name} = None`).join('\n'), ['parameters']), cell(PY_DUMP)],
        }),
      );
    }
    await ws.write('data/a.txt', 'x');

    const validate = await meow(['-w', ws.root, 'validate']);
    expect(validate.stderr).toBe('');
    expect(validate.code).toBe(0);
    const run = await meow(['-w', ws.root, 'run', '--until-idle', '--no-tui'], { timeoutMs: 300_000 });
    expect(run.stdout).toMatch(/idle: \d+ succeeded, 0 failed/);
    const jobs = parseExact((await meow(['-w', ws.root, 'jobs', '--json'])).stdout) as { pattern: string; job_dir: string; status: string; error: string | null }[];
    const dir = (pattern: string) => join(ws.root, jobs.find((j) => j.pattern === pattern)?.job_dir ?? 'missing');
    expect(jobs.map((j) => [j.pattern, j.status, j.error])).toEqual(jobs.map((j) => [j.pattern, 'succeeded', null]));

    const expected = Object.fromEntries(all.map((v) => [v.name, v.value]));
    // Python and the notebook: json.dumps of what the recipe saw, and the Python types (3.0 is a float).
    for (const p of JUPYTER ? ['py', 'nb'] : ['py']) {
      const got = parseExact(await readFile(join(dir(p), 'got.json'), 'utf8'));
      expect(canon(got), `${p} recipe, seed ${seed}`).toBe(canon(expected));
      const types = JSON.parse(await readFile(join(dir(p), 'types.json'), 'utf8')) as Record<string, string>;
      expect(types.v0).toBe('int');
      expect(types.v2).toBe('float');
      expect(types.v900).toBe('float');
    }
    // JavaScript: bigints beyond the safe range, numbers otherwise.
    const gotJs = await readFile(join(dir('js'), 'got.json'), 'utf8');
    expect(gotJs, `js recipe, seed ${seed}`).toBe(jsCanon(toJsValue(expected)));
    // A bigint the function returns is recorded exactly.
    const jsJob = jobs.find((j) => j.pattern === 'js') as unknown as { result: unknown };
    expect(canon(jsJob.result)).toBe('{"ts":1733322222123456789,"next":1733322222123456790}');
    // Bash: every variable as text, exactly as placeholders render it; MEOW_PARAMS with exact numbers.
    for (const v of finite) {
      expect(await readFile(join(dir('sh'), `env_${v.name}`), 'utf8'), `bash ${v.name} = ${v.yaml}, seed ${seed}`).toBe(renderValue(v.value));
    }
    // Floats as text as Python writes them, as the docs show (patterns.md).
    expect([await readFile(join(dir('sh'), 'env_v2'), 'utf8'), await readFile(join(dir('sh'), 'env_v3'), 'utf8'), await readFile(join(dir('sh'), 'env_v4'), 'utf8')]).toEqual(['3.0', '1e-07', '1.5e+16']);
    // `meow job show` prints YAML with the same exact numbers as --json.
    const shown = (await meow(['-w', ws.root, 'job', 'show', jobs.find((j) => j.pattern === 'py')?.job_dir.split('/').pop() ?? 'missing'])).stdout;
    expect(shown).toContain('  v0: 1733322222123456789\n');
    expect(shown).toContain('  v2: 3.0\n');
    expect(shown).toContain('  v900: .inf\n');
    expect(shown).toContain('  v901: .nan\n');
    const params = parseExact(await readFile(join(dir('sh'), 'params_copy.json'), 'utf8')) as Record<string, VarValue>;
    delete params.input_file;
    expect(canon(params)).toBe(canon(Object.fromEntries(finite.map((v) => [v.name, v.value]))));
    expect(await readFile(join(dir('sh'), 'params_copy.json'), 'utf8')).toContain('"v0": 1733322222123456789');
    // Command: one argv element per placeholder, exactly.
    const argv = JSON.parse(await readFile(join(dir('cmd'), 'argv.json'), 'utf8')) as string[];
    expect(argv).toEqual(finite.map((v) => renderValue(v.value)));
    expect(argv.slice(0, 3)).toEqual(['1733322222123456789', '9007199254740993', '3.0']);
  }, 300_000);
});
