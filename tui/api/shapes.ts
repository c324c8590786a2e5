import type { JobJson } from '../../src/api/job-json.js';
import type { JobProgressJson } from '../../src/api/job-progress.js';
import type { patternsJson, planJson, recipesJson } from '../../src/api/shapes.js';
import type { DefinitionError, EventKind, FileEvent, JobStatus } from '../../src/core/types.js';
import type { PendingSet } from '../../src/runner/fan-in.js';

/**
 * The JSON the engine's control socket answers with, as the TUI sees it.
 * Type-only imports: the TUI shares the engine's shapes, never its code.
 */

/** The job states, newest-first filters cycle through them in this order. */
export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const satisfies readonly JobStatus[];
/** The event kinds a trigger may listen to. */
export const EVENT_KINDS = ['created', 'modified', 'deleted', 'moved'] as const satisfies readonly EventKind[];
// Both lists must name every member of the engine's unions.
const _everyState: Exclude<JobStatus, (typeof JOB_STATES)[number]> extends never ? true : never = true;
const _everyKind: Exclude<EventKind, (typeof EVENT_KINDS)[number]> extends never ? true : never = true;
void _everyState;
void _everyKind;

export type { DefinitionError, EventKind, FileEvent, JobStatus };
/** A job (`meow jobs --json`). */
export type { JobJson };
/** `GET /progress`: a running job's notebook cells done of total and latest log line. */
export type { JobProgressJson };
/** A pattern (`meow patterns --json`). */
export type PatternJson = ReturnType<typeof patternsJson>[number];
/** A recipe (`meow recipes --json`). */
export type RecipeJson = ReturnType<typeof recipesJson>[number];
/** What a definition change triggers and cancels (`meow plan --json`). */
export type PlanJson = ReturnType<typeof planJson>;
/** Job counts by state. */
export type JobCounts = Record<JobStatus, number>;

/** `GET /status`. */
export interface StatusJson {
  engine: 'running' | 'stopped';
  jobs: JobCounts;
  patterns: number;
  recipes: number;
  /** The open fan-in groups and how far each is from complete. */
  pending_sets?: PendingSet[];
}

/** `POST /definitions`: the plan, or the errors that stopped it. */
export interface DefinitionResult extends PlanJson {
  errors: DefinitionError[];
  applied: boolean;
}

/** `GET /search/jobs`: a window of jobs, newest first, and how many match. */
export interface JobPage {
  total: number;
  offset: number;
  jobs: JobJson[];
}

/** `GET /match`: how many known files a trigger matches, with a sample. */
export interface MatchPreview {
  count: number;
  sample: string[];
}

/** One event from `GET /events/stream`. */
export type StreamEvent =
  | { name: 'file:event'; data: FileEvent }
  | { name: 'job:queued' | 'job:started' | 'job:finished'; data: JobJson }
  | { name: 'rules:changed'; data: PlanJson }
  | { name: 'definitions:invalid'; data: DefinitionError[] }
  | { name: 'log'; data: { level: 'info' | 'warn' | 'error'; message: string } };

const STREAM_NAMES: readonly string[] = ['file:event', 'job:queued', 'job:started', 'job:finished', 'rules:changed', 'definitions:invalid', 'log'];

/** Narrows a raw server-sent event to a known one (unknown names are dropped). */
export function toStreamEvent(name: string, data: unknown): StreamEvent | null {
  if (!STREAM_NAMES.includes(name) || data === null || typeof data !== 'object') return null;
  return { name, data } as StreamEvent;
}
