import { ExactNumber } from '../core/exact-number.js';
import { MeowError, errorMessage } from '../core/errors.js';
import { envKey, expandPlaceholders, fileValues, findEnvPlaceholders, findPlaceholders, renderValue } from '../core/placeholders.js';
import type { FileEvent, Rule, Variables, VarValue } from '../core/types.js';

/** What a job's variables are resolved from. */
export interface JobSite {
  rule: Rule;
  event: FileEvent;
  jobId: string;
  /** Workspace-relative job directory. */
  jobDir: string;
  /** Absolute workspace path. */
  workspace: string;
  sweepPoint: Variables | null;
  /** The engine's environment, which `{env:NAME}` reads; none when absent. */
  env?: Readonly<Record<string, string | undefined>>;
}

/** The values placeholders expand to for one job (variables rendered as text). */
export function placeholderValues(site: JobSite, variables: Variables = site.rule.pattern.variables): Record<string, string> {
  const values: Record<string, string> = {};
  for (const [k, v] of Object.entries(variables)) values[k] = renderValue(v);
  for (const [k, v] of Object.entries(site.sweepPoint ?? {})) values[k] = renderValue(v);
  Object.assign(values, fileValues(site.event.path, site.workspace), {
    event: site.event.kind,
    job_id: site.jobId,
    job_dir: site.jobDir,
    pattern: site.rule.pattern.name,
    recipe: site.rule.recipe.name,
    workspace: site.workspace,
  });
  values[site.rule.pattern.input] = site.event.path;
  if (site.env) {
    for (const name of envNamesOf(site.rule)) {
      const v = site.env[name];
      if (v !== undefined) values[envKey(name)] = v;
    }
  }
  return values;
}

const envNames = new WeakMap<Rule, readonly string[]>();

/**
 * The environment variables any template of a rule may read (`{env:NAME}` in
 * its pattern or recipe): only these are copied into a job's placeholders, so
 * a job does not enumerate the engine's whole environment. Its templates all
 * come from the pattern and the recipe, so the list is complete.
 */
function envNamesOf(rule: Rule): readonly string[] {
  let names = envNames.get(rule);
  if (!names) {
    names = findEnvPlaceholders(JSON.stringify([rule.pattern, rule.recipe], (_k, v: unknown) => (typeof v === 'bigint' ? String(v) : v)));
    envNames.set(rule, names);
  }
  return names;
}

function expandValue(v: VarValue, values: Record<string, string>): VarValue {
  if (typeof v === 'string') return expandPlaceholders(v, values);
  if (Array.isArray(v)) return v.map((x) => expandValue(x, values));
  if (v !== null && typeof v === 'object' && !(v instanceof ExactNumber)) {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expandValue(x, values)]));
  }
  return v;
}

/**
 * A job's variables as recorded: the input variable (workspace-relative
 * path), the pattern's variables with placeholders expanded, and the sweep point.
 *
 * A variable may name another (`out: "{base}/{stem}.npy"`): the named
 * variable is resolved first, to any depth, so the order of the keys does not
 * matter. Sweep names take the job's sweep point. A cycle (`a: "{b}"`,
 * `b: "{a}"`) is a validation error (see `variableCycles`), so no job meets one.
 * @throws MeowError naming the variable when an `{env:NAME}` it reads is unset.
 */
export function resolveVariables(site: JobSite): Variables {
  const raw = site.rule.pattern.variables;
  const base = placeholderValues(site);
  const memo = new Map<string, VarValue>();
  const visiting = new Set<string>();
  const resolve = (name: string): VarValue => {
    const done = memo.get(name);
    if (done !== undefined) return done;
    if (visiting.has(name)) return raw[name];
    visiting.add(name);
    const values = { ...base };
    for (const ref of findPlaceholders(JSON.stringify(raw[name]))) {
      if (ref !== name && Object.hasOwn(raw, ref)) values[ref] = renderValue(resolve(ref));
    }
    let value: VarValue;
    try {
      value = expandValue(raw[name], values);
    } catch (err) {
      throw new MeowError('MEOW_PATTERN_INVALID', `${site.rule.pattern.file}: variables.${name}: ${errorMessage(err)}`, { cause: err });
    }
    visiting.delete(name);
    memo.set(name, value);
    return value;
  };
  const out: Variables = { [site.rule.pattern.input]: site.event.path };
  for (const k of Object.keys(raw)) out[k] = resolve(k);
  for (const [k, v] of Object.entries(site.sweepPoint ?? {})) out[k] = v;
  return out;
}

/** Expands placeholders in a list of templates (outputs, argv). */
export function expandAll(templates: readonly string[], values: Record<string, string>): string[] {
  return templates.map((t) => expandPlaceholders(t, values));
}

/**
 * The reference cycles among a pattern's variables (`a: "{b}"`, `b: "{a}"`),
 * each as the list of names around it, starting and ending with the same
 * name: `[a, b, a]`. Each cycle is reported once, from its first name in
 * declaration order.
 */
export function variableCycles(variables: Variables): string[][] {
  const names = Object.keys(variables);
  const refs = new Map<string, string[]>();
  for (const name of names) {
    refs.set(name, findPlaceholders(JSON.stringify(variables[name]) ?? '').filter((r) => Object.hasOwn(variables, r)));
  }
  const cycles: string[][] = [];
  const seen = new Set<string>();
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (name: string): void => {
    state.set(name, 'open');
    stack.push(name);
    for (const ref of refs.get(name) ?? []) {
      if (state.get(ref) === 'open') {
        const cycle = [...stack.slice(stack.indexOf(ref)), ref];
        const id = [...new Set(cycle)].sort().join('\0');
        if (!seen.has(id)) {
          seen.add(id);
          cycles.push(cycle);
        }
      } else if (state.get(ref) === undefined) visit(ref);
    }
    stack.pop();
    state.set(name, 'done');
  };
  for (const name of names) if (state.get(name) === undefined) visit(name);
  return cycles;
}
