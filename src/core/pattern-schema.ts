/**
 * Pattern files (`patterns/*.yaml`): YAML text in, a normalised
 * `ParsedPattern` or every error of the file out. See DESIGN.md "Pattern file".
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { rangeInBigInts, sweepSize } from '../rules/sweep.js';
import { Fields, NAME_RE, NAME_RULE, isMapping, isVarValue, joinKey, listWords, plainFloat } from './definition-fields.js';
import { describe } from './durations.js';
import { ExactNumber } from './exact-number.js';
import { checkFanIn, readBatch, readCollect } from './fan-in-schema.js';
import { BUILTIN_PLACEHOLDERS, envOutsideVariablesMessage, findEnvPlaceholders, findPlaceholders, unsetEnvMessage } from './placeholders.js';
import { variableCycles } from '../rules/variables.js';
import { closest, didYouMean } from './suggest.js';
import { EVENT_KINDS, PARAMETERIZE_MODES } from './types.js';
import type { DefinitionError, EventKind, ParsedPattern, Resources, SweepRange, SweepSpec, Trigger, Variables, VarValue } from './types.js';

export const PATTERN_KEYS = [
  'name',
  'recipe',
  'trigger',
  'input',
  'variables',
  'sweep',
  'outputs',
  'backend',
  'resources',
  'timeout',
  'retries',
  'loop',
  'parameterize',
  'cascade_cancelled',
  'collect',
  'batch',
  'inputs',
] as const;
export const TRIGGER_KEYS = ['paths', 'events', 'ignore', 'settle'] as const;
export const RESOURCE_KEYS = ['cpus', 'gpus', 'memory'] as const;
export const RANGE_KEYS = ['start', 'stop', 'step'] as const;
const DEFAULT_EVENTS: EventKind[] = ['created', 'modified'];

/** What the pattern parser needs to know about the workspace. */
export interface PatternParseOptions {
  /** The most jobs one trigger may create (`max_sweep` in meow.yaml). */
  maxSweep: number;
  /** The backend names meow.yaml defines. */
  backends: string[];
  /** The environment `{env:NAME}` reads; when given, a variable reading an unset name is an error. */
  env?: Readonly<Record<string, string | undefined>>;
}

/**
 * Parses one pattern file. `file` is workspace-relative (`patterns/seg.yaml`).
 * The pattern is null whenever there is any error; all errors are reported.
 */
export function parsePattern(
  file: string,
  text: string,
  opts: PatternParseOptions,
): { pattern: ParsedPattern | null; errors: DefinitionError[] } {
  const f = new Fields(file, 'MEOW_PATTERN_INVALID');
  const loaded = f.loadYaml(text);
  if (!loaded.ok) return { pattern: null, errors: f.errors };
  const raw = loaded.value;
  if (raw === null || raw === undefined) {
    f.error('', 'the file is empty; a pattern needs at least "recipe" and "trigger.paths"');
    return { pattern: null, errors: f.errors };
  }
  const doc = f.mapping('', raw, 'a mapping with keys like "recipe:" and "trigger:"');
  if (!doc) return { pattern: null, errors: f.errors };
  // A misspelt key is reported once, as unknown, not again as missing.
  const misspelt = f.checkKeys('', doc, PATTERN_KEYS, 'a pattern');

  const name = readName(f, file, doc.name);
  const recipe =
    doc.recipe === undefined
      ? missing(f, misspelt, 'recipe', 'missing; name the recipe to run, e.g. "recipe: segmentation"')
      : f.name('recipe', doc.recipe, 'recipe');
  const trigger = doc.trigger === undefined && misspelt.has('trigger') ? undefined : readTrigger(f, doc.trigger);
  const collect = doc.collect === undefined || doc.collect === null ? null : readCollect(f, doc.collect);
  const batch = doc.batch === undefined || doc.batch === null ? null : readBatch(f, doc.batch);
  checkFanIn(f, doc.collect ?? undefined, doc.batch ?? undefined, trigger?.events);
  const defaultInput = doc.collect != null || doc.batch != null ? 'input_files' : 'input_file';
  const input = doc.input === undefined ? defaultInput : f.identifier('input', doc.input);
  const inputs = doc.inputs === undefined ? [] : f.globs('inputs', doc.inputs, { nonEmpty: false });
  const variables = doc.variables === undefined ? {} : readVariables(f, doc.variables);
  const sweep = doc.sweep === undefined ? {} : readSweep(f, doc.sweep, opts.maxSweep);
  const outputs = doc.outputs === undefined ? [] : f.globs('outputs', doc.outputs, { nonEmpty: false });
  const backend = doc.backend === undefined ? 'local' : readBackend(f, doc.backend, opts.backends);
  const resources = readResources(f, doc.resources);
  const timeoutMs = doc.timeout === undefined || doc.timeout === null ? null : readTimeout(f, doc.timeout);
  const retries = doc.retries === undefined ? 0 : f.int('retries', doc.retries, 0);
  const loop = doc.loop === undefined ? false : f.boolean('loop', doc.loop);
  const parameterize = doc.parameterize === undefined ? undefined : f.oneOf('parameterize', doc.parameterize, PARAMETERIZE_MODES);
  const cascadeCancelled = doc.cascade_cancelled === undefined ? false : f.boolean('cascade_cancelled', doc.cascade_cancelled);

  // Checked even when other keys are broken, so one pass reports every error; a
  // broken input name falls back to what was written so its placeholder still resolves.
  const inputName = input ?? (typeof doc.input === 'string' ? doc.input : defaultInput);
  checkNames(f, variables, sweep, inputName);
  // A sweep variable whose spec is broken is still declared: its placeholders are not "unknown" on top of its own error.
  const sweepNames = isMapping(doc.sweep) ? Object.keys(doc.sweep) : [];
  checkPlaceholders(f, variables, sweep, inputName, outputs ?? [], typeof doc.outputs === 'string', 'outputs', sweepNames);
  checkReferences(f, variables, opts.env);
  checkPlaceholders(f, {}, sweep, inputName, inputs ?? [], typeof doc.inputs === 'string', 'inputs', Object.keys(variables));

  if (
    f.errors.length > 0 ||
    name === undefined ||
    recipe === undefined ||
    trigger === undefined ||
    input === undefined ||
    outputs === undefined ||
    backend === undefined ||
    resources === undefined ||
    timeoutMs === undefined ||
    retries === undefined ||
    loop === undefined ||
    cascadeCancelled === undefined ||
    collect === undefined ||
    batch === undefined ||
    inputs === undefined
  ) {
    return { pattern: null, errors: f.errors };
  }
  const hash = createHash('sha256').update(text).digest('hex');
  const pattern: ParsedPattern = {
    name,
    file,
    hash,
    recipe,
    trigger,
    input,
    variables,
    sweep,
    outputs,
    backend,
    resources,
    timeoutMs,
    retries,
    loop,
    ...(parameterize === undefined ? {} : { parameterize }),
    // Present only when set: a pattern without the key parses as before.
    ...(cascadeCancelled ? { cascadeCancelled } : {}),
    collect,
    batch,
    inputs,
  };
  return { pattern, errors: [] };
}

