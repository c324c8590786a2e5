import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connectEngine } from '../api/client.js';
import { statePath } from '../engine.js';
import { MeowError, errorCode } from '../core/errors.js';
import { jobJson, setSummary, type JobJson } from '../api/job-json.js';
import { Store } from '../store/store.js';
import { JobTransitions } from '../store/job-transitions.js';
import { WorkspaceLock } from '../store/workspace-lock.js';
import { Definitions, isCurrentJob } from '../engine/definitions.js';
import { readConfig } from '../monitor/definitions-reader.js';
import { jobProcesses, processStart, signalAll } from '../runner/process-tree.js';
import type { JobRecord, WorkspaceConfig } from '../core/types.js';
import { printJson, yamlExact } from './format.js';
import { withStore, workspaceRoot, type GlobalOptions } from './workspace.js';

type Action = 'show' | 'logs' | 'cancel' | 'retry';

async function findJob(root: string, id: string): Promise<JobJson> {
  const client = await connectEngine(root);
  const job = client
    ? await client.get<JobJson>(`/jobs/${encodeURIComponent(id)}`).catch((err: unknown) => {
        if (errorCode(err) === 'MEOW_NOT_FOUND') return null;
        throw err;
      })
    : await withStore(root, (s) => {
        const j = s?.findJob(id);
        return j ? jobJson(j) : null;
      });
  if (!job) throw new MeowError('MEOW_NOT_FOUND', `no job "${id}" in this workspace; \`meow jobs\` lists them`);
  return job;
}

/** `meow job show|logs|cancel|retry ID`. */
export async function jobCommand(g: GlobalOptions, action: Action, id: string, o: { json?: boolean; stream?: 'stdout' | 'stderr' }): Promise<number> {
  const root = workspaceRoot(g);
  switch (action) {
    case 'show': {
      const job = await findJob(root, id);
      if (o.json) printJson(job);
      else {
        // A set job's members in brief, as a YAML comment: the full list follows under inputs.
        const set = setSummary(job, ', all under inputs');
        process.stdout.write(`${set ? `# ${set}\n` : ''}${yamlExact(job)}`);
      }
      return 0;
    }
    case 'logs': {
      const job = await findJob(root, id);
      for (const stream of o.stream ? [o.stream] : (['stdout', 'stderr'] as const)) {
        const text = await readFile(join(root, job.job_dir, `${stream}.log`), 'utf8').catch(() => '');
        if (!o.stream) process.stdout.write(`==> ${stream}.log <==\n`);
        process.stdout.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
      }
      return 0;
    }
    case 'cancel':
    case 'retry': {
      const job = await changeJob(root, action, id);
      if (o.json) printJson(job);
      else console.log(`${job.id}: ${job.status}`);
      return 0;
    }
    default: {
      const never: never = action;
      throw new Error(`unknown action ${String(never)}`);
    }
  }
}

/** Cancels or retries through the running engine, or in the database when none runs. */
async function changeJob(root: string, action: 'cancel' | 'retry', id: string): Promise<JobJson> {
  const client = await connectEngine(root);
  if (client) {
    const r = await client.call<JobJson & { error?: string }>('POST', `/jobs/${encodeURIComponent(id)}/${action}`);
    if (r.status >= 400) throw new MeowError(r.status === 404 ? 'MEOW_NOT_FOUND' : r.status === 400 ? 'MEOW_USAGE' : 'MEOW_CONFLICT', r.body.error ?? `HTTP ${r.status}`);
    return r.body;
  }
  const found = await findJob(root, id);
  const { config } = await readConfig(root);
  // No engine answers: hold the workspace lock while changing its state, so none starts meanwhile.
  const lock = WorkspaceLock.acquire(root);
  const store = new Store(statePath(root));
  try {
    const transitions = new JobTransitions(store);
    let job: JobRecord | null;
    if (action === 'retry') {
      // The same rule the engine applies: only a job of the current registration of its rule runs again.
      const rules = new Map(new Definitions(config, store).registeredRules().map((r) => [r.version, r]));
      job = transitions.retry(found.id, (j) => isCurrentJob(rules.get(j.ruleVersion), j));
    } else {
      const current = store.getJob(found.id);
      if (current?.status === 'running') await stopOffline(root, config, current);
      job = transitions.cancel(found.id, 'cancelled by the user');
    }
    if (!job) {
      const now = store.getJob(found.id);
      const allowed = action === 'cancel' ? 'queued or running' : 'failed or cancelled';
      throw new MeowError('MEOW_CONFLICT', `job ${found.id} is ${now?.status ?? found.status}; only ${allowed} jobs can be ${action === 'cancel' ? 'cancelled' : 'retried'}`);
    }
    return jobJson(job);
  } finally {
    store.close();
    lock.release();
  }
}

/**
 * Stops what is left of a job marked running while no engine runs (the
 * engine died): on a local backend its processes, found by their
 * environment wherever they went, get SIGTERM, then SIGKILL after
 * kill_grace. A job on a remote backend is refused: only the engine can
 * reach it there.
 */
async function stopOffline(root: string, config: WorkspaceConfig, job: JobRecord): Promise<void> {
  const backend = config.backends[job.backend];
  if (backend && backend.type !== 'local') {
    throw new MeowError(
      'MEOW_CONFLICT',
      `job ${job.id} is running on backend "${job.backend}" (${backend.type}) and no engine runs here to stop it; start the engine (\`meow run\`), which re-attaches to it, and cancel it then`,
    );
  }
  const left = () => (jobProcesses(root).get(job.id) ?? []).map((pid) => ({ pid, start: processStart(pid) }));
  const first = left();
  if (first.length === 0) return;
  signalAll(first.map((p) => p.pid), 'SIGTERM');
  const deadline = Date.now() + config.killGraceMs;
  while (Date.now() < deadline && left().length > 0) await new Promise((r) => setTimeout(r, 50));
  signalAll(left().filter((p) => p.start !== null).map((p) => p.pid), 'SIGKILL');
  const stuck = Date.now() + 5000;
  while (Date.now() < stuck && left().length > 0) await new Promise((r) => setTimeout(r, 50));
  if (left().length > 0) throw new MeowError('MEOW_CONFLICT', `job ${job.id}: its processes (${left().map((p) => p.pid).join(', ')}) would not stop; stop them by hand, then cancel again`);
}
