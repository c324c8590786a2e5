import { createHash } from 'node:crypto';
import { describe, it, expect } from 'vitest';
import { parsePattern } from '../../src/core/pattern-schema.js';
import { ExactNumber } from '../../src/core/exact-number.js';
import type { DefinitionError } from '../../src/core/types.js';

const FILE = 'patterns/seg.yaml';
const OPTS = { maxSweep: 10_000, backends: ['local', 'cluster'] };
const KNOWN_BUILTINS = '{path}, {abspath}, {dir}, {name}, {stem}, {ext}, {event}, {job_id}, {job_dir}, {pattern}, {recipe}, {workspace}';

function parse(text: string, opts = OPTS) {
  return parsePattern(FILE, text, opts);
}

/** The errors as `key | message`, easy to compare exactly. */
function errorsOf(text: string, opts = OPTS): string[] {
  const { pattern, errors } = parse(text, opts);
  if (errors.length > 0) expect(pattern).toBeNull();
  for (const e of errors) expect(e).toMatchObject({ file: FILE, code: 'MEOW_PATTERN_INVALID' } satisfies Partial<DefinitionError>);
  return errors.map((e) => `${e.key} | ${e.message}`);
}

const MINIMAL = 'recipe: segmentation\ntrigger:\n  paths: "data/*.txt"\n';

describe('parsePattern: valid patterns', () => {
  it('fills every default from a minimal pattern', () => {
    const { pattern, errors } = parse(MINIMAL);
    expect(errors).toEqual([]);
    expect(pattern).toEqual({
      name: 'seg',
      file: FILE,
      hash: createHash('sha256').update(MINIMAL).digest('hex'),
      recipe: 'segmentation',
      trigger: { paths: ['data/*.txt'], events: ['created', 'modified'], ignore: [], settleMs: 0 },
      input: 'input_file',
      variables: {},
      sweep: {},
      outputs: [],
      backend: 'local',
      resources: { cpus: 1, gpus: 0, memory: null },
      timeoutMs: null,
      retries: 0,
      loop: false,
      collect: null,
      batch: null,
      inputs: [],
    });
  });

  it('normalises the full example of DESIGN.md', () => {
    const text = `
name: segment_foam
recipe: segmentation
trigger:
  paths: "./data/accepted/*.txt"
  events: [created, modified, created]
  ignore: "**/*.part"
  settle: 250ms
input: infile
variables:
  kernel_size: 3
  out: "data/segmented/{stem}_{method}.npy"
  nested: {files: ["{infile}", "{{literal}}"], flag: true, none: null}
sweep:
  threshold: {start: 0.1, stop: 0.3, step: 0.1}
  method: [otsu, li]
outputs: ["data/segmented/{stem}_*.npy"]
backend: cluster
resources: {cpus: 2, gpus: 1, memory: 2GiB}
timeout: 30m
retries: 2
loop: true
`;
    const { pattern, errors } = parse(text);
    expect(errors).toEqual([]);
    expect(pattern).toMatchObject({
      name: 'segment_foam',
      trigger: { paths: ['data/accepted/*.txt'], events: ['created', 'modified'], ignore: ['**/*.part'], settleMs: 250 },
      input: 'infile',
      variables: { kernel_size: 3, out: 'data/segmented/{stem}_{method}.npy', nested: { files: ['{infile}', '{{literal}}'], flag: true, none: null } },
      sweep: { threshold: { start: 0.1, stop: 0.3, step: 0.1 }, method: ['otsu', 'li'] },
      outputs: ['data/segmented/{stem}_*.npy'],
      backend: 'cluster',
      resources: { cpus: 2, gpus: 1, memory: 2 * 1024 ** 3 },
      timeoutMs: 30 * 60_000,
      retries: 2,
      loop: true,
    });
  });

  it('accepts a single event, a list of paths, null timeout and glob braces in outputs', () => {
    const { pattern, errors } = parse('recipe: r\ntrigger: {paths: [a/*.txt, b/*.csv], events: deleted}\ntimeout: null\noutputs: "out/{a,b}/{stem}.txt"\n');
    expect(errors).toEqual([]);
    expect(pattern?.trigger).toMatchObject({ paths: ['a/*.txt', 'b/*.csv'], events: ['deleted'] });
    expect(pattern?.timeoutMs).toBeNull();
    expect(pattern?.outputs).toEqual(['out/{a,b}/{stem}.txt']);
  });
});