function readName(f: Fields, file: string, value: unknown): string | undefined {
  if (value !== undefined) return f.name('name', value, 'pattern');
  const stem = path.posix.basename(file).replace(/\.[^.]*$/, '');
  if (NAME_RE.test(stem)) return stem;
  return f.error(
    'name',
    `the file name gives the pattern name "${stem}", which is not valid; ${NAME_RULE}. Rename the file or set "name:"`,
  );
}

/** Records that a required key is missing, unless a misspelling of it was already reported. */
function missing(f: Fields, misspelt: Set<string>, name: string, message: string, key = name): undefined {
  return misspelt.has(name) ? undefined : f.error(key, message);
}

function readTrigger(f: Fields, value: unknown): Trigger | undefined {
  if (value === undefined) {
    return f.error('trigger', 'missing; say which files trigger the pattern, e.g. "trigger: {paths: \\"data/*.txt\\"}"');
  }
  const t = f.mapping('trigger', value, 'a mapping with "paths" and optionally "events", "ignore", "settle"');
  if (!t) return undefined;
  const misspelt = f.checkKeys('trigger', t, TRIGGER_KEYS, 'trigger');
  const paths =
    t.paths === undefined
      ? missing(f, misspelt, 'paths', 'missing; give a glob or a list of globs, e.g. "data/*.txt"', 'trigger.paths')
      : f.globs('trigger.paths', t.paths, { nonEmpty: true });
  const events = t.events === undefined ? [...DEFAULT_EVENTS] : readEvents(f, t.events);
  const ignore = t.ignore === undefined ? [] : f.globs('trigger.ignore', t.ignore, { nonEmpty: false });
  const settleMs = t.settle === undefined ? 0 : f.duration('trigger.settle', t.settle);
  if (!paths || !events || !ignore || settleMs === undefined) return undefined;
  return { paths, events, ignore, settleMs };
}

function readEvents(f: Fields, value: unknown): EventKind[] | undefined {
  const items = typeof value === 'string' ? [value] : Array.isArray(value) ? (value as unknown[]) : null;
  const allowed = listWords(EVENT_KINDS);
  if (items === null) return f.error('trigger.events', `expected an event or a list of events (${allowed}), got ${describe(value)}`);
  if (items.length === 0) return f.error('trigger.events', `expected at least one event (${allowed}), got an empty list`);
  const events: EventKind[] = [];
  let ok = true;
  items.forEach((item, i) => {
    const event = f.oneOf(typeof value === 'string' ? 'trigger.events' : joinKey('trigger.events', i), item, EVENT_KINDS);
    if (event === undefined) ok = false;
    else if (!events.includes(event)) events.push(event);
  });
  return ok ? events : undefined;
}

