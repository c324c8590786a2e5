import type { SourceConfig } from '../sources/source-types.js';

/**
 * The vocabulary of meowflow. The code uses these words for these things only.
 *
 * - **FileEvent**: something that happened to a file in the watched tree:
 *   `created`, `modified`, `deleted` or `moved`.
 * - **Pattern**: a trigger (globs + event kinds), the name of a recipe, and the
 *   variables handed to it. One YAML file under `patterns/`.
 * - **Recipe**: named instructions — a notebook, a Python or bash script, a
 *   JavaScript function, or a command. One file under `recipes/`.
 * - **Rule**: a pattern linked with the recipe it names. Its `version` is a hash
 *   of both definitions, so editing either gives a new rule version.
 * - **Job**: one run of a rule's recipe for one triggering event (and one sweep
 *   point). Identified for idempotence by its key: (rule version and its
 *   registration epoch, input path, input content version, sweep point).
 * - **Backend**: where a job's process runs (local slots, Slurm, SSH).
 * - **Executor**: turns a job of one recipe kind into something a backend runs.
 */
import type { ExactNumber } from './exact-number.js';

export const EVENT_KINDS = ['created', 'modified', 'deleted', 'moved'] as const;
/** What happened to a file. */
export type EventKind = (typeof EVENT_KINDS)[number];

/*
 * Job states:
 *
 *   queued ──► running ──► succeeded
 *     ▲  │        │  └───► failed
 *     │  │        │
 *     │  └────────┴──────► cancelled
 *     └── running (failed attempt with retries left goes back to queued;
 *                  so does one the engine lost in a crash, see runner/recovery-jobs.ts)
 *
 *   queued ──► failed directly when its resources can never fit its backend,
 *   or when it is past max_generation.
 */
export const JOB_STATES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'] as const;
/** The state of a job. */
export type JobStatus = (typeof JOB_STATES)[number];
/** States a job never leaves. */
export const FINAL_STATES: readonly JobStatus[] = ['succeeded', 'failed', 'cancelled'];

export const RECIPE_KINDS = ['notebook', 'python', 'bash', 'javascript', 'command'] as const;
/** How a recipe runs; derived from its file extension. */
export type RecipeKind = (typeof RECIPE_KINDS)[number];

export const PARAMETERIZE_MODES = ['papermill', 'assignments'] as const;
/**
 * How a notebook receives its variables: `papermill` injects a cell after the
 * cell tagged `parameters`; `assignments` (MEOW's parameterizer) replaces every
 * top-level assignment of a variable in the notebook's code cells.
 */
export type ParameterizeMode = (typeof PARAMETERIZE_MODES)[number];

/**
 * A variable value: anything YAML and JSON both express. A `number` is always
 * finite and exact; a number a double would change (an integer beyond 2^53,
 * a float written `3.0`, `.inf`, `.nan`) is an `ExactNumber` (core/exact-number.ts).
 */
export type VarValue = string | number | ExactNumber | boolean | null | VarValue[] | { [key: string]: VarValue };
/** Variables by name. */
export type Variables = Record<string, VarValue>;

/**
 * A numeric sweep: `stop` is inclusive; `step` may be negative. An integer
 * range with a bound or step beyond ±(2^53 − 1) holds those as exact ints
 * (ExactNumber) and is counted exactly.
 */
export interface SweepRange {
  start: number | ExactNumber;
  stop: number | ExactNumber;
  step: number | ExactNumber;
  /** Written with floats (`1.0`), so every value is a float, `2.0` included. @default false */
  float?: boolean;
}
/** A sweep variable: a range or an explicit list of values. */
export type SweepSpec = SweepRange | VarValue[];

/** What a job asks of its backend. */
export interface Resources {
  /** @default 1 */
  cpus: number;
  /** @default 0 */
  gpus: number;
  /** Bytes, or null for no limit. @default null */
  memory: number | null;
}

/** The trigger of a pattern. */
export interface Trigger {
  /** Globs relative to the workspace. */
  paths: string[];
  /** @default ['created', 'modified'] */
  events: EventKind[];
  /** Globs excluded from the trigger. @default [] */
  ignore: string[];
  /** Milliseconds a file must stay unchanged before it triggers. @default 0 */
  settleMs: number;
}

