/**
 * The options of a `type: slurm` backend in meow.yaml, parsed once into typed
 * values. A bad option is reported (and every job sent to the backend fails
 * with that message) instead of stopping the engine.
 */
import { Fields, joinKey } from '../../../core/definition-fields.js';
import { CONFIG_FILE } from '../../../core/config-schema.js';
import { formatOptionErrors, stringList } from '../ssh/ssh-options.js';
import type { BackendConfig } from '../../../core/types.js';

/** A Slurm backend's settings. */
export interface SlurmOptions {
  /** `--partition`; null: the cluster's default. @default null */
  partition: string | null;
  /** `--account`; null: the user's default. @default null */
  account: string | null;
  /** More sbatch arguments, passed as they are (`["--qos=high", "--constraint=a100"]`). @default [] */
  sbatchArgs: string[];
  /** `--time` for jobs without a timeout, in ms; null: the partition's default. @default null */
  timeMs: number | null;
  /** How often one `squeue` call checks every tracked job. @default 3000 */
  pollIntervalMs: number;
  /** Node on the compute nodes, for JavaScript recipes. @default the engine's own node (shared filesystem) */
  node: string;
  /** How long jobs are collected into one job array, ms; 0 submits each job alone. @default 500 */
  arrayWindowMs: number;
  /** Most tasks in one job array. @default 1000 */
  arraySize: number;
}

export const SLURM_KEYS = ['partition', 'account', 'sbatch_args', 'time', 'poll_interval', 'node', 'array_window', 'array_size'] as const;

/** Parses a slurm backend's options; `errors` are full messages. */
export function parseSlurmOptions(backend: BackendConfig): { options: SlurmOptions; errors: string[] } {
  const f = new Fields(CONFIG_FILE, 'MEOW_CONFIG_INVALID');
  const key = (k: string) => joinKey(joinKey('backends', backend.name), k);
  const o = backend.options;
  f.checkKeys(joinKey('backends', backend.name), o, SLURM_KEYS, 'a slurm backend');
  const opt = <T>(k: string, parse: (v: unknown) => T | undefined, fallback: T): T =>
    o[k] === undefined || o[k] === null ? fallback : (parse(o[k]) ?? fallback);
  const pollIntervalMs = opt('poll_interval', (v) => f.duration(key('poll_interval'), v), 3000);
  const options: SlurmOptions = {
    partition: opt<string | null>('partition', (v) => f.string(key('partition'), v, 'a partition name'), null),
    account: opt<string | null>('account', (v) => f.string(key('account'), v, 'an account name'), null),
    sbatchArgs: opt('sbatch_args', (v) => stringList(f, key('sbatch_args'), v), []),
    timeMs: opt<number | null>('time', (v) => f.duration(key('time'), v), null),
    pollIntervalMs: Math.max(100, pollIntervalMs),
    node: opt('node', (v) => f.string(key('node'), v, 'the path of node on the compute nodes'), process.execPath),
    arrayWindowMs: opt('array_window', (v) => f.duration(key('array_window'), v), 500),
    arraySize: opt('array_size', (v) => f.int(key('array_size'), v, 1), 1000),
  };
  return { options, errors: formatOptionErrors(f) };
}