/** The valid variables; errors are recorded for the rest. */
function readVariables(f: Fields, value: unknown): Variables {
  const m = f.mapping('variables', value, 'a mapping of variable names to values') ?? {};
  const variables: Variables = {};
  for (const [key, v] of Object.entries(m)) {
    if (f.identifier(joinKey('variables', key), key) === undefined) continue;
    if (isVarValue(v)) variables[key] = v;
    // YAML can say .inf, .nan and !!binary; JSON (MEOW_PARAMS) cannot carry them.
    else f.error(joinKey('variables', key), `expected a string, number, boolean, null, list or mapping, got ${String(v)}, which JSON cannot carry`);
  }
  return variables;
}

/** The valid sweep variables; errors are recorded for the rest. */
function readSweep(f: Fields, value: unknown, maxSweep: number): Record<string, SweepSpec> {
  const m = f.mapping('sweep', value, 'a mapping of sweep variable names to {start, stop, step} ranges or lists of values') ?? {};
  const sweep: Record<string, SweepSpec> = {};
  for (const [key, v] of Object.entries(m)) {
    const spec = f.identifier(joinKey('sweep', key), key) === undefined ? undefined : readSweepSpec(f, joinKey('sweep', key), v);
    if (spec !== undefined) sweep[key] = spec;
  }
  const size = sweepSize(sweep);
  if (size > maxSweep) {
    f.error('sweep', `the sweep has ${size} points, more than the limit of ${maxSweep}; shrink the sweep or raise max_sweep in meow.yaml`);
  }
  return sweep;
}

function readSweepSpec(f: Fields, key: string, value: unknown): SweepSpec | undefined {
  if (Array.isArray(value)) {
    if (value.length === 0) return f.error(key, 'expected at least one value, got an empty list');
    if (!isVarValue(value)) return f.error(key, 'expected a list of strings, numbers, booleans, lists or mappings');
    return value;
  }
  const expected = 'a range {start, stop, step} or a list of values';
  const m = f.mapping(key, value, expected);
  if (!m) return undefined;
  f.checkKeys(key, m, RANGE_KEYS, 'a sweep range');
  const isInt = (v: unknown) => (typeof v === 'number' && Number.isInteger(v)) || (v instanceof ExactNumber && v.kind === 'int');
  if (RANGE_KEYS.every((k) => isInt(m[k])) && RANGE_KEYS.some((k) => m[k] instanceof ExactNumber)) return readBigRange(f, key, m);
  const nums: number[] = [];
  // A range written with floats (`start: 1.0`) yields floats, even at integral points.
  const float = RANGE_KEYS.some((k) => m[k] instanceof ExactNumber || (typeof m[k] === 'number' && !Number.isInteger(m[k])));
  for (const k of RANGE_KEYS) {
    const v = plainFloat(m[k]);
    if (typeof v === 'number' && Number.isFinite(v)) nums.push(v);
    else if (v === undefined) f.error(joinKey(key, k), `missing; ${expected} needs all three numbers`);
    else f.error(joinKey(key, k), `expected a number, got ${describe(v)}`);
  }
  if (nums.length < 3) return undefined;
  const [start, stop, step] = nums;
  if (step === 0) return f.error(joinKey(key, 'step'), 'the step is 0, so the range never reaches stop; use a non-zero step');
  if ((stop - start) * step < 0) {
    const fix = step > 0 ? 'negative' : 'positive';
    return f.error(joinKey(key, 'step'), `the step ${step} points away from stop (${start} → ${stop}); use a ${fix} step`);
  }
  return float ? { start, stop, step, float } : { start, stop, step };
}

/** An integer range with a bound or step beyond ±(2^53 − 1) (a timestamp in ns): kept and counted in exact ints. */
function readBigRange(f: Fields, key: string, m: Record<string, unknown>): SweepRange | undefined {
  const [start, stop, step] = RANGE_KEYS.map((k) => m[k] as number | ExactNumber);
  const { start: a, stop: b, step: s } = rangeInBigInts({ start, stop, step });
  if (s === 0n) return f.error(joinKey(key, 'step'), 'the step is 0, so the range never reaches stop; use a non-zero step');
  if ((b - a) * s < 0n) {
    return f.error(joinKey(key, 'step'), `the step ${s} points away from stop (${a} → ${b}); use a ${s > 0n ? 'negative' : 'positive'} step`);
  }
  return { start, stop, step };
}

