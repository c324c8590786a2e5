/**
 * The workspace config (`meow.yaml`). Every key has a default, and a bad key
 * falls back to its default after reporting an error, so the engine always
 * gets a complete config and keeps running.
 */
import { Fields, isVarValue, joinKey, listWords, type Mapping } from './definition-fields.js';
import { describe } from './durations.js';
import type { BackendConfig, DefinitionError, VarValue, WorkspaceConfig } from './types.js';
import { parseSources } from '../sources/source-config.js';

/** The config file's name, relative to the workspace. */
export const CONFIG_FILE = 'meow.yaml';

/** Defaults of every key but `root`, `cpus` (the machine's cores) and `backends` (one `local`). */
export const CONFIG_DEFAULTS: Readonly<Omit<WorkspaceConfig, 'root' | 'cpus' | 'backends'>> = Object.freeze({
  watch: ['**'],
  ignore: [],
  watchMode: 'native',
  pollIntervalMs: 1000,
  python: null,
  maxGeneration: 100,
  maxSweep: 10_000,
  scanIntervalMs: 60_000,
  killGraceMs: 2000,
  hash: 'sha256',
  maxLogSize: 100 * 1024 ** 2,
  maxDefinitionSize: 1024 ** 2,
  stateAccess: 'private',
  followSymlinks: 'inside',
  maxDepth: 64,
  maxPathLength: 1024,
  warmKernels: 1,
});

export const CONFIG_KEYS = [
  'cpus',
  'watch',
  'ignore',
  'watch_mode',
  'poll_interval',
  'python',
  'max_generation',
  'max_sweep',
  'scan_interval',
  'kill_grace',
  'hash',
  'max_log_size',
  'max_definition_size',
  'state_access',
  'follow_symlinks',
  'max_depth',
  'max_path_length',
  'warm_kernels',
  'backends',
  'sources',
] as const;
export const BACKEND_TYPES = ['local', 'slurm', 'ssh'] as const;
export const WATCH_MODES = ['native', 'poll'] as const;
export const HASHES = ['none', 'sha256'] as const;
export const STATE_ACCESS = ['private', 'group'] as const;
export const FOLLOW_SYMLINKS = ['inside', 'all', 'none'] as const;
export const LOCAL_KEYS = ['type', 'cpus', 'gpus', 'memory'] as const;
const PYTHON_EXPECTED = 'a Python interpreter (a string) or null to detect one';

/**
 * Parses meow.yaml (`text` null when the file does not exist). `cores` is
 * the default for `cpus`. The config is always complete: invalid keys are
 * reported in `errors` and take their defaults.
 */
