import { LineageStore } from './lineage-store.js';
import { traceBack } from './trace.js';
import type { Store } from './store.js';
import type { JobRecord, ParsedPattern, ParsedRecipe } from '../core/types.js';

/** RO-Crate 1.1 and the Workflow Run Crate profiles this report conforms to. */
export const RO_CRATE_CONTEXT = 'https://w3id.org/ro/crate/1.1/context';
const RO_CRATE = 'https://w3id.org/ro/crate/1.1';
const WFRUN_PROCESS = 'https://w3id.org/ro/wfrun/process/0.5';
const WFRUN_WORKFLOW = 'https://w3id.org/ro/wfrun/workflow/0.5';
const WORKFLOW_CRATE = 'https://w3id.org/workflowhub/workflow-ro-crate/1.0';

type Entity = Record<string, unknown> & { '@id': string; '@type': string | string[] };
const ref = (id: string) => ({ '@id': id });

/** The jobs a report covers: a file's lineage, or every job that ran. */
export function reportJobs(store: Store, path: string | null): JobRecord[] {
  if (path === null) return store.listJobs().filter((j) => j.startedAt !== null);
  const ids = traceBack(store, path)
    .map((s) => s.job)
    .filter((id): id is string => id !== null);
  return ids.reverse().flatMap((id) => store.getJob(id) ?? []);
}

/** Every file a job read: its triggering input (not for a set job, whose input is a group key), its set's members, its declared inputs. */
function readPaths(job: JobRecord, lineage: LineageStore): string[] {
  const rows = lineage.inputsOf(job.id).map((r) => r.path);
  return job.inputs === null ? [job.input, ...rows] : rows;
}

const STATUS: Record<string, string> = {
  succeeded: 'http://schema.org/CompletedActionStatus',
  failed: 'http://schema.org/FailedActionStatus',
  cancelled: 'http://schema.org/FailedActionStatus',
  running: 'http://schema.org/ActiveActionStatus',
  queued: 'http://schema.org/PotentialActionStatus',
};

/**
 * An RO-Crate (Workflow Run Crate profile) of a run: the patterns and
 * recipes as the workflow, the run as one CreateAction, and each job as a
 * CreateAction with its recipe as instrument, its input as object and its
 * outputs as result.
 */
export function roCrate(store: Store, jobs: readonly JobRecord[], defs: { patterns: ParsedPattern[]; recipes: ParsedRecipe[] }, name: string): { '@context': string; '@graph': Entity[] } {
  const lineage = new LineageStore(store.db);
  const files = new Map<string, Entity>();
  const file = (path: string, extra: Record<string, unknown> = {}) => {
    const e = files.get(path) ?? { '@id': path, '@type': 'File', name: path.split('/').pop() ?? path };
    Object.assign(e, extra);
    files.set(path, e);
    return ref(path);
  };
  const definitions = [...defs.patterns.map((p) => p.file), ...defs.recipes.map((r) => r.file)];
  for (const f of definitions) file(f, { encodingFormat: f.endsWith('.ipynb') ? 'application/x-ipynb+json' : 'text/plain' });
  const actions: Entity[] = [];
  const produced = new Set<string>();
  const used = new Set<string>();
  for (const job of jobs) {
    const l = lineage.get(job.id);
    const outputs = lineage.outputsOf(job.id);
    const recipe = defs.recipes.find((r) => r.name === job.recipe);
    const action: Entity = {
      '@id': `#${job.id}`,
      '@type': 'CreateAction',
      name: `${job.pattern} on ${job.input}`,
      instrument: ref(recipe?.file ?? `recipes/${job.recipe}`),
      object: readPaths(job, lineage).map((p, i) => file(p, i === 0 && job.inputs === null && l?.input_hash ? { sha256: l.input_hash, contentSize: l.input_size } : {})),
      result: outputs.map((o) => file(o.path)),
      actionStatus: ref(STATUS[job.status] ?? STATUS.queued),
      description: `pattern ${job.pattern} (version ${l?.pattern_hash.slice(0, 12) ?? '?'}), recipe ${job.recipe} (version ${l?.recipe_hash.slice(0, 12) ?? '?'}), attempt ${job.attempt}, backend ${job.backend}`,
    };
    if (job.startedAt) action.startTime = job.startedAt;
    if (job.finishedAt) action.endTime = job.finishedAt;
    if (job.error) action.error = job.error;
    actions.push(action);
    for (const p of readPaths(job, lineage)) used.add(p);
    for (const o of outputs) produced.add(o.path);
  }
  const times = jobs.flatMap((j) => [j.startedAt, j.finishedAt]).filter((t): t is string => t !== null).sort();
  const run: Entity = {
    '@id': '#run',
    '@type': 'CreateAction',
    name: `meowflow run of ${name}`,
    instrument: ref('patterns/'),
    object: [...used].filter((p) => !produced.has(p)).map(ref),
    result: [...produced].filter((p) => !used.has(p)).map(ref),
    actionStatus: ref(jobs.every((j) => j.status === 'succeeded') ? STATUS.succeeded : STATUS.failed),
  };
  if (times.length) Object.assign(run, { startTime: times[0], endTime: times.at(-1) });
  const graph: Entity[] = [
    { '@id': 'ro-crate-metadata.json', '@type': 'CreativeWork', conformsTo: [ref(RO_CRATE), ref(WORKFLOW_CRATE)], about: ref('./') },
    {
      '@id': './',
      '@type': 'Dataset',
      name,
      datePublished: new Date().toISOString(),
      conformsTo: [ref(WFRUN_PROCESS), ref(WFRUN_WORKFLOW), ref(WORKFLOW_CRATE)],
      mainEntity: ref('patterns/'),
      hasPart: [ref('patterns/'), ...[...files.keys()].map(ref)],
      mentions: [ref('#run'), ...actions.map((a) => ref(a['@id']))],
    },
    {
      '@id': 'patterns/',
      '@type': ['Dataset', 'SoftwareSourceCode', 'ComputationalWorkflow'],
      name: `${name}: the patterns and recipes from which the workflow emerges`,
      programmingLanguage: ref('#meowflow'),
      hasPart: definitions.map(ref),
    },
    { '@id': '#meowflow', '@type': 'ComputerLanguage', name: 'meowflow patterns', alternateName: 'MEOW', url: ref('https://doi.org/10.1109/WORKS51914.2020.00008') },
    ...[RO_CRATE, WORKFLOW_CRATE, WFRUN_PROCESS, WFRUN_WORKFLOW].map((id): Entity => ({ '@id': id, '@type': 'CreativeWork', name: id.split('/').slice(-2).join(' '), version: id.split('/').pop() })),
    run,
    ...actions,
    ...files.values(),
  ];
  return { '@context': RO_CRATE_CONTEXT, '@graph': graph };
}

