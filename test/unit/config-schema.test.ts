import { describe, it, expect } from 'vitest';
import { CONFIG_DEFAULTS, parseConfig } from '../../src/core/config-schema.js';
import type { WorkspaceConfig } from '../../src/core/types.js';

const DEFAULTS: WorkspaceConfig = {
  root: '/ws',
  cpus: 4,
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
  backends: { local: { name: 'local', type: 'local', options: { cpus: 4 } } },
};

function errorsOf(text: string): string[] {
  const { errors } = parseConfig('/ws', text, 4);
  for (const e of errors) expect(e).toMatchObject({ file: 'meow.yaml', code: 'MEOW_CONFIG_INVALID' });
  return errors.map((e) => `${e.key} | ${e.message}`);
}

describe('parseConfig', () => {
  it('gives the defaults for a missing, empty or all-comment file', () => {
    expect(parseConfig('/ws', null, 4)).toEqual({ config: DEFAULTS, errors: [] });
    expect(parseConfig('/ws', '', 4)).toEqual({ config: DEFAULTS, errors: [] });
    expect(parseConfig('/ws', '# settings\n', 4)).toEqual({ config: DEFAULTS, errors: [] });
    expect(CONFIG_DEFAULTS).toMatchObject({ maxSweep: 10_000, maxGeneration: 100, watch: ['**'] });
  });

  it('reads every key', () => {
    const text = `
cpus: 8
watch: [data/**, incoming/**]
ignore: "**/*.tmp"
watch_mode: poll
poll_interval: 250ms
python: /usr/bin/python3
max_generation: 5
max_sweep: 50
scan_interval: 0
kill_grace: 5s
hash: none
max_log_size: 1MiB
follow_symlinks: none
max_depth: 8
max_path_length: 200
warm_kernels: 0
backends:
  local: {gpus: auto, memory: 8GiB}
  cluster: {type: slurm, partition: gpu, sbatch_args: ["--account=xyz"]}
  gpubox: {type: ssh, host: gpu01, user: alice}
  spare: {type: local, cpus: 2, gpus: [0, 1]}
`;
    const { config, errors } = parseConfig('/ws', text, 4);
    expect(errors).toEqual([]);
    expect(config).toEqual({
      root: '/ws',
      cpus: 8,
      watch: ['data/**', 'incoming/**'],
      ignore: ['**/*.tmp'],
      watchMode: 'poll',
      pollIntervalMs: 250,
      python: '/usr/bin/python3',
      maxGeneration: 5,
      maxSweep: 50,
      scanIntervalMs: 0,
      killGraceMs: 5000,
      hash: 'none',
      maxLogSize: 1024 ** 2,
      maxDefinitionSize: 1024 ** 2,
      stateAccess: 'private',
      followSymlinks: 'none',
      maxDepth: 8,
      maxPathLength: 200,
      warmKernels: 0,
      backends: {
        local: { name: 'local', type: 'local', options: { gpus: 'auto', memory: '8GiB', cpus: 8 } },
        cluster: { name: 'cluster', type: 'slurm', options: { partition: 'gpu', sbatch_args: ['--account=xyz'] } },
        gpubox: { name: 'gpubox', type: 'ssh', options: { host: 'gpu01', user: 'alice' } },
        spare: { name: 'spare', type: 'local', options: { cpus: 2, gpus: [0, 1] } },
      },
    });
  });

  it('reports bad keys and falls back to their defaults', () => {
    const text = 'cpus: 0\nwatch_mode: polling\npoll_interval: 0\nmax_sweep: many\nmax_generaton: 3\nkill_grace: soon\nfollow_symlinks: outside\nmax_depth: 0\n';
    const { config, errors } = parseConfig('/ws', text, 4);
    expect(config).toEqual(DEFAULTS);
    expect(errors.map((e) => `${e.key} | ${e.message}`)).toEqual([
      'max_generaton | unknown key "max_generaton" (did you mean "max_generation"?); meow.yaml allows: cpus, watch, ignore, watch_mode, poll_interval, python, max_generation, max_sweep, scan_interval, kill_grace, hash, max_log_size, max_definition_size, state_access, follow_symlinks, max_depth, max_path_length, warm_kernels, backends, sources',
      'cpus | expected a positive whole number, got the number 0',
      'watch_mode | expected one of native or poll, got the string "polling" (did you mean "poll"?)',
      'poll_interval | expected a positive duration like "500ms" or "2s", got 0',
      'max_sweep | expected a positive whole number, got the string "many"',
      'kill_grace | expected a duration like "250ms", "30s", "30m", "2h" or a number of seconds, got "soon"',
      'follow_symlinks | expected one of inside, all or none, got the string "outside"',
      'max_depth | expected a positive whole number, got the number 0',
    ]);
  });

  it('reports a bad warm_kernels and falls back to one idle kernel', () => {
    expect(errorsOf('warm_kernels: -1\n')).toEqual(['warm_kernels | expected a whole number of at least 0, got the number -1']);
    expect(errorsOf('warm_kernels: "2"\n')).toEqual(['warm_kernels | expected a whole number of at least 0, got the string "2"; write the number without quotes: warm_kernels: 2']);
    expect(errorsOf('warm_kernels: 65\n')).toEqual(['warm_kernels | expected at most 64 idle kernels, got 65; each is a Python process of its own']);
    expect(parseConfig('/ws', 'warm_kernels: 1.5\n', 4).config.warmKernels).toBe(1);
    expect(parseConfig('/ws', 'warm_kernels: 3\n', 4)).toEqual({ config: { ...DEFAULTS, warmKernels: 3 }, errors: [] });
  });

  it('reports a YAML syntax error with line and column, and still returns the defaults', () => {
    const { config, errors } = parseConfig('/ws', 'cpus: 2\nwatch: [a\n', 4);
    expect(config).toEqual(DEFAULTS);
    expect(errors.map((e) => `${e.key} | ${e.message}`)).toEqual([
      ' | invalid YAML at line 3, column 1: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  it('rejects a file that is not a mapping', () => {
    expect(errorsOf('- cpus\n')).toEqual([' | expected a mapping of settings like "cpus: 4", got a list']);
  });

  it('validates backends and always keeps a local one', () => {
    const text = `
backends:
  local: {type: slurm}
  cluster: {partition: gpu}
  gpubox: {type: ssh}
  odd: {type: kubernetes}
  box: {type: local, gpus: lots}
  "bad name": {type: slurm}
`;
    const { config, errors } = parseConfig('/ws', text, 4);
    expect(config.backends).toEqual(DEFAULTS.backends);
    expect(errors.map((e) => `${e.key} | ${e.message}`)).toEqual([
      'backends.local.type | the backend named "local" is always of type local; give the slurm backend another name',
      'backends.cluster.type | missing; say which kind of backend "cluster" is: local, slurm or ssh',
      'backends.gpubox.host | expected a host name to ssh to (a string), e.g. "host: gpu01", got nothing',
      'backends.odd.type | expected one of local, slurm or ssh, got the string "kubernetes"',
      'backends.box.gpus | expected "auto", a number of GPUs, or a list of GPU ids like [0, 1], got the string "lots"',
      'backends.bad name | "bad name" is not a valid backend name; names start with a letter or digit and use only letters, digits, "_", "." and "-"',
    ]);
  });

  it('checks the packing keys of the remote backends: the right backend type, a duration of at most a minute, an array size Slurm takes', () => {
    const text = `
backends:
  c1: {type: slurm, array_window: 2s, array_size: 500}
  c2: {type: slurm, array_window: 5m, array_size: 5000}
  c3: {type: slurm, array_size: 0, batch_window: 1s}
  s1: {type: ssh, host: h, batch_window: 250ms}
  s2: {type: ssh, host: h, batch_window: soon, array_size: 10}
`;
    const { config, errors } = parseConfig('/ws', text, 4);
    expect(Object.keys(config.backends)).toEqual(['local', 'c1', 's1']);
    expect(config.backends.c1.options).toEqual({ array_window: '2s', array_size: 500 });
    expect(errors.map((e) => `${e.key} | ${e.message}`)).toEqual([
      'backends.c2.array_window | expected at most 1 minute (jobs wait this long to be packed), got the string "5m"; a window of "200ms" to "2s" suits bursts',
      "backends.c2.array_size | expected at most 1001 (Slurm's default MaxArraySize), got 5000; lower it, or raise MaxArraySize in slurm.conf first",
      'backends.c3.array_size | expected a positive whole number, got the number 0',
      'backends.c3.batch_window | only an ssh backend has "batch_window"; this backend is of type slurm, so remove the key',
      expect.stringMatching(/^backends\.s2\.batch_window \| expected a duration/),
      'backends.s2.array_size | only a slurm backend has "array_size"; this backend is of type ssh, so remove the key',
    ]);
  });
});
