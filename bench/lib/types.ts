/**
 * The vocabulary of the benchmark harness.
 *
 * - **Workload**: one numbered scenario of issue 6, run in a fresh temporary
 *   workspace in its own Node process.
 * - **Measurement**: what a workload reports: its headline figure, the
 *   baseline measured in the same run, the target and whether it was met.
 * - **Row**: a measurement as written to `bench/results.json`.
 */

/** The machine a run happened on. */
export interface Machine {
  cpu: string;
  cores: number;
  /** Total memory, GiB. */
  memory_gib: number;
  node: string;
  os: string;
}

/** A secondary figure of a workload (p99 next to p50, `meow plan` next to queueing, …). */
export interface Detail {
  metric: string;
  value: number;
  unit: string;
  baseline: number | null;
  /** Empty when the figure has no target of its own. */
  target: string;
  /** Null when the figure has no target of its own, or was skipped. */
  pass: boolean | null;
  /** Why the figure was skipped ("skipped: …"), shown in the table's result column. */
  note?: string;
}

/** What a workload measured. */
export interface Measurement {
  /** What the headline figure is, e.g. "time until all succeeded". */
  metric: string;
  figure: number;
  unit: string;
  /** The same-run baseline in the figure's unit, or null when the workload has none. */
  baseline: number | null;
  /** What the baseline is, e.g. "bare chokidar delivering the same add events". */
  baselineWhat: string;
  target: string;
  /** Every target of the workload met (headline and details). */
  pass: boolean;
  /** The sizes this run used. */
  size: string;
  details: Detail[];
  /** Why a target was missed, or why the workload was skipped. */
  note?: string;
}

/** One line of `bench/results.json`. */
export interface Row {
  workload: string;
  figure: number;
  unit: string;
  baseline: number | null;
  ratio: number | null;
  target: string;
  pass: boolean;
  machine: Machine;
  metric: string;
  baseline_what: string;
  size: string;
  mode: 'full' | 'quick';
  seconds: number;
  details: Detail[];
  note?: string;
}

/** What a workload gets from the harness. */
export interface WorkloadContext {
  quick: boolean;
  /** A fresh directory for this workload; the harness removes it afterwards. */
  tmp: string;
  /** Headline figures of workloads that ran earlier in this run, by workload id. */
  prior: Record<string, { figure: number; unit: string }>;
  /** A peer (Watchman, inotifywait) that is not installed is an error rather than a skipped figure. */
  requirePeers: boolean;
  log(message: string): void;
}

/** A numbered workload of issue 6. */
export interface Workload {
  id: string;
  title: string;
  run(ctx: WorkloadContext): Promise<Measurement>;
}

/**
 * A benchmark run whose result is wrong (a job failed, a count is off):
 * the harness exits non-zero. Identified by its code across processes.
 */
export class BenchIncorrect extends Error {
  readonly code = 'MEOW_BENCH_INCORRECT';
}

/** Throws {@link BenchIncorrect} unless `ok`. */
export function check(ok: boolean, message: string): asserts ok {
  if (!ok) throw new BenchIncorrect(message);
}