describe('parsePattern: errors', () => {
  it('names line and column of a YAML syntax error', () => {
    expect(errorsOf('recipe: seg\ntrigger:\n  paths: [a\n')).toEqual([
      ' | invalid YAML at line 4, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
    expect(errorsOf('recipe: a\nrecipe: b\ntrigger: {paths: x}\n')).toEqual([
      ' | invalid YAML at line 2, column 1: this key appears twice in the same mapping; keep one',
    ]);
    expect(errorsOf(`${MINIMAL}---\nrecipe: other\n`)).toEqual([
      ' | invalid YAML at line 4, column 1: a second YAML document ("---") starts here; a definition file holds exactly one',
    ]);
  });

  it('rejects an empty file and a file that is not a mapping', () => {
    expect(errorsOf('')).toEqual([' | the file is empty; a pattern needs at least "recipe" and "trigger.paths"']);
    expect(errorsOf('# nothing\n')).toEqual([' | the file is empty; a pattern needs at least "recipe" and "trigger.paths"']);
    expect(errorsOf('- a\n- b\n')).toEqual([' | expected a mapping with keys like "recipe:" and "trigger:", got a list']);
    expect(errorsOf('just text\n')).toEqual([' | expected a mapping with keys like "recipe:" and "trigger:", got the string "just text"']);
  });

  it('says what type was expected and what it got', () => {
    expect(errorsOf('recipe: seg\ntrigger:\n  paths: 3\n')).toEqual(['trigger.paths | expected a glob or a list of globs, got the number 3']);
    expect(errorsOf('recipe: seg\ntrigger:\n  paths: [a, 3]\n')).toEqual(['trigger.paths[1] | expected a glob (a string), got the number 3']);
    expect(errorsOf('recipe: seg\ntrigger:\n  paths: []\n')).toEqual(['trigger.paths | expected a glob or a list of globs, got an empty list']);
  });

  it('rejects unknown keys with a did-you-mean suggestion', () => {
    expect(errorsOf('recipe: seg\ntrigger: {paths: x}\nvariabels: {a: 1}\n')).toEqual([
      'variabels | unknown key "variabels" (did you mean "variables"?); a pattern allows: name, recipe, trigger, input, variables, sweep, outputs, backend, resources, timeout, retries, loop, parameterize, cascade_cancelled, collect, batch, inputs',
    ]);
    expect(errorsOf('recipe: seg\ntrigger: {paths: x, event: created}\n')).toEqual([
      'trigger.event | unknown key "event" (did you mean "events"?); trigger allows: paths, events, ignore, settle',
    ]);
    expect(errorsOf('recipe: seg\ntrigger: {paths: x}\nresources: {cpu: 2}\n')).toEqual([
      'resources.cpu | unknown key "cpu" (did you mean "cpus"?); resources allows: cpus, gpus, memory',
    ]);
  });

  it('reports missing required keys', () => {
    expect(errorsOf('name: x\n')).toEqual([
      'recipe | missing; name the recipe to run, e.g. "recipe: segmentation"',
      'trigger | missing; say which files trigger the pattern, e.g. "trigger: {paths: \\"data/*.txt\\"}"',
    ]);
    expect(errorsOf('recipe: r\ntrigger: {}\n')).toEqual(['trigger.paths | missing; give a glob or a list of globs, e.g. "data/*.txt"']);
  });

  it('rejects absolute globs and globs that leave the workspace', () => {
    expect(errorsOf('recipe: seg\ntrigger: {paths: ["/abs/*.txt", "data/../../x/*"]}\n')).toEqual([
      'trigger.paths[0] | "/abs/*.txt" is an absolute path, so it can never match: globs match paths relative to the workspace; write the glob from the workspace root, e.g. "data/*.txt"',
      'trigger.paths[1] | "data/../../x/*" uses "..", so it can never match: only files inside the workspace are watched; write the glob from the workspace root, e.g. "data/*.txt", and keep the data inside the workspace',
    ]);
  });

  it('says how to quote globs and placeholders that YAML reads as something else', () => {
    expect(errorsOf('recipe: seg\ntrigger:\n  paths: *.txt\n')).toEqual([
      ' | invalid YAML at line 3, column 10: *.txt is read as a YAML alias (a reference to an "&anchor"), and there is no such anchor; quote the value: "*.txt"',
    ]);
    expect(errorsOf(`${MINIMAL}variables:\n  out: {stem}\n`)).toEqual([
      ' | invalid YAML at line 5, column 8: {stem} is read as a YAML mapping, not as text; if it is text (a placeholder), quote it: "{stem}"',
    ]);
    expect(errorsOf(`${MINIMAL}variables:\n  out: {stem}.npy\n`)).toEqual([
      ' | invalid YAML at line 5, column 14: Unexpected scalar at node end; a value that starts with "{" is read as a YAML mapping: quote it, e.g. "{stem}.npy"',
    ]);
    // Anchors and aliases that resolve, and flow mappings with values, are fine.
    expect(errorsOf(`${MINIMAL}variables:\n  a: &k 3\n  b: *k\n  c: {x: 1}\n`)).toEqual([]);
  });

  it('reports a misspelt required key once, as unknown', () => {
    expect(errorsOf('recipe: seg\ntriger:\n  paths: "data/*"\n')).toEqual([
      'triger | unknown key "triger" (did you mean "trigger"?); a pattern allows: name, recipe, trigger, input, variables, sweep, outputs, backend, resources, timeout, retries, loop, parameterize, cascade_cancelled, collect, batch, inputs',
    ]);
    expect(errorsOf('recipie: seg\ntrigger: {path: "data/*"}\n')).toEqual([
      'recipie | unknown key "recipie" (did you mean "recipe"?); a pattern allows: name, recipe, trigger, input, variables, sweep, outputs, backend, resources, timeout, retries, loop, parameterize, cascade_cancelled, collect, batch, inputs',
      'trigger.path | unknown key "path" (did you mean "paths"?); trigger allows: paths, events, ignore, settle',
    ]);
  });

  it('says to unquote a quoted number and to put a space after a colon', () => {
    expect(errorsOf(`${MINIMAL}retries: "3"\n`)).toEqual(['retries | expected a whole number of at least 0, got the string "3"; write the number without quotes: retries: 3']);
    expect(errorsOf('recipe: seg\ntrigger:\n  paths:"data/*"\n')).toEqual([
      'trigger | expected a mapping with "paths" and optionally "events", "ignore", "settle", got the string "paths:"data/*""; a key needs a space after its colon: write paths: "data/*"',
    ]);
  });

  it('reports an unknown placeholder with the known ones and a suggestion', () => {
    expect(errorsOf(`${MINIMAL}variables:\n  k: 3\n  out: "out/{stme}.npy"\n`)).toEqual([
      `variables.out | unknown placeholder {stme} (did you mean {stem}?); known placeholders: ${KNOWN_BUILTINS}, {input_file}, {k}, {out}`,
    ]);
    expect(errorsOf(`${MINIMAL}variables: {files: [a, {x: "{zzz}"}]}\noutputs: [ok, "{qqq}"]\n`)).toEqual([
      `variables.files[1].x | unknown placeholder {zzz}; known placeholders: ${KNOWN_BUILTINS}, {input_file}, {files}`,
      `outputs[1] | unknown placeholder {qqq}; known placeholders: ${KNOWN_BUILTINS}, {input_file}, {files}`,
    ]);
    // Each unknown name once, each known name once (a variable that is also the input is listed once).
    expect(errorsOf(`${MINIMAL}input: k\nvariables:\n  k: 3\n  out: "{zz}/{zz}.npy"\n`).filter((e) => e.includes('{zz}'))).toEqual([
      `variables.out | unknown placeholder {zz}; known placeholders: ${KNOWN_BUILTINS}, {k}, {out}`,
    ]);
  });

  it('reports a malformed placeholder', () => {
    expect(errorsOf(`${MINIMAL}variables: {out: "{my-var}.txt"}\n`)).toEqual([
      'variables.out | "{my-var}" is not a valid placeholder; placeholder names use letters, digits and "_" and do not start with a digit (write "{{" and "}}" for literal braces)',
    ]);
  });

  it('rejects a sweep larger than max_sweep, naming the count and the limit', () => {
    const text = `${MINIMAL}sweep:\n  a: {start: 1, stop: 1000, step: 1}\n  b: {start: 1000, stop: 10000, step: 200}\n`;
    expect(errorsOf(text)).toEqual(['sweep | the sweep has 46000 points, more than the limit of 10000; shrink the sweep or raise max_sweep in meow.yaml']);
    expect(parse(text, { ...OPTS, maxSweep: 46_000 }).errors).toEqual([]);
  });

  it('rejects ranges that never reach stop and malformed sweep entries', () => {
    const text = `${MINIMAL}sweep:\n  a: {start: 1, stop: 10, step: -1}\n  b: {start: 1, stop: 10, step: 0}\n  c: []\n  d: {start: 1, stop: x}\n  e: 5\n`;
    expect(errorsOf(text)).toEqual([
      'sweep.a.step | the step -1 points away from stop (1 → 10); use a positive step',
      'sweep.b.step | the step is 0, so the range never reaches stop; use a non-zero step',
      'sweep.c | expected at least one value, got an empty list',
      'sweep.d.stop | expected a number, got the string "x"',
      'sweep.d.step | missing; a range {start, stop, step} or a list of values needs all three numbers',
      'sweep.e | expected a range {start, stop, step} or a list of values, got the number 5',
    ]);
  });

  it('rejects names used twice among variables, sweep and input', () => {
    expect(errorsOf(`${MINIMAL}variables: {a: 1, input_file: x}\nsweep: {a: [1, 2]}\n`)).toEqual([
      'sweep.a | "a" is both a variable and a sweep variable; remove it from one of them',
      'variables.input_file | "input_file" is the input variable (it receives the triggering file\'s path); rename the variable or set "input:" to another name',
    ]);
  });

  it('keeps numbers exactly as written: big ints, floats written 3.0, .inf and .nan', () => {
    const { pattern, errors } = parsePattern('patterns/p.yaml', `${MINIMAL}variables: {ts: 1733322222123456789, n: -9007199254740993, f: 3.0, e: 1e3, i: .inf, m: -.inf, x: .nan, s: 7, h: 0.5}\n`, OPTS);
    expect(errors).toEqual([]);
    const v = pattern?.variables ?? {};
    expect(Object.fromEntries(Object.entries(v).map(([k, x]) => [k, x instanceof ExactNumber ? `${x.kind}:${x.text}` : x]))).toEqual({
      ts: 'int:1733322222123456789',
      n: 'int:-9007199254740993',
      f: 'float:3.0',
      e: 'float:1000.0',
      i: 'float:inf',
      m: 'float:-inf',
      x: 'float:nan',
      s: 7,
      h: 0.5,
    });
  });

  it('reports variable cycles and placeholders reading the environment outside variables', () => {
    expect(errorsOf(`${MINIMAL}variables: {a: "{b}", b: "{c}", c: "{a}"}\noutputs: ["out/{env:HOME}"]\n`)).toEqual([
      'outputs[0] | {env:HOME}: only variables may read the environment; add a variable (home: "{env:HOME}") and write {home} here',
      'variables.a | circular reference: a → b → c → a; each of them waits for the next, so none has a value; replace one of the references with a value',
    ]);
  });

  it('lists the defined backends for an unknown backend', () => {
    expect(errorsOf(`${MINIMAL}backend: clustr\n`)).toEqual([
      'backend | unknown backend "clustr" (did you mean "cluster"?); meow.yaml defines: local, cluster. Use one of them, or add "clustr" under "backends:" in meow.yaml',
    ]);
  });

  it('collects every error of the file, not just the first', () => {
    const text = 'name: "bad name"\nrecipe: 7\ntrigger: {paths: x, events: [created, touched], settle: soon}\ninput: 1x\nresources: {cpus: 0, gpus: 1.5, memory: lots}\ntimeout: 0\nretries: -1\nloop: "yes"\n';
    expect(errorsOf(text)).toEqual([
      'name | "bad name" is not a valid pattern name; names start with a letter or digit and use only letters, digits, "_", "." and "-"',
      'recipe | expected a recipe name (a string), got the number 7',
      'trigger.events[1] | expected one of created, modified, deleted or moved, got the string "touched"',
      'trigger.settle | expected a duration like "250ms", "30s", "30m", "2h" or a number of seconds, got "soon"',
      'input | "1x" is not a valid variable name; use letters, digits and "_", not starting with a digit',
      'resources.cpus | expected a positive whole number, got the number 0',
      'resources.gpus | expected a whole number of at least 0, got the number 1.5',
      'resources.memory | expected a size like "2GiB", "512MB" or a number of bytes, got "lots"',
      'timeout | a timeout of 0 would stop every job at once; give a positive duration like "30m", or null for none',
      'retries | expected a whole number of at least 0, got the number -1',
      'loop | expected true or false, got the string "yes"',
    ]);
  });

  it('rejects a file stem that is not a valid name when no name is given', () => {
    const { errors } = parsePattern('patterns/my seg.yaml', MINIMAL, OPTS);
    expect(errors.map((e) => `${e.key} | ${e.message}`)).toEqual([
      'name | the file name gives the pattern name "my seg", which is not valid; names start with a letter or digit and use only letters, digits, "_", "." and "-". Rename the file or set "name:"',
    ]);
    expect(parsePattern('patterns/my seg.yaml', `name: ok\n${MINIMAL}`, OPTS).errors).toEqual([]);
  });
});
