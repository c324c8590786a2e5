/**
 * Remote refusals translated, like the local backend's "can never fit":
 * what the job asked for, what the backend offers, and which key to change.
 * Slurm answers a request no node can satisfy with "Requested node
 * configuration is not available"; an SSH host has only the GPUs meow.yaml
 * gives it, and a missing `gpus:` key is named as missing, not as "0".
 */
import { runCommand } from './remote-exec.js';
import type { Resources } from '../../core/types.js';

/** Slurm's answers to a request that no node of the partition can satisfy. */
const SLURM_RESOURCE_REFUSALS =
  /Requested node configuration is not available|More processors requested than permitted|Invalid generic resource \(gres\) specification|Memory specification can not be satisfied|Requested GRES option unsupported|Node count specification invalid/i;

/** The largest node of a partition, as sinfo reports it. */
export interface SlurmOffer {
  partition: string;
  cpus: number;
  /** Megabytes. */
  memoryMb: number;
  gpus: number;
  /** The cluster's default partition (sinfo marks it with `*`). */
  isDefault: boolean;
}

/**
 * Parses `sinfo --noheader -o '%P|%c|%m|%G'` lines into the largest node of
 * each partition (the default partition's name loses its `*`).
 */
export function parseSinfo(text: string): SlurmOffer[] {
  const byPartition = new Map<string, SlurmOffer>();
  for (const line of text.split('\n')) {
    const [p, c, m, g] = line.trim().split('|');
    if (!p || c === undefined) continue;
    const partition = p.replace(/\*$/, '');
    // GRES like "gpu:2", "gpu:a100:4(S:0-1)", "gpu:2,shard:8" or "(null)".
    let gpus = 0;
    for (const part of (g ?? '').split(',')) {
      const gm = /^gpu(?::[^:(]+)?:(\d+)/.exec(part.trim());
      if (gm) gpus += Number(gm[1]);
    }
    const offer = { partition, isDefault: p.endsWith('*'), cpus: Number.parseInt(c, 10) || 0, memoryMb: Number.parseInt(m ?? '', 10) || 0, gpus };
    const prev = byPartition.get(partition);
    byPartition.set(partition, prev ? { partition, isDefault: offer.isDefault, cpus: Math.max(prev.cpus, offer.cpus), memoryMb: Math.max(prev.memoryMb, offer.memoryMb), gpus: Math.max(prev.gpus, offer.gpus) } : offer);
  }
  return [...byPartition.values()];
}

/** What is being translated: the job's pattern, its request, and the backend it went to. */
export interface RefusalSite {
  /** The pattern's name. */
  pattern: string;
  resources: Resources;
  backend: string;
  /** The partition meow.yaml names, or null for the cluster's default. */
  partition: string | null;
}

/**
 * The message for a Slurm refusal, given what the partition offers (null
 * when sinfo could not say): the job's request, the largest node, the key to
 * change, and Slurm's own words at the end.
 */
export function slurmRefusalMessage(site: RefusalSite, slurmSaid: string, offer: SlurmOffer | null): string {
  const { resources: r, pattern } = site;
  const asked = `${r.cpus} cpu${r.cpus === 1 ? '' : 's'}, ${r.gpus} GPU${r.gpus === 1 ? '' : 's'}${r.memory === null ? '' : `, ${Math.ceil(r.memory / 1024 ** 2)} MB of memory`}`;
  const where = site.partition === null ? "the cluster's default partition" : `partition "${site.partition}"`;
  const head = `backend ${site.backend}: Slurm refused the job: pattern "${pattern}" asks for ${asked}`;
  const at = `pattern "${pattern}"'s resources`;
  const said = ` (Slurm said: ${slurmSaid.trim().split('\n').pop()?.replace(/^sbatch: error: /, '') ?? ''})`;
  const other = `, or choose a partition with more (backends.${site.backend}.partition in meow.yaml)`;
  if (offer === null) return `${head}, which no node of ${where} offers; lower ${at}${other}${said}`;
  const has = `${where} offers at most ${offer.gpus} GPU${offer.gpus === 1 ? '' : 's'}, ${offer.cpus} cpus and ${offer.memoryMb} MB per node`;
  if (r.gpus > offer.gpus) return `${head}, but ${has}; lower resources.gpus of pattern "${pattern}" to at most ${offer.gpus}${other}${said}`;
  if (r.cpus > offer.cpus) return `${head}, but ${has}; lower resources.cpus of pattern "${pattern}" to at most ${offer.cpus}${other}${said}`;
  if (r.memory !== null && r.memory > offer.memoryMb * 1024 ** 2) {
    return `${head}, but ${has}; lower resources.memory of pattern "${pattern}" to at most ${offer.memoryMb}MB${other}${said}`;
  }
  return `${head}, and ${has}, so the refusal comes from elsewhere (sbatch_args, account or limits); check backends.${site.backend} in meow.yaml${said}`;
}

/**
 * Translates sbatch's refusal when it is about resources (asking `sinfo`
 * what the partition offers); null for any other failure, which is then
 * reported as it is.
 */
export async function translateSlurmRefusal(site: RefusalSite, stderr: string): Promise<string | null> {
  if (!SLURM_RESOURCE_REFUSALS.test(stderr)) return null;
  const args = ['--noheader', '-o', '%P|%c|%m|%G', ...(site.partition === null ? [] : ['-p', site.partition])];
  const r = await runCommand('sinfo', args, { timeoutMs: 30_000 }).catch(() => null);
  const offers = r && r.code === 0 ? parseSinfo(r.stdout) : [];
  const offer = site.partition === null ? (offers.find((o) => o.isDefault) ?? offers[0] ?? null) : (offers.find((o) => o.partition === site.partition) ?? null);
  return slurmRefusalMessage(site, stderr, offer);
}

/**
 * Where an SSH backend's GPU count comes from, for "can never fit" messages:
 * the `gpus:` key as written, or its absence named as such.
 */
export function sshGpuSource(backend: string, written: unknown, count: number): string {
  if (written === undefined || written === null) return `backend ${backend} has no "gpus:" key in meow.yaml, so it offers none; add e.g. "gpus: 2" or "gpus: [0, 1]" under backends.${backend}`;
  return `gpus: ${count} for backend ${backend} in meow.yaml`;
}
