import type { PendingSet } from '../runner/fan-in.js';
import type { EngineEvents } from '../core/engine-events.js';
import type { DefinitionError, JobRecord, JobStatus, ParsedPattern, ParsedRecipe } from '../core/types.js';
import type { Plan } from '../rules/planner.js';
import type { JobQuery, JobSearch } from '../store/store.js';

/** `meow status --json` of a running engine. */
export interface StatusJson {
  engine: 'running';
  jobs: Record<JobStatus, number>;
  patterns: number;
  recipes: number;
  /** Open fan-in groups and how far each is from complete. */
  pending_sets: PendingSet[];
}

/**
 * What the control socket and the CLI may do with a running engine: read
 * its jobs and definitions, steer jobs and patterns, change definitions and
 * hear its events. Nothing else of the engine is reachable through it.
 */
export interface EngineApi {
  /** The workspace root. */
  readonly root: string;
  on<K extends keyof EngineEvents>(name: K, listener: (...args: EngineEvents[K]) => void): unknown;
  once<K extends keyof EngineEvents>(name: K, listener: (...args: EngineEvents[K]) => void): unknown;
  off<K extends keyof EngineEvents>(name: K, listener: (...args: EngineEvents[K]) => void): unknown;

  /** Counts of current jobs (with `all`, superseded ones too). */
  statusJson(options?: { all?: boolean }): StatusJson;
  /** A job by id or unique id prefix. */
  findJob(idOrPrefix: string): JobRecord | null;
  /** Jobs matching the query, oldest first. */
  listJobs(q: JobQuery): JobRecord[];
  /** A window of jobs, newest first, with how many match. */
  searchJobs(q: JobSearch): { total: number; jobs: JobRecord[] };
  /** Job counts by state for each pattern; `current` leaves out superseded failures and cancellations. */
  jobCountsByPattern(options?: { current?: boolean }): Map<string, Record<JobStatus, number>>;
  /** The definition files that failed to parse or link (each with file, key and message); they are left out until fixed. */
  readonly definitionErrors: readonly DefinitionError[];
  /** Paths of the files the engine knows. */
  knownPaths(): Iterable<string>;

  /** The registered patterns and recipes, and the names of paused patterns. */
  readonly patterns: readonly ParsedPattern[];
  readonly recipes: readonly ParsedRecipe[];
  readonly pausedPatterns: ReadonlySet<string>;
  /** Pauses or resumes a pattern (remembered across restarts). Throws MEOW_NOT_FOUND for an unknown one. */
  setPaused(name: string, paused: boolean): void;

  /** Cancels a queued or running job; null when it is in another state. */
  cancelJob(id: string, note: string): JobRecord | null;
  /** Queues a failed or cancelled job again; null when it is in another state; MEOW_CONFLICT for a rule version no longer registered. */
  retryJob(id: string): JobRecord | null;
  /** Something happened at a path (an event from outside the watcher). */
  observe(path: string): void;

  /** Jobs that ended `failed` since this engine started. */
  readonly failedCount: number;
  /** Settling paths and queued or running jobs. */
  readonly busy: number;
  /** A reconcile scan now (serialized with definition changes); the number of jobs it created. */
  reconcileLive(): Promise<number>;
  /** Resolves when no job is queued or running. */
  whenIdle(): Promise<void>;

  /** What the definitions on disk would change now. */
  planFromDisk(): Promise<Plan>;
  /** Writes (or with null deletes) one definition file and applies it, or with `dryRun` only plans it. */
  changeDefinition(file: string, content: string | null, dryRun: boolean): Promise<{ plan: Plan; errors: DefinitionError[]; applied: boolean }>;
}

/** What `meow run` does with the engine it opened, on top of {@link EngineApi}. */
export interface EngineLifecycle extends EngineApi {
  /** meow.yaml's errors (the engine runs with defaults for the keys in error). */
  readonly configErrors: readonly DefinitionError[];
  /** Linked rules now. */
  readonly rules: readonly unknown[];
  /** Job counts by state. */
  /** Counts of current jobs (with `all`, superseded ones too). */
  statusJson(options?: { all?: boolean }): StatusJson;
  startLive(): Promise<void>;
  runUntilIdle(): Promise<void>;
  /** A second signal during `close()`: running attempts are stopped now and queued again for the next start. */
  stopNow(): void;
  close(options?: { cancelRunning?: boolean }): Promise<void>;
}
