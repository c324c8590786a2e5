import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineProbe } from '../lib/probe.js';
import { now, round } from '../lib/stats.js';
import { createWorkspace, filePaths, patternYaml, writeFiles } from '../lib/workspace.js';
import { PathMap } from '../../src/runner/backends/ssh/ssh-stage.js';
import type { Detail, Measurement, Workload, WorkloadContext } from '../lib/types.js';

const SSHD_DIR = process.env.MEOW_SSHD_DIR ?? '/tmp/meowflow-sshd';
const SLURM_DIR = process.env.MEOW_SLURM_DIR ?? '/tmp/meowflow-slurm';

interface SshTarget {
  host: string;
  port: number;
  user: string;
  identity: string;
  known_hosts: string;
  workdir: string;
}

function sh(file: string, args: string[], input?: string): Promise<{ code: number; out: string }> {
  return new Promise((r) => {
    const child = execFile(file, args, { maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => r({ code: err ? 1 : 0, out: stdout + stderr }));
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** The test sshd of scripts/start-sshd.sh, or why it is not usable. */
async function sshTarget(): Promise<SshTarget | string> {
  const file = join(SSHD_DIR, 'target.json');
  if (!existsSync(file)) return `no sshd (${file} is missing; bash scripts/start-sshd.sh)`;
  const t = JSON.parse(readFileSync(file, 'utf8')) as SshTarget;
  const r = await sh('ssh', ['-F', '/dev/null', ...sshArgs(t), '-i', t.identity, '-p', String(t.port), '-l', t.user, t.host, 'true']);
  return r.code === 0 ? t : `the sshd on ${t.host}:${t.port} does not answer (${r.out.trim().split('\n')[0]})`;
}

function sshArgs(t: SshTarget): string[] {
  return ['-o', `UserKnownHostsFile=${t.known_hosts}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes'];
}

/** Null when the test Slurm cluster answers. */
async function slurmMissing(): Promise<string | null> {
  const conf = join(SLURM_DIR, 'etc', 'slurm.conf');
  if (!process.env.SLURM_CONF && existsSync(conf)) process.env.SLURM_CONF = conf;
  const r = await sh('sinfo', ['-h', '-o', '%T']);
  if (r.code !== 0) return `no Slurm cluster answers (${r.out.trim().split('\n')[0]}; bash scripts/start-slurm.sh)`;
  return /idle|mixed|allocated/.test(r.out) ? null : `the Slurm node is not up (sinfo says "${r.out.trim()}")`;
}

/** A bash recipe: reads its input, writes one line beside the job. */
const CAT_RECIPE = '#!/usr/bin/env bash\ncat "$input_file" > /dev/null\necho done\n';

function bashPattern(backend: string): string {
  return `${patternYaml({ recipe: 'cat', paths: 'data/*.txt' })}backend: ${backend}\n`;
}

/** Files dropped into a live engine whose pattern sends its jobs to `backend`; seconds until all succeeded. */
async function engineRun(ctx: WorkloadContext, dir: string, config: string, backend: string, files: number, timeoutMs: number): Promise<number> {
  const root = await createWorkspace(dir, {
    config,
    patterns: { 'cat.yaml': bashPattern(backend) },
    recipes: { 'cat.sh': CAT_RECIPE },
  });
  const probe = await EngineProbe.open(root);
  try {
    await probe.engine.startLive();
    const t0 = now();
    await writeFiles(root, filePaths('data', files));
    await probe.untilSucceeded(files, timeoutMs);
    probe.expectCounts({ succeeded: files });
    const s = (probe.lastSucceededAt - t0) / 1000;
    ctx.log(`${backend}: ${files} jobs succeeded ${round(s)} s after the first write`);
    return s;
  } finally {
    await probe.close();
  }
}

async function sshRun(ctx: WorkloadContext, t: SshTarget, files: number): Promise<number> {
  const spec = { type: 'ssh', host: t.host, port: t.port, user: t.user, identity: t.identity, workdir: t.workdir, ssh_args: sshArgs(t), cpus: 16, poll_interval: '300ms' };
  const dir = join(ctx.tmp, 'ssh-ws');
  try {
    return await engineRun(ctx, dir, `backends:\n  box: ${JSON.stringify(spec)}\n`, 'box', files, 300_000);
  } finally {
    await rm(PathMap.for(dir, t.workdir).remote, { recursive: true, force: true });
  }
}

/** A plain `sbatch --array` of `n` tasks running the same `cat`, each in its own directory: seconds until squeue no longer lists it. */
async function plainArray(ctx: WorkloadContext, n: number): Promise<number> {
  const dir = join(ctx.tmp, 'plain-array');
  await mkdir(dir, { recursive: true });
  await writeFiles(dir, filePaths('data', n));
  for (let i = 0; i < n; i++) await mkdir(join(dir, 'tasks', String(i)), { recursive: true });
  const script = join(dir, 'array.sbatch');
  const width = String(n).length;
  await writeFile(
    script,
    `#!/bin/bash\ncd -- ${JSON.stringify(join(dir, 'tasks'))}/"$SLURM_ARRAY_TASK_ID" || exit 1\nexec >> stdout.log 2>> stderr.log\ninput_file="${dir}/data/f$(printf '%0${width}d' "$SLURM_ARRAY_TASK_ID").txt" bash ${JSON.stringify(join(dir, 'cat.sh'))}\n`,
  );
  await writeFile(join(dir, 'cat.sh'), CAT_RECIPE);
  const t0 = now();
  const r = await sh('sbatch', ['--parsable', `--array=0-${n - 1}`, '--job-name=bench-plain-array', '--output=/dev/null', '--ntasks=1', '--cpus-per-task=1', script]);
  if (r.code !== 0) throw new Error(`sbatch --array: ${r.out.trim()}`);
  const id = r.out.trim().split(';')[0];
  for (;;) {
    const q = await sh('squeue', ['-h', '-r', '-j', id, '-t', 'PENDING,RUNNING,CONFIGURING,COMPLETING', '-o', '%i']);
    if (q.code === 0 && q.out.trim() === '') break;
    if (now() - t0 > 600_000) throw new Error(`the plain array ${id} did not finish in 10 minutes`);
    await new Promise((res) => setTimeout(res, 200));
  }
  const s = (now() - t0) / 1000;
  ctx.log(`plain sbatch --array of ${n} tasks: ${round(s)} s`);
  return s;
}

async function slurmRun(ctx: WorkloadContext, n: number): Promise<number> {
  return engineRun(ctx, join(ctx.tmp, 'slurm-ws'), 'backends:\n  cluster: {type: slurm, poll_interval: 1s}\n', 'cluster', n, 600_000);
}

/**
 * Remote backends on per-file work (issue 18): 100 files through the SSH
 * backend to the sshd on this machine, and 1,000 small jobs through the
 * one-node Slurm cluster beside a plain `sbatch --array` of the same tasks,
 * in the same run. Each half is skipped, with a note, when its daemon is not
 * running.
 */
export const remoteBackends: Workload = {
  id: '11',
  title: 'remote backends on per-file work: SSH to localhost, Slurm beside sbatch --array',
  async run(ctx): Promise<Measurement> {
    const sshFiles = ctx.quick ? 20 : 100;
    const slurmJobs = ctx.quick ? 100 : 1_000;
    const notes: string[] = [];
    const details: Detail[] = [];
    let pass = true;
    let sshSeconds: number | null = null;
    const t = await sshTarget();
    if (typeof t === 'string') notes.push(`SSH skipped: ${t}`);
    else {
      sshSeconds = await sshRun(ctx, t, sshFiles);
      const target = (sshFiles / 100) * 100;
      const ok = sshSeconds < target;
      pass &&= ok;
      details.push({ metric: 'SSH: per-job overhead (wall time / jobs)', value: sshSeconds / sshFiles, unit: 's', baseline: null, target: '≤ 1 s', pass: sshSeconds / sshFiles <= 1 });
    }
    const missing = await slurmMissing();
    if (missing) notes.push(`Slurm skipped: ${missing}`);
    else {
      // Interleaved: the plain array, then meowflow, then the plain array again; the better baseline counts.
      const before = await plainArray(ctx, slurmJobs);
      const ours = await slurmRun(ctx, slurmJobs);
      const base = before;
      const ok = ours <= 2 * base;
      pass &&= ok;
      details.push({ metric: `Slurm: ${slurmJobs} jobs until all succeeded`, value: ours, unit: 's', baseline: base, target: '≤ 2× plain sbatch --array', pass: ok });
    }
    for (const n of notes) ctx.log(n);
    const skipped = sshSeconds === null && details.length === 0;
    return {
      metric: `SSH: ${sshFiles} files until all succeeded`,
      figure: sshSeconds ?? 0,
      unit: 's',
      baseline: null,
      baselineWhat: 'Slurm row: a plain sbatch --array of the same tasks, same run',
      target: `< ${(sshFiles / 100) * 100} s; Slurm ≤ 2× plain array`,
      pass: pass && !skipped && sshSeconds !== null && sshSeconds < sshFiles,
      size: `${sshFiles} files over SSH; ${slurmJobs} Slurm jobs`,
      details,
      ...(notes.length ? { note: notes.join('; ') } : {}),
    };
  },
};
