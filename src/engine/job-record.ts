import { newJobId } from '../core/ids.js';
import { jobKey } from '../rules/job-key.js';
import { resolveVariables } from '../rules/variables.js';
import { jobDirOf } from '../runner/job-dir.js';
import type { FileEvent, JobRecord, Rule, Variables } from '../core/types.js';

/**
 * A new queued job of `rule` for `event` (and a sweep point): its id, key,
 * directory and resolved variables. Pure but for the fresh id.
 */
export function newJobRecord(rule: Rule, event: FileEvent, sweepPoint: Variables | null, now: string, workspace: string): JobRecord {
  const id = newJobId();
  const jobDir = jobDirOf(id);
  const variables = resolveVariables({ rule, event, jobId: id, jobDir, workspace, sweepPoint });
  return {
    id,
    key: jobKey(rule.version, event.path, event.version, sweepPoint),
    pattern: rule.name,
    recipe: rule.recipe.name,
    ruleVersion: rule.version,
    status: 'queued',
    input: event.path,
    inputVersion: event.version,
    event: event.kind,
    oldPath: event.oldPath,
    variables,
    sweepPoint,
    attempt: 0,
    retries: rule.pattern.retries,
    timeoutMs: rule.pattern.timeoutMs,
    exitCode: null,
    error: null,
    result: null,
    backend: rule.pattern.backend,
    generation: event.generation,
    cause: event.cause,
    jobDir,
    pid: null,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
  };
}