function readBackend(f: Fields, value: unknown, backends: string[]): string | undefined {
  const name = f.string('backend', value, 'a backend name (a string)');
  if (name === undefined) return undefined;
  if (backends.includes(name)) return name;
  const hint = didYouMean(name, backends) ?? '';
  return f.error(
    'backend',
    `unknown backend "${name}"${hint}; meow.yaml defines: ${backends.join(', ')}. Use one of them, or add "${name}" under "backends:" in meow.yaml`,
  );
}

function readResources(f: Fields, value: unknown): Resources | undefined {
  const resources: Resources = { cpus: 1, gpus: 0, memory: null };
  if (value === undefined || value === null) return resources;
  const m = f.mapping('resources', value, 'a mapping like {cpus: 1, gpus: 0, memory: 2GiB}');
  if (!m) return undefined;
  f.checkKeys('resources', m, RESOURCE_KEYS, 'resources');
  const cpus = m.cpus === undefined ? 1 : f.int('resources.cpus', m.cpus, 1);
  const gpus = m.gpus === undefined ? 0 : f.int('resources.gpus', m.gpus, 0);
  const memory = m.memory === undefined || m.memory === null ? null : f.size('resources.memory', m.memory);
  if (cpus === undefined || gpus === undefined || memory === undefined) return undefined;
  return { cpus, gpus, memory };
}

function readTimeout(f: Fields, value: unknown): number | undefined {
  const ms = f.duration('timeout', value);
  if (ms === 0) {
    return f.error('timeout', 'a timeout of 0 would stop every job at once; give a positive duration like "30m", or null for none');
  }
  return ms;
}

function checkNames(f: Fields, variables: Variables, sweep: Record<string, SweepSpec>, input: string): void {
  for (const name of Object.keys(sweep)) {
    const key = joinKey('sweep', name);
    if (Object.hasOwn(variables, name)) f.error(key, `"${name}" is both a variable and a sweep variable; remove it from one of them`);
    if (name === input) f.error(key, `"${name}" is the input variable (it receives the triggering file); rename the sweep variable`);
  }
  if (Object.hasOwn(variables, input)) {
    f.error(
      joinKey('variables', input),
      `"${input}" is the input variable (it receives the triggering file's path); rename the variable or set "input:" to another name`,
    );
  }
}

function checkPlaceholders(
  f: Fields,
  variables: Variables,
  sweep: Record<string, SweepSpec>,
  input: string,
  outputs: string[],
  singleOutput: boolean,
  outputsKey = 'outputs',
  moreKnown: string[] = [],
): void {
  const known = [...BUILTIN_PLACEHOLDERS, input, ...Object.keys(variables), ...Object.keys(sweep), ...moreKnown];
  const check = (key: string, value: VarValue): void => {
    if (typeof value === 'string') checkTemplate(f, key, value, known);
    else if (Array.isArray(value)) value.forEach((item, i) => check(joinKey(key, i), item));
    else if (value !== null && typeof value === 'object' && !(value instanceof ExactNumber)) for (const [k, v] of Object.entries(value)) check(joinKey(key, k), v);
  };
  for (const [name, value] of Object.entries(variables)) check(joinKey('variables', name), value);
  outputs.forEach((glob, i) => {
    const key = singleOutput ? outputsKey : joinKey(outputsKey, i);
    checkTemplate(f, key, glob, known);
    for (const name of findEnvPlaceholders(glob)) {
      f.error(key, envOutsideVariablesMessage(name));
    }
  });
}

/**
 * Variables naming variables: a cycle is an error naming it, and so is an
 * `{env:NAME}` whose NAME is unset in `env` (when an environment is given).
 */
function checkReferences(f: Fields, variables: Variables, env: PatternParseOptions['env']): void {
  for (const cycle of variableCycles(variables)) {
    const path = cycle.join(' → ');
    const fix =
      cycle.length === 2
        ? `"${cycle[0]}" names itself; write its value instead of {${cycle[0]}}`
        : 'each of them waits for the next, so none has a value; replace one of the references with a value';
    f.error(joinKey('variables', cycle[0]), `circular reference: ${path}; ${fix}`);
  }
  if (env === undefined) return;
  for (const [name, value] of Object.entries(variables)) {
    for (const envName of findEnvPlaceholders(JSON.stringify(value) ?? '')) {
      if (env[envName] === undefined) f.error(joinKey('variables', name), unsetEnvMessage(envName));
    }
  }
}

function checkTemplate(f: Fields, key: string, template: string, names: string[]): void {
  const known = [...new Set(names)];
  for (const name of new Set(findPlaceholders(template))) {
    if (known.includes(name)) continue;
    const match = closest(name, known);
    const hint = match === null ? '' : ` (did you mean {${match}}?)`;
    const list = known.map((k) => `{${k}}`).join(', ');
    f.error(key, `unknown placeholder {${name}}${hint}; known placeholders: ${list}`);
  }
  f.placeholderSyntax(key, template);
}
