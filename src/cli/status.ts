import { connectEngine } from '../api/client.js';
import { errorCode, errorMessage } from '../core/errors.js';
import { JOB_STATES, type JobStatus } from '../core/types.js';
import { checkStateBeforeOpen } from '../store/state-check.js';
import { linkRules } from '../rules/linker.js';
import { printJson, table } from './format.js';
import { pendingLines, pendingSets } from './pending-sets.js';
import type { PendingSet } from '../runner/fan-in.js';
import { readWorkspace, withStore, workspaceRoot, type GlobalOptions } from './workspace.js';

/** The stable shape of `meow status --json`. */
export interface StatusJson {
  engine: 'running' | 'stopped';
  jobs: Record<JobStatus, number>;
  patterns: number;
  recipes: number;
  /** Open fan-in groups with how far each is from complete (docs/cli.md). */
  pending_sets: PendingSet[];
}

/**
 * `meow status`: from the running engine, or from the database when none runs.
 * Job counts are of current jobs (a failure repaired since is not counted);
 * `--all` counts superseded jobs too.
 */
export async function statusCommand(g: GlobalOptions, o: { json?: boolean; all?: boolean }): Promise<number> {
  const root = workspaceRoot(g);
  const client = await connectEngine(root);
  let status: StatusJson;
  if (client) status = await client.get<StatusJson>(o.all ? '/status?all=1' : '/status');
  else {
    // A lost database beside earlier jobs is said, so "0 jobs" does not read as a fresh workspace.
    try {
      checkStateBeforeOpen(root);
    } catch (err) {
      if (errorCode(err) !== 'MEOW_STATE_LOST') throw err;
      console.error(`meow: warning: ${errorMessage(err)}`);
    }
    const ws = await readWorkspace(root);
    const jobs = await withStore(root, (s) => s?.countJobs({ current: !o.all }) ?? (Object.fromEntries(JOB_STATES.map((k) => [k, 0])) as Record<JobStatus, number>));
    status = { engine: 'stopped', jobs, patterns: ws.patterns.length, recipes: ws.recipes.length, pending_sets: await pendingSets(root) };
    if (!o.json) {
      const waiting = linkRules(ws.patterns, ws.recipes).waiting.length;
      if (waiting) console.log(`${waiting} pattern(s) waiting for their recipe`);
    }
  }
  if (o.json) printJson(status);
  else {
    console.log(`engine: ${status.engine}`);
    console.log(`patterns: ${status.patterns}  recipes: ${status.recipes}`);
    console.log(table(['STATE', 'JOBS'], JOB_STATES.map((s) => [s, status.jobs[s]])));
    for (const line of pendingLines(status.pending_sets ?? [])) console.log(line);
  }
  return 0;
}