export function parseConfig(root: string, text: string | null, cores: number): { config: WorkspaceConfig; errors: DefinitionError[] } {
  const f = new Fields(CONFIG_FILE, 'MEOW_CONFIG_INVALID');
  let doc: Mapping = {};
  if (text !== null) {
    const loaded = f.loadYaml(text);
    // An empty (or all-comment) meow.yaml is fine: every key has a default.
    if (loaded.ok && loaded.value !== null && loaded.value !== undefined) {
      doc = f.mapping('', loaded.value, 'a mapping of settings like "cpus: 4"') ?? {};
    }
  }
  f.checkKeys('', doc, CONFIG_KEYS, 'meow.yaml');

  const d = CONFIG_DEFAULTS;
  const read = <T>(key: string, parse: (value: unknown) => T | undefined, fallback: T): T =>
    doc[key] === undefined ? fallback : (parse(doc[key]) ?? fallback);

  const cpus = read('cpus', (v) => f.int('cpus', v, 1), Math.max(1, cores));
  const config: WorkspaceConfig = {
    root,
    cpus,
    watch: read('watch', (v) => f.globs('watch', v, { nonEmpty: true }), [...d.watch]),
    ignore: read('ignore', (v) => f.globs('ignore', v, { nonEmpty: false }), [...d.ignore]),
    watchMode: read('watch_mode', (v) => f.oneOf('watch_mode', v, WATCH_MODES), d.watchMode),
    pollIntervalMs: read('poll_interval', (v) => positiveDuration(f, 'poll_interval', v), d.pollIntervalMs),
    python: read('python', (v) => (v === null ? null : f.string('python', v, PYTHON_EXPECTED)), d.python),
    maxGeneration: read('max_generation', (v) => f.int('max_generation', v, 1), d.maxGeneration),
    maxSweep: read('max_sweep', (v) => f.int('max_sweep', v, 1), d.maxSweep),
    scanIntervalMs: read('scan_interval', (v) => f.duration('scan_interval', v), d.scanIntervalMs),
    killGraceMs: read('kill_grace', (v) => f.duration('kill_grace', v), d.killGraceMs),
    hash: read('hash', (v) => f.oneOf('hash', v, HASHES), d.hash),
    maxLogSize: read('max_log_size', (v) => (v === null ? 0 : f.size('max_log_size', v)), d.maxLogSize),
    stateAccess: read('state_access', (v) => f.oneOf('state_access', v, STATE_ACCESS), d.stateAccess),
    maxDefinitionSize: read('max_definition_size', (v) => positiveSize(f, 'max_definition_size', v), d.maxDefinitionSize),
    backends: readBackends(f, doc.backends, cpus),
    followSymlinks: read('follow_symlinks', (v) => f.oneOf('follow_symlinks', v, FOLLOW_SYMLINKS), d.followSymlinks),
    maxDepth: read('max_depth', (v) => f.int('max_depth', v, 1), d.maxDepth),
    maxPathLength: read('max_path_length', (v) => f.int('max_path_length', v, 16), d.maxPathLength),
    warmKernels: read('warm_kernels', (v) => warmKernels(f, v), d.warmKernels),
  };
  if (doc.sources !== undefined) config.sources = parseSources(f, doc.sources);
  return { config, errors: f.errors };
}

/** The most idle kernels a pool keeps: each holds a Python process of 50 MiB or more. */
export const MAX_WARM_KERNELS = 64;

function warmKernels(f: Fields, value: unknown): number | undefined {
  const n = f.int('warm_kernels', value, 0);
  if (n !== undefined && n > MAX_WARM_KERNELS) return f.error('warm_kernels', `expected at most ${MAX_WARM_KERNELS} idle kernels, got ${n}; each is a Python process of its own`);
  return n;
}

function positiveSize(f: Fields, key: string, value: unknown): number | undefined {
  const bytes = f.size(key, value);
  if (bytes === 0) return f.error(key, 'expected a positive size like "1MiB", got 0');
  return bytes;
}

function positiveDuration(f: Fields, key: string, value: unknown): number | undefined {
  const ms = f.duration(key, value);
  if (ms === 0) return f.error(key, 'expected a positive duration like "500ms" or "2s", got 0');
  return ms;
}

/** The configured backends; a `local` backend of type local always exists. */
function readBackends(f: Fields, value: unknown, cpus: number): Record<string, BackendConfig> {
  const backends: Record<string, BackendConfig> = {};
  const expected = 'a mapping of backend names to {type: local|slurm|ssh, ...}';
  const m = value === undefined || value === null ? {} : (f.mapping('backends', value, expected) ?? {});
  for (const [name, spec] of Object.entries(m)) {
    const backend = readBackend(f, name, spec, cpus);
    if (backend) backends[name] = backend;
  }
  if (backends.local) return backends;
  // Listed first, so messages that list the backends start with the default one.
  return { local: { name: 'local', type: 'local', options: { cpus } }, ...backends };
}

