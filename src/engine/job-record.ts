import { errorMessage } from '../core/errors.js';
import { newJobId } from '../core/ids.js';
import { jobKey } from '../rules/job-key.js';
import { resolveVariables } from '../rules/variables.js';
import { jobDirOf } from '../runner/job-dir.js';
import type { FileEvent, JobRecord, Rule, Variables } from '../core/types.js';

/**
 * A new queued job of `rule` for `event` (and a sweep point): its id, key,
 * directory and resolved variables (a failed record when a variable cannot be
 * resolved, e.g. an unset `{env:NAME}`). Pure but for the fresh id and `env`.
 */
export function newJobRecord(rule: Rule, event: FileEvent, sweepPoint: Variables | null, now: string, workspace: string, env: NodeJS.ProcessEnv = process.env): JobRecord {
  const id = newJobId();
  const jobDir = jobDirOf(id);
  // A variable reading an unset {env:NAME} fails the job at creation, with the reason.
  let variables: Variables = { [rule.pattern.input]: event.path };
  let error: string | null = null;
  try {
    variables = resolveVariables({ rule, event, jobId: id, jobDir, workspace, sweepPoint, env });
  } catch (err) {
    error = errorMessage(err);
  }
  return {
    id,
    key: jobKey(rule.version, event.path, event.version, sweepPoint, rule.epoch),
    pattern: rule.name,
    recipe: rule.recipe.name,
    ruleVersion: rule.version,
    status: error === null ? 'queued' : 'failed',
    input: event.path,
    inputs: null,
    inputVersion: event.version,
    event: event.kind,
    oldPath: event.oldPath,
    variables,
    sweepPoint,
    attempt: 0,
    retries: rule.pattern.retries,
    timeoutMs: rule.pattern.timeoutMs,
    exitCode: null,
    error,
    result: null,
    backend: rule.pattern.backend,
    generation: event.generation,
    cause: event.cause,
    jobDir,
    pid: null,
    createdAt: now,
    startedAt: null,
    finishedAt: error === null ? null : now,
  };
}
