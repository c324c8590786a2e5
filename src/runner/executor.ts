import type { JobRecord, RecipeKind, Rule, Variables, VarValue, WorkspaceConfig } from '../core/types.js';

/** Everything an executor needs to prepare one job attempt. */
export interface ExecutorContext {
  job: JobRecord;
  rule: Rule;
  config: WorkspaceConfig;
  /** Absolute path of the job directory; it exists and is empty but for job.yaml. */
  jobDir: string;
  /** Variables after placeholder expansion; the input variable holds the absolute path. */
  variables: Variables;
  /** Placeholder values ({path}, {abspath}, {stem}, …, and every variable) for this job. */
  placeholders: Record<string, string>;
  /** Environment for the job: MEOW_JOB_ID, MEOW_JOB_DIR, MEOW_WORKSPACE, MEOW_PARAMS. */
  env: Record<string, string>;
}

/** How a backend runs a prepared job. */
export type Launch =
  | {
      type: 'process';
      /** Program; never interpreted by a shell. */
      file: string;
      args: string[];
      /** Added to the engine's environment. */
      env: Record<string, string>;
      /** Absolute working directory. */
      cwd: string;
      /**
       * A notebook launch whose kernel is the interpreter's own (`python3`): a
       * backend holding warm kernels of `file` may run it on one of them
       * (`MEOW_KERNEL_POOL`, runtime/nb_runner.py). Absent for every other launch.
       */
      kernel?: 'python3';
    }
  | {
      type: 'function';
      /** Absolute path of the module whose default export is `async (vars, ctx) => result`. */
      modulePath: string;
      variables: Variables;
    };

/** What a finished process left behind, read by the executor. */
export interface ExecutorOutcome {
  /** The error to record, or null when the run succeeded. */
  error: string | null;
  /** A small JSON result the recipe reported, or null. */
  result: VarValue | null;
}

/** Turns a job of one recipe kind into something a backend runs. */
export interface Executor {
  readonly kind: RecipeKind;
  /** Writes the parameterised recipe into the job dir and says how to run it. */
  prepare(ctx: ExecutorContext): Promise<Launch>;
  /**
   * Called after a process launch exits: reads what the run left in the job dir
   * (results, error reports). `stderrTail` is the end of stderr.log (empty after exit 0, where it is not read).
   */
  finish(ctx: ExecutorContext, exitCode: number | null, stderrTail: string): Promise<ExecutorOutcome>;
}
