/**
 * The options of a `type: ssh` backend in meow.yaml, parsed once into typed
 * values. A bad option is reported (and every job sent to the backend fails
 * with that message) instead of stopping the engine.
 */
import { Fields, joinKey } from '../../../core/definition-fields.js';
import { describe } from '../../../core/durations.js';
import { CONFIG_FILE } from '../../../core/config-schema.js';
import type { BackendConfig } from '../../../core/types.js';

/** An SSH backend's settings. */
export interface SshOptions {
  /** Host name or ssh_config alias. */
  host: string;
  /** @default null: ssh's default (ssh_config or the local user) */
  user: string | null;
  /** @default null: ssh's default (22 or ssh_config) */
  port: number | null;
  /** A private key file. @default null: ssh's default keys / agent */
  identity: string | null;
  /** Remote directory under which workspaces are mirrored; relative paths are under the remote home. @default ".meowflow" */
  workdir: string;
  /**
   * The host mounts the workspace at the same path (NFS, say): jobs run in
   * place, nothing is staged, rewritten or brought back, `workdir` is unused.
   * @default false
   */
  sharedFs: boolean;
  /** Job slots on the host. @default null: the host's `nproc` */
  cpus: number | null;
  /** The host's GPUs, handed out exclusively through CUDA_VISIBLE_DEVICES: a count or a list of ids. @default [] */
  gpus: string[];
  /** More ssh arguments, before the host (`["-o", "ProxyJump=gw"]`). @default [] */
  sshArgs: string[];
  /** Node on the remote host, for JavaScript recipes. @default "node" */
  node: string;
  /** How often one ssh call checks every job on the host. @default 1000 */
  pollIntervalMs: number;
  /** How long jobs are collected to be staged, started and brought back together, ms. @default 100 */
  batchWindowMs: number;
}

export const SSH_KEYS = ['host', 'user', 'port', 'identity', 'workdir', 'shared_fs', 'cpus', 'gpus', 'ssh_args', 'node', 'poll_interval', 'batch_window'] as const;

/** Parses an ssh backend's options; `errors` are full messages. */
export function parseSshOptions(backend: BackendConfig): { options: SshOptions; errors: string[] } {
  const f = new Fields(CONFIG_FILE, 'MEOW_CONFIG_INVALID');
  const key = (k: string) => joinKey(joinKey('backends', backend.name), k);
  const o = backend.options;
  f.checkKeys(joinKey('backends', backend.name), o, SSH_KEYS, 'an ssh backend');
  const opt = <T>(k: string, parse: (v: unknown) => T | undefined, fallback: T): T =>
    o[k] === undefined || o[k] === null ? fallback : (parse(o[k]) ?? fallback);
  const host = f.string(key('host'), o.host, 'a host name to ssh to (a string), e.g. "host: gpu01"') ?? '';
  const options: SshOptions = {
    host,
    user: opt<string | null>('user', (v) => f.string(key('user'), v, 'a user name'), null),
    port: opt<number | null>('port', (v) => f.int(key('port'), v, 1), null),
    identity: opt<string | null>('identity', (v) => f.string(key('identity'), v, 'the path of a private key file'), null),
    workdir: opt('workdir', (v) => f.string(key('workdir'), v, 'a directory on the remote host'), '.meowflow'),
    sharedFs: opt('shared_fs', (v) => f.boolean(key('shared_fs'), v), false),
    cpus: opt<number | null>('cpus', (v) => f.int(key('cpus'), v, 1), null),
    gpus: opt('gpus', (v) => gpuIds(f, key('gpus'), v), []),
    sshArgs: opt('ssh_args', (v) => stringList(f, key('ssh_args'), v), []),
    node: opt('node', (v) => f.string(key('node'), v, 'the path of node on the remote host'), 'node'),
    pollIntervalMs: Math.max(100, opt('poll_interval', (v) => f.duration(key('poll_interval'), v), 1000)),
    batchWindowMs: opt('batch_window', (v) => f.duration(key('batch_window'), v), 100),
  };
  return { options, errors: formatOptionErrors(f) };
}

/** A count of GPUs (ids 0…N-1) or a list of ids. */
function gpuIds(f: Fields, key: string, value: unknown): string[] | undefined {
  const isId = (g: unknown): g is number => typeof g === 'number' && Number.isInteger(g) && g >= 0;
  if (isId(value)) return Array.from({ length: value }, (_, i) => String(i));
  if (Array.isArray(value) && value.every(isId)) return [...new Set(value.map(String))];
  return f.error(key, `expected a number of GPUs or a list of GPU ids like [0, 1], got ${describe(value)}`);
}

/** A list of strings, or one string of space-separated words. */
export function stringList(f: Fields, key: string, value: unknown): string[] | undefined {
  if (typeof value === 'string') return value.split(/\s+/).filter((s) => s !== '');
  if (Array.isArray(value) && value.every((v) => typeof v === 'string')) return value;
  return f.error(key, `expected a list of strings like ["--qos=high", "--exclusive"], got ${describe(value)}`);
}

/** The recorded errors as `meow.yaml: key: message` lines. */
export function formatOptionErrors(f: Fields): string[] {
  return f.errors.map((e) => (e.key === '' ? `${e.file}: ${e.message}` : `${e.file}: ${e.key}: ${e.message}`));
}