/** A pattern file, parsed and normalised. */
export interface ParsedPattern {
  name: string;
  /** Workspace-relative path of the definition file. */
  file: string;
  /** sha256 of the file's bytes. */
  hash: string;
  recipe: string;
  trigger: Trigger;
  /** The variable receiving the triggering file's absolute path. @default 'input_file' */
  input: string;
  variables: Variables;
  sweep: Record<string, SweepSpec>;
  /** Globs (placeholders allowed) of the files the recipe writes. */
  outputs: string[];
  /** @default 'local' */
  backend: string;
  resources: Resources;
  /** Milliseconds, or null for none. */
  timeoutMs: number | null;
  /** @default 0 */
  retries: number;
  /** An intended loop: silences cycle warnings. @default false */
  loop: boolean;
  /** Notebooks: how variables arrive; absent when the pattern makes no choice (the recipe's, else papermill's). */
  parameterize?: ParameterizeMode;
  /**
   * Whether files a job of this pattern wrote before it was cancelled for a
   * rule change or removal trigger other patterns (absent in definitions
   * registered before the key existed: false). @default false
   */
  cascadeCancelled?: boolean;
  /** One job per complete group of files (fan-in). @default null */
  collect?: CollectSpec | null;
  /** One job per batch of files (fan-in). @default null */
  batch?: BatchSpec | null;
  /** Globs (placeholders allowed) of extra files the recipe reads, recorded in lineage. @default [] */
  inputs?: string[];
}

/** When a collected group is complete: a member count, a marker file present, or no new member for a while. */
export type Completion = { kind: 'count'; count: number } | { kind: 'marker'; marker: string } | { kind: 'quiet'; quietMs: number };

/** `collect:` of a pattern: group files by a key, one job per complete group. */
export interface CollectSpec {
  /** The group key: a template of file placeholders ({dir}, {stem}, …). */
  by: string;
  complete: Completion;
  /** Milliseconds after a group's first member when an incomplete group runs or fails; null for never. @default null */
  timeoutMs: number | null;
  /** @default 'run' */
  onTimeout: 'run' | 'fail';
}

/** `batch:` of a pattern: one job per batch, closed by size and/or time. */
export interface BatchSpec {
  /** The most files in one batch; null for no limit. */
  maxFiles: number | null;
  /** Milliseconds after a batch opens when it closes; null for no limit. */
  maxWaitMs: number | null;
  /** A key batching files separately (e.g. "{dir}"); null for one stream. */
  by: string | null;
}

/** A command recipe (`*.yaml` under recipes/). */
export interface CommandSpec {
  /** argv; each element may hold placeholders. Null when `script` is used. */
  command: string[] | null;
  /** A script body run by `shell` (only when written explicitly). */
  script: string | null;
  shell: 'bash' | null;
  env: Record<string, string>;
  /** Working directory relative to the workspace (placeholders allowed). */
  cwd: string | null;
}

/** A recipe file, parsed. */
export interface ParsedRecipe {
  /** The file's stem. */
  name: string;
  file: string;
  hash: string;
  kind: RecipeKind;
  /** The file's text. */
  source: string;
  /** Set for `command` recipes. */
  command: CommandSpec | null;
  /** Notebooks: `metadata.meowflow.parameterize`; absent when the notebook makes no choice. */
  parameterize?: ParameterizeMode;
}

/** A definition the engine could not accept. */
export interface DefinitionError {
  /** Workspace-relative file. */
  file: string;
  /** Dotted key inside the file, or '' for the whole file. */
  key: string;
  /** What was wrong and what is allowed. */
  message: string;
  /** Stable code, e.g. MEOW_PATTERN_INVALID. */
  code: string;
}

/** A pattern linked with its recipe. */
export interface Rule {
  /** The pattern's name: one rule per pattern. */
  name: string;
  /** Hash of the pattern's and the recipe's content hashes. */
  version: string;
  /**
   * The registration this rule belongs to: a new one each time the rule is
   * added or changed, kept across restarts; part of its jobs' keys, so
   * re-registering an earlier version runs again. @default 0
   */
  epoch?: number;
  pattern: ParsedPattern;
  recipe: ParsedRecipe;
}