/**
 * W3C PROV-JSON of a run: files are entities (one per content version), jobs
 * activities, patterns agents with their recipe as plan; every output is
 * generated by its job, which used its input.
 */
export function provJson(store: Store, jobs: readonly JobRecord[]) {
  const lineage = new LineageStore(store.db);
  const entity: Record<string, Record<string, unknown>> = {};
  const activity: Record<string, Record<string, unknown>> = {};
  const agent: Record<string, Record<string, unknown>> = {};
  const usedRel: Record<string, Record<string, string>> = {};
  const generated: Record<string, Record<string, string>> = {};
  const associated: Record<string, Record<string, string>> = {};
  const derived: Record<string, Record<string, string>> = {};
  let n = 0;
  const eid = (path: string, version: string) => {
    const id = `file:${encodeURI(path)}#${version}`;
    entity[id] ??= { 'prov:label': path, 'meow:version': version };
    return id;
  };
  for (const job of jobs) {
    const l = lineage.get(job.id);
    const a = `meow:job/${job.id}`;
    activity[a] = { 'prov:type': 'meow:Job', 'prov:label': `${job.pattern} on ${job.input}`, 'meow:status': job.status, 'meow:attempt': job.attempt, ...(job.startedAt ? { 'prov:startTime': job.startedAt } : {}), ...(job.finishedAt ? { 'prov:endTime': job.finishedAt } : {}) };
    const p = `meow:pattern/${job.pattern}@${l?.pattern_hash.slice(0, 12) ?? 'unknown'}`;
    const r = `meow:recipe/${job.recipe}@${l?.recipe_hash.slice(0, 12) ?? 'unknown'}`;
    agent[p] ??= { 'prov:type': 'prov:SoftwareAgent', 'prov:label': `pattern ${job.pattern}` };
    entity[r] ??= { 'prov:type': 'prov:Plan', 'prov:label': `recipe ${job.recipe}` };
    const reads = job.inputs === null ? [eid(job.input, job.inputVersion)] : [];
    if (l?.input_hash && reads.length) entity[reads[0]]['meow:sha256'] = l.input_hash;
    for (const r of lineage.inputsOf(job.id)) reads.push(eid(r.path, r.version ?? 'unknown'));
    for (const input of reads) usedRel[`_:u${++n}`] = { 'prov:activity': a, 'prov:entity': input };
    associated[`_:a${++n}`] = { 'prov:activity': a, 'prov:agent': p, 'prov:plan': r };
    for (const o of lineage.outputsOf(job.id)) {
      const out = eid(o.path, o.version);
      generated[`_:g${++n}`] = { 'prov:entity': out, 'prov:activity': a };
      for (const input of reads) derived[`_:d${++n}`] = { 'prov:generatedEntity': out, 'prov:usedEntity': input, 'prov:activity': a };
    }
  }
  return {
    prefix: { meow: 'https://meowflow.dev/ns#', file: 'urn:meowflow:file:' },
    entity,
    activity,
    agent,
    used: usedRel,
    wasGeneratedBy: generated,
    wasAssociatedWith: associated,
    wasDerivedFrom: derived,
  };
}
