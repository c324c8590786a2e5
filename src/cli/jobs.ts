import { connectEngine } from '../api/client.js';
import { jobJson, type JobJson } from '../api/job-json.js';
import { printJson, table } from './format.js';
import { pendingLines, pendingSets } from './pending-sets.js';
import { withStore, workspaceRoot, type GlobalOptions } from './workspace.js';
import type { JobStatus } from '../core/types.js';


/** Lists jobs from the running engine, or from the database. */
export async function listJobs(root: string, q: { status?: JobStatus; pattern?: string; limit?: number; current?: boolean }): Promise<JobJson[]> {
  const client = await connectEngine(root);
  if (client) {
    const params = new URLSearchParams();
    if (q.current) params.set('current', '1');
    if (q.status) params.set('status', q.status);
    if (q.pattern) params.set('pattern', q.pattern);
    if (q.limit) params.set('limit', String(q.limit));
    return client.get<JobJson[]>(`/jobs?${params}`);
  }
  return withStore(root, (s) => (s ? s.listJobs(q).map(jobJson) : []));
}

/** `meow jobs`: current jobs, newest last; `--all` adds superseded ones (store/job-row.ts). */
export async function jobsCommand(g: GlobalOptions, o: { status?: JobStatus; pattern?: string; limit?: number; all?: boolean; json?: boolean }): Promise<number> {
  const jobs = await listJobs(workspaceRoot(g), { status: o.status, pattern: o.pattern, limit: o.limit, current: !o.all });
  if (o.json) printJson(jobs);
  else {
    // A set job shows its group key (or first member) and how many files it read.
    const input = (j: JobJson) => (j.inputs.length > 1 || j.inputs[0] !== j.input ? `${j.input} (${j.inputs.length} files)` : j.input);
    console.log(table(['ID', 'PATTERN', 'STATUS', 'ATTEMPT', 'INPUT', 'ERROR'], jobs.map((j) => [j.id, j.pattern, j.status, j.attempt, input(j), j.error?.split('\n')[0]])));
    for (const line of pendingLines(await pendingSets(workspaceRoot(g)))) console.log(line);
  }
  return 0;
}
