import { execFile } from 'node:child_process';
import type { VarValue } from '../../../core/types.js';

/** The GPUs a local backend hands out, and how they were found. */
export interface GpuSet {
  /** Values for `CUDA_VISIBLE_DEVICES`, one per GPU. */
  ids: string[];
  /** For messages: `gpus: [0, 1] in meow.yaml`, `gpus: auto (nvidia-smi found 2 GPUs)`. */
  source: string;
}

/** How detection runs (tests point `nvidiaSmi` at a stand-in program). */
export interface GpuDetectOptions {
  /** The engine's environment; `CUDA_VISIBLE_DEVICES` there limits `auto`. @default process.env */
  env?: NodeJS.ProcessEnv;
  /** @default 'nvidia-smi' */
  nvidiaSmi?: string;
  /** @default 10000 */
  timeoutMs?: number;
}

const plural = (n: number) => `${n} GPU${n === 1 ? '' : 's'}`;

/**
 * The GPUs of a local backend from its `gpus` option (validated by the config
 * parser): a list of ids as given, a number N as ids 0…N-1, and `auto` (the
 * default) as detected: the engine's own `CUDA_VISIBLE_DEVICES` when it is
 * set (inside a Slurm allocation, say), else the GPUs `nvidia-smi` lists, else
 * none. Never rejects: a detection failure means no GPUs, and `source` says why.
 */
export async function resolveGpus(option: VarValue | undefined, options: GpuDetectOptions = {}): Promise<GpuSet> {
  if (Array.isArray(option)) return { ids: option.map(String), source: `gpus: [${option.map(String).join(', ')}] in meow.yaml` };
  if (typeof option === 'number') return { ids: Array.from({ length: option }, (_, i) => String(i)), source: `gpus: ${option} in meow.yaml` };
  const env = options.env ?? process.env;
  const visible = env.CUDA_VISIBLE_DEVICES;
  if (visible !== undefined) {
    const ids = parseVisibleDevices(visible);
    return { ids, source: `gpus: auto, from the engine's CUDA_VISIBLE_DEVICES="${visible}" (${plural(ids.length)})` };
  }
  const smi = options.nvidiaSmi ?? 'nvidia-smi';
  const listed = await new Promise<{ out: string } | { error: string }>((resolve) => {
    execFile(smi, ['--query-gpu=index', '--format=csv,noheader,nounits'], { timeout: options.timeoutMs ?? 10_000, env }, (err, stdout, stderr) => {
      if (!err) return resolve({ out: stdout });
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return resolve({ error: `${smi} not found, so no NVIDIA GPUs are used` });
      const why = (stderr || stdout || err.message).trim().split('\n')[0];
      resolve({ error: `${smi} failed (${why}), so no GPUs are used` });
    });
  });
  if ('error' in listed) return { ids: [], source: `gpus: auto: ${listed.error}` };
  const ids = listed.out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^\d+$/.test(l));
  return { ids, source: `gpus: auto (nvidia-smi found ${plural(ids.length)})` };
}

/**
 * `CUDA_VISIBLE_DEVICES` as CUDA reads it: comma-separated indices or
 * `GPU-…`/`MIG-…` UUIDs, up to the first invalid entry (`-1`, empty, junk),
 * which hides it and every later one.
 */
export function parseVisibleDevices(value: string): string[] {
  const ids: string[] = [];
  for (const raw of value.split(',')) {
    const id = raw.trim();
    if (!/^(\d+|(GPU|MIG)-[0-9A-Za-z/-]+)$/.test(id)) break;
    ids.push(id);
  }
  return ids;
}
