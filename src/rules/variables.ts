import { expandPlaceholders, fileValues, findPlaceholders, renderValue } from '../core/placeholders.js';
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
  return values;
}

function expandValue(v: VarValue, values: Record<string, string>): VarValue {
  if (typeof v === 'string') return expandPlaceholders(v, values);
  if (Array.isArray(v)) return v.map((x) => expandValue(x, values));
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expandValue(x, values)]));
  }
  return v;
}

/**
 * A job's variables as recorded: the input variable (workspace-relative
 * path), the pattern's variables with placeholders expanded, and the sweep point.
 */
export function resolveVariables(site: JobSite): Variables {
  const raw = site.rule.pattern.variables;
  const base = placeholderValues(site);
  const memo = new Map<string, VarValue>();
  const visiting = new Set<string>();
  // A variable may name another ({a} inside b): resolve what it names first.
  // A cycle (validation warns) leaves the inner reference as written.
  const resolve = (name: string): VarValue => {
    const done = memo.get(name);
    if (done !== undefined) return done;
    if (visiting.has(name)) return raw[name];
    visiting.add(name);
    const values = { ...base };
    for (const ref of findPlaceholders(JSON.stringify(raw[name]))) {
      if (ref !== name && Object.hasOwn(raw, ref)) values[ref] = renderValue(resolve(ref));
    }
    const value = expandValue(raw[name], values);
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
