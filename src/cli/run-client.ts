import { EngineClient, socketPath } from '../api/client.js';
import { errorMessage } from '../core/errors.js';
import { describeHolder, lockHolder } from '../store/workspace-lock.js';
import { idleRecord, type UntilIdleJson } from '../api/until-idle.js';

/** How `meow run --until-idle` beside a live engine ended. */
export type ClientOutcome = { code: number } | { engineGone: true };

/** Waits until the engine's socket answers; false when the engine let the workspace go first. */
async function awaitSocket(root: string, client: EngineClient): Promise<boolean> {
  for (;;) {
    try {
      await client.call('GET', '/status', undefined, 30_000);
      return true;
    } catch {
      // Starting (registering a large tree, say) or stopping: the lock says which.
      if (lockHolder(root) === null) return false;
      await new Promise((r) => setTimeout(r, 200));
    }
  }
}

/**
 * `meow run --until-idle` while another engine holds the workspace: this
 * process becomes a client of that engine. It asks it to reconcile and waits
 * until it is idle (`POST /until-idle`), then exits as a local
 * `--until-idle` would: 1 when a job failed meanwhile, else 0. It never
 * recovers, creates or runs a job itself. `engineGone` when the engine
 * stopped before answering, so the caller may run the workspace itself.
 */
export async function untilIdleAsClient(root: string, json: boolean): Promise<ClientOutcome> {
  const client = new EngineClient(socketPath(root));
  const holder = lockHolder(root);
  if (holder === null) return { engineGone: true };
  process.stderr.write(`meow run --until-idle: ${describeHolder(holder)} runs this workspace; asking it to reconcile and waiting until it is idle\n`);
  if (!(await awaitSocket(root, client))) return { engineGone: true };
  let r;
  try {
    // No timeout: the engine answers once it is idle, however long its jobs take.
    r = await client.call<UntilIdleJson & { error?: string }>('POST', '/until-idle', null, 0);
  } catch (err) {
    if (lockHolder(root) === null) return { engineGone: true };
    process.stderr.write(`meow run --until-idle: lost the engine before it was idle: ${errorMessage(err)}\n`);
    return { code: 1 };
  }
  if (r.status >= 400) {
    process.stderr.write(`meow run --until-idle: the engine refused: ${r.body?.error ?? `HTTP ${r.status}`}\n`);
    return { code: 1 };
  }
  const b = r.body;
  if (json) process.stdout.write(idleRecord(b));
  else console.log(`idle: ${b.jobs.succeeded} succeeded, ${b.jobs.failed} failed, ${b.jobs.cancelled} cancelled in total; ${b.failed} failed in this run (run by the live engine)`);
  return { code: b.failed > 0 ? 1 : 0 };
}