/** Something that happened to a file, after settling. */
export interface FileEvent {
  kind: EventKind;
  /** Workspace-relative path (the new path for `moved`). */
  path: string;
  /** The old path, for `moved`. */
  oldPath: string | null;
  /** The content version: size and mtime, or `deleted`. */
  version: string;
  /** 0 for files from outside; parent + 1 for a job's outputs. */
  generation: number;
  /** The job whose output this file is, if any. */
  cause: string | null;
}

/** Configuration of one backend in meow.yaml. */
export interface BackendConfig {
  name: string;
  type: 'local' | 'slurm' | 'ssh';
  /** Other keys, as written. */
  options: Record<string, VarValue>;
}

/** meow.yaml, parsed, with defaults filled in. */
export interface WorkspaceConfig {
  /** Absolute path of the workspace. */
  root: string;
  /** Job slots of the local backend. @default os.availableParallelism() */
  cpus: number;
  /** Globs of watched paths relative to the workspace. @default ['**'] */
  watch: string[];
  /** Globs never watched (added to the built-in .meow, patterns, recipes, .git, node_modules). */
  ignore: string[];
  /** @default 'native' */
  watchMode: 'native' | 'poll';
  /** @default 1000 */
  pollIntervalMs: number;
  /** Python interpreter; null to detect. */
  python: string | null;
  /** @default 100 */
  maxGeneration: number;
  /** @default 10000 */
  maxSweep: number;
  /** Milliseconds between reconcile scans of a live engine. @default 60000 */
  scanIntervalMs: number;
  /** Milliseconds between SIGTERM and SIGKILL on cancel/timeout. @default 2000 */
  killGraceMs: number;
  backends: Record<string, BackendConfig>;
  /** Content hash recorded for each job's input (lineage). @default 'sha256' */
  hash: 'none' | 'sha256';
  /**
   * Who may read `.meow/` (the database with every variable, the logs, params.json):
   * `private` (mode 0700, its owner only) or `group` (mode 2770: the directory's group may read and write). @default 'private'
   */
  stateAccess: 'private' | 'group';
  /** The largest pattern file, command recipe (YAML) or meow.yaml read, in bytes; larger ones are refused unread. @default 1 MiB */
  maxDefinitionSize: number;
  /** Bytes each of a job's stdout.log and stderr.log may hold; 0 for no cap (`max_log_size: null`). @default 100 MiB */
  maxLogSize: number;
  /** Which symbolic links in the watched tree are followed (docs/configuration.md#follow_symlinks). @default 'inside' */
  followSymlinks: 'inside' | 'all' | 'none';
  /** Directory levels below the workspace that are watched and scanned. @default 64 */
  maxDepth: number;
  /** Bytes of a workspace-relative path beyond which it is neither watched nor scanned. @default 1024 */
  maxPathLength: number;
  /**
   * Idle Jupyter kernels each local backend keeps started for its Python
   * notebooks (docs/recipes.md#warm-kernels); 0 starts a kernel per job. @default 1
   */
  warmKernels: number;
  /** Remote event sources (`sources:`, docs/remote.md); absent when meow.yaml has none. */
  sources?: SourceConfig[];
}

/** A job as stored and shown (`meow jobs --json`). */
export interface JobRecord {
  id: string;
  /** Idempotence key: (rule version, input path, input version, sweep point). */
  key: string;
  pattern: string;
  recipe: string;
  ruleVersion: string;
  status: JobStatus;
  /** Workspace-relative path of the triggering file; for a set job its group key (collect) or first member (batch). */
  input: string;
  /** A set job's members, workspace-relative, in arrival order; null for a single-file job. */
  /** Computed by the queries that list jobs: a later success, rule version or input version replaced it (store/job-row.ts). */
  superseded?: boolean;
  inputs: string[] | null;
  /** Content version of the input when triggered. */
  inputVersion: string;
  event: EventKind;
  oldPath: string | null;
  variables: Variables;
  sweepPoint: Variables | null;
  attempt: number;
  retries: number;
  timeoutMs: number | null;
  exitCode: number | null;
  error: string | null;
  result: VarValue | null;
  backend: string;
  generation: number;
  cause: string | null;
  /** Workspace-relative job directory. */
  jobDir: string;
  pid: number | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
}
