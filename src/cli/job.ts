import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { connectEngine } from '../api/client.js';
import { statePath } from '../engine.js';
import { MeowError } from '../core/errors.js';
import { nowIso } from '../core/ids.js';
import { jobJson } from '../runner/job-dir.js';
import { Store } from '../store/store.js';
import { printJson } from './format.js';
import { withStore, workspaceRoot, type GlobalOptions } from './workspace.js';

type JobJson = ReturnType<typeof jobJson>;
type Action = 'show' | 'logs' | 'cancel' | 'retry';

async function findJob(root: string, id: string): Promise<JobJson> {
  const client = await connectEngine(root);
  const job = client
    ? await client.get<JobJson>(`/jobs/${encodeURIComponent(id)}`).catch(() => null)
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
      else process.stdout.write(stringify(job));
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
  const store = new Store(statePath(root));
  try {
    const ok =
      action === 'cancel'
        ? store.transition(found.id, ['queued', 'running'], 'cancelled', { finishedAt: nowIso(), error: 'cancelled by the user' }, 'cancelled by the user')
        : store.transition(found.id, ['failed', 'cancelled'], 'queued', { finishedAt: null, error: null, exitCode: null }, 'retried by the user');
    if (!ok) {
      const allowed = action === 'cancel' ? 'queued or running' : 'failed or cancelled';
      throw new MeowError('MEOW_CONFLICT', `job ${found.id} is ${found.status}; only ${allowed} jobs can be ${action === 'cancel' ? 'cancelled' : 'retried'}`);
    }
    const job = store.getJob(found.id);
    if (!job) throw new MeowError('MEOW_NOT_FOUND', `job ${found.id} vanished`);
    return jobJson(job);
  } finally {
    store.close();
  }
}
