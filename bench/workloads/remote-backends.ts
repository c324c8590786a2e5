import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EngineProbe } from '../lib/probe.js';
import { now, round } from '../lib/stats.js';
import { createWorkspace, filePaths, patternYaml, writeFiles } from '../lib/workspace.js';
import { PathMap } from '../../src/runner/backends/ssh/ssh-stage.js';
import type { Measurement, Workload, WorkloadContext } from '../lib/types.js';

const SSHD_DIR = process.env.MEOW_SSHD_DIR ?? '/tmp/meowflow-sshd';
const SLURM_DIR = process.env.MEOW_SLURM_DIR ?? '/tmp/meowflow-slurm';
/** Job slots on the host: short jobs want many in flight (the host has 2 cores). */
const SSH_SLOTS = 64;
const SSH_POLL = '300ms';

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
  const spec = { type: 'ssh', host: t.host, port: t.port, user: t.user, identity: t.identity, workdir: t.workdir, ssh_args: sshArgs(t), cpus: SSH_SLOTS, poll_interval: SSH_POLL };
  const dir = join(ctx.tmp, 'ssh-ws');
  try {
    return await engineRun(ctx, dir, `backends:\n  box: ${JSON.stringify(spec)}\n`, 'box', files, 300_000);
  } finally {
    await rm(PathMap.for(dir, t.workdir).remote, { recursive: true, force: true });
  }
}

/** A plain `sbatch --array` of `n` tasks running the same `cat`, each in its own directory: seconds until squeue no longer lists it. */
async function plainArray(ctx: WorkloadContext, n: number, label: string): Promise<number> {
  const dir = join(ctx.tmp, `plain-array-${label}`);
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
  ctx.log(`plain sbatch --array of ${n} tasks (${label}): ${round(s)} s`);
  return s;
}

async function slurmRun(ctx: WorkloadContext, n: number): Promise<number> {
  return engineRun(ctx, join(ctx.tmp, 'slurm-ws'), 'backends:\n  cluster: {type: slurm, poll_interval: 1s}\n', 'cluster', n, 600_000);
}

/** 100 files through the SSH backend to the sshd on this machine (issue 18); skipped, with a note, without one. */
export const sshBackend: Workload = {
  id: '12',
  title: 'SSH backend on per-file work: files dropped at once, bash recipe, sshd on 127.0.0.1',
  async run(ctx): Promise<Measurement> {
    const files = ctx.quick ? 20 : 100;
    const target = files; // 100 files in under 100 s: under 1 s a job
    const t = await sshTarget();
    if (typeof t === 'string') {
      const note = `skipped: ${t}`;
      ctx.log(note);
      return { metric: 'time until all jobs succeeded', figure: 0, unit: 's', baseline: null, baselineWhat: '', target: `< ${target} s`, pass: false, size: `${files} files`, details: [], note };
    }
    const seconds = await sshRun(ctx, t, files);
    const perJob = seconds / files;
    return {
      metric: 'time until all jobs succeeded',
      figure: seconds,
      unit: 's',
      baseline: null,
      baselineWhat: 'none (the target is absolute: under 1 s a job)',
      target: `< ${target} s`,
      pass: seconds < target,
      size: `${files} files, cpus: ${SSH_SLOTS}, poll_interval ${SSH_POLL}`,
      details: [{ metric: 'per-job time (wall time / jobs)', value: perJob, unit: 's', baseline: null, target: '≤ 1 s', pass: perJob <= 1 }],
    };
  },
};

/**
 * 1,000 small jobs through the one-node Slurm cluster beside a plain
 * `sbatch --array` of the same tasks, run just before in the same run;
 * skipped, with a note, without a cluster.
 */
export const slurmBackend: Workload = {
  id: '13',
  title: 'Slurm backend on per-file work: files dropped at once, beside a plain sbatch --array',
  async run(ctx): Promise<Measurement> {
    const jobs = ctx.quick ? 100 : 1_000;
    const missing = await slurmMissing();
    if (missing) {
      const note = `skipped: ${missing}`;
      ctx.log(note);
      return { metric: 'time until all jobs succeeded', figure: 0, unit: 's', baseline: null, baselineWhat: `plain sbatch --array of the same ${jobs} tasks`, target: '≤ 2× baseline', pass: false, size: `${jobs} jobs`, details: [], note };
    }
    // One baseline, just before: two full-size arrays and the engine's run do not fit the workload's 10 minutes on a busy machine.
    const base = await plainArray(ctx, jobs, 'before');
    const ours = await slurmRun(ctx, jobs);
    return {
      metric: 'time until all jobs succeeded',
      figure: ours,
      unit: 's',
      baseline: base,
      baselineWhat: `plain sbatch --array of the same ${jobs} tasks, just before, same run`,
      target: '≤ 2× baseline',
      pass: ours <= 2 * base,
      size: `${jobs} jobs`,
      details: [{ metric: 'throughput', value: jobs / ours, unit: 'jobs/s', baseline: jobs / base, target: '', pass: null }],
    };
  },
};