function readBackend(f: Fields, name: string, value: unknown, cpus: number): BackendConfig | undefined {
  const key = joinKey('backends', name);
  if (f.name(key, name, 'backend') === undefined) return undefined;
  const m = value === null ? {} : f.mapping(key, value, `a mapping like {type: ${listWords(BACKEND_TYPES)}, ...}`);
  if (!m) return undefined;
  const rawType = m.type === undefined && name === 'local' ? 'local' : m.type;
  if (rawType === undefined) return f.error(joinKey(key, 'type'), `missing; say which kind of backend "${name}" is: ${listWords(BACKEND_TYPES)}`);
  const type = f.oneOf(joinKey(key, 'type'), rawType, BACKEND_TYPES);
  if (type === undefined) return undefined;
  if (name === 'local' && type !== 'local') {
    return f.error(joinKey(key, 'type'), `the backend named "local" is always of type local; give the ${type} backend another name`);
  }

  const options: Record<string, VarValue> = {};
  let ok = true;
  for (const [k, v] of Object.entries(m)) {
    if (k === 'type') continue;
    if (isVarValue(v)) {
      options[k] = v;
    } else {
      f.error(joinKey(key, k), `expected a string, number, boolean, list or mapping, got ${String(v)}`);
      ok = false;
    }
  }
  if (type === 'local') ok = checkLocalOptions(f, key, options, cpus) && ok;
  if (type === 'ssh') {
    const host = f.string(joinKey(key, 'host'), options.host, 'a host name to ssh to (a string), e.g. "host: gpu01"');
    if (host === undefined) ok = false;
  }
  if (type !== 'local') ok = checkPacking(f, key, type, options) && ok;
  return ok ? { name, type, options } : undefined;
}

/** Slurm's default MaxArraySize: task ids 0…1000. */
export const MAX_ARRAY_SIZE = 1001;

/**
 * The packing keys of the remote backends: `batch_window` (ssh) and
 * `array_window`, `array_size` (slurm), each named in its error with the fix.
 */
function checkPacking(f: Fields, key: string, type: 'slurm' | 'ssh', options: Record<string, VarValue>): boolean {
  const given = (k: string) => options[k] !== undefined && options[k] !== null;
  const wrong = (k: string, other: 'slurm' | 'ssh') => f.error(joinKey(key, k), `only ${other === 'ssh' ? 'an' : 'a'} ${other} backend has "${k}"; this backend is of type ${type}, so remove the key`);
  let ok = true;
  const window = (k: string) => {
    const ms = f.duration(joinKey(key, k), options[k]);
    if (ms === undefined) return false;
    if (ms > 60_000) return f.error(joinKey(key, k), `expected at most 1 minute (jobs wait this long to be packed), got ${describe(options[k])}; a window of "200ms" to "2s" suits bursts`) ?? false;
    return true;
  };
  if (type === 'ssh') {
    if (given('batch_window')) ok = window('batch_window') && ok;
    for (const k of ['array_window', 'array_size']) if (given(k)) ok = (wrong(k, 'slurm') ?? false) && ok;
  } else {
    if (given('array_window')) ok = window('array_window') && ok;
    if (given('array_size')) {
      const n = f.int(joinKey(key, 'array_size'), options.array_size, 1);
      if (n === undefined) ok = false;
      else if (n > MAX_ARRAY_SIZE) ok = (f.error(joinKey(key, 'array_size'), `expected at most ${MAX_ARRAY_SIZE} (Slurm's default MaxArraySize), got ${n}; lower it, or raise MaxArraySize in slurm.conf first`) ?? false) && ok;
    }
    if (given('batch_window')) ok = (wrong('batch_window', 'ssh') ?? false) && ok;
  }
  return ok;
}

/** Local backends: `cpus` (default: top-level cpus), `memory` (a size) and `gpus` (auto | N | [ids]). */
function checkLocalOptions(f: Fields, key: string, options: Record<string, VarValue>, cpus: number): boolean {
  let ok = true;
  f.checkKeys(key, options, LOCAL_KEYS, 'a local backend');
  if (options.cpus === undefined) options.cpus = cpus;
  else if (f.int(joinKey(key, 'cpus'), options.cpus, 1) === undefined) ok = false;
  if (options.memory !== undefined && options.memory !== null && f.size(joinKey(key, 'memory'), options.memory) === undefined) ok = false;
  const gpus = options.gpus;
  const isId = (g: VarValue): boolean => typeof g === 'number' && Number.isInteger(g) && g >= 0;
  if (gpus !== undefined && gpus !== 'auto' && !isId(gpus) && !(Array.isArray(gpus) && gpus.every(isId))) {
    f.error(joinKey(key, 'gpus'), `expected "auto", a number of GPUs, or a list of GPU ids like [0, 1], got ${describe(gpus)}`);
    ok = false;
  }
  return ok;
}
