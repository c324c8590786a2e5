import { appendFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startLive, type LiveEngine } from '../helpers/engine.js';
import { meow, meowJson, startEngineProcess, tempWorkspace, waitFor, type EngineProcess, type TempWorkspace } from '../helpers/workspace.js';

interface JobJson {
  id: string;
  pattern: string;
  status: string;
  input: string;
  inputs: string[];
  variables: Record<string, unknown>;
  created_at: string;
}

/** A reconstruction stand-in: counts the NUL-separated entries of MEOW_INPUTS and checks each names an existing file. */
const RECON_SH = `set -eu
n=0
while IFS= read -r -d '' f; do [ -f "$f" ]; n=$((n+1)); done < "$MEOW_INPUTS"
mkdir -p "$MEOW_WORKSPACE/recon"
printf '%s\\n' "$n" > "$MEOW_WORKSPACE/recon/$(basename "$scan").txt"
`;
const RECON_YAML = `recipe: recon
trigger: {paths: "raw/*/proj_*.tif", settle: 50ms}
collect: {by: "{dir}", complete: {marker: "{dir}/scan.done"}}
variables: {scan: "{path}"}
outputs: ["recon/{name}.txt"]
`;

async function writeScan(ws: TempWorkspace, scan: string, from: number, to: number, marker: boolean): Promise<void> {
  await mkdir(ws.path(`raw/${scan}`), { recursive: true });
  for (let i = from; i < to; i++) await writeFile(ws.path(`raw/${scan}/proj_${String(i).padStart(4, '0')}.tif`), `projection ${i} of ${scan}`);
  if (marker) await writeFile(ws.path(`raw/${scan}/scan.done`), 'done');
}

const jobsOf = (root: string, pattern: string) => meowJson<JobJson[]>(['jobs', '--all', '-w', root, '--pattern', pattern]);

describe('fan-in: complete sets and batches', () => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  let proc: EngineProcess | null = null;
  afterEach(async () => {
    await live?.close();
    live = null;
    await proc?.stop('SIGKILL');
    proc = null;
    await ws?.cleanup();
  });

  it('3 scans × 180 projections dropped live give exactly 3 jobs of 180 inputs each, shown by job show and trace', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/recon.sh', RECON_SH);
    await ws.write('patterns/recon.yaml', RECON_YAML);
    await mkdir(ws.path('raw'));
    live = await startLive(ws.root);
    for (const scan of ['scan-1', 'scan-2', 'scan-3']) await writeScan(ws, scan, 0, 180, true);
    await waitFor(() => live?.finished.filter((j) => j.pattern === 'recon').length === 3, '3 reconstructions', 120_000, 50);
    await waitFor(() => live?.engine.busy === 0 && live.engine.fanIn.pending().length === 0, 'the engine idle', 60_000, 50);
    for (const scan of ['scan-1', 'scan-2', 'scan-3']) expect((await readFile(ws.path(`recon/${scan}.txt`), 'utf8')).trim()).toBe('180');
    const jobs = await jobsOf(ws.root, 'recon');
    expect(jobs.map((j) => [j.status, j.input, j.inputs.length])).toEqual([
      ['succeeded', 'raw/scan-1', 180],
      ['succeeded', 'raw/scan-2', 180],
      ['succeeded', 'raw/scan-3', 180],
    ]);
    expect(jobs[0].inputs[0]).toBe('raw/scan-1/proj_0000.tif');
    const projections = (scan: string) => Array.from({ length: 180 }, (_, i) => `raw/${scan}/proj_${String(i).padStart(4, '0')}.tif`);
    const shown = await meowJson<JobJson>(['job', 'show', jobs[1].id, '-w', ws.root]);
    expect([...shown.inputs].sort()).toEqual(projections('scan-2'));
    expect(shown.variables.input_files).toEqual(shown.inputs);
    const shownText = await meow(['job', 'show', jobs[1].id, '-w', ws.root]);
    expect(shownText.stdout.split('\n')[0]).toBe(
      `# set raw/scan-2: 180 files (${shown.inputs.slice(0, 3).join(', ')}, … 177 more, all under inputs)`,
    );
    const human = await meow(['jobs', '-w', ws.root]);
    expect(human.stdout).toContain('raw/scan-2 (180 files)');
    const trace = await meowJson<{ path: string; job: string | null; inputs: string[] }[]>(['trace', 'recon/scan-2.txt', '-w', ws.root]);
    expect(trace[0]).toMatchObject({ path: 'recon/scan-2.txt', job: jobs[1].id });
    expect([...trace[0].inputs].sort()).toEqual(projections('scan-2'));
    expect(trace.filter((s) => s.job === null).map((s) => s.path).sort()).toEqual(projections('scan-2'));
    const forward = await meowJson<{ derived: { job: string }[] }>(['trace', '--forward', 'raw/scan-3/proj_0042.tif', '-w', ws.root]);
    expect(forward.derived.map((d) => d.job)).toEqual([jobs[2].id]);
    // A projection of a finished scan is rewritten: that scan alone runs again, over all its members.
    await writeFile(ws.path('raw/scan-2/proj_0007.tif'), 'rewritten projection');
    await waitFor(() => live?.finished.filter((j) => j.pattern === 'recon').length === 4, 'the re-run of scan-2', 60_000, 50);
    const after = await jobsOf(ws.root, 'recon');
    expect(after).toHaveLength(4);
    expect(after[3]).toMatchObject({ input: 'raw/scan-2', status: 'succeeded' });
    expect(after[3].inputs).toHaveLength(180);
  }, 240_000);

  it('scans half written when the engine is killed give exactly one job each, after their last projection', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/recon.sh', RECON_SH);
    await ws.write('patterns/recon.yaml', RECON_YAML);
    await mkdir(ws.path('raw'));
    proc = await startEngineProcess(ws.root);
    await writeScan(ws, 'scan-1', 0, 90, false);
    await writeScan(ws, 'scan-2', 0, 60, false);
    type Status = { jobs: Record<string, number>; pending_sets: { key: string; members: number; progress: string }[] };
    const pending = await waitFor(async () => {
      const s = await meowJson<Status>(['status', '-w', ws.root]);
      const counts = s.pending_sets.map((p) => `${p.key}:${p.members}`).join(' ');
      return counts === 'raw/scan-1:90 raw/scan-2:60' ? s.pending_sets : null;
    }, '90 and 60 members pending', 60_000, 100);
    expect(pending[0].progress).toContain('waiting for raw/scan-1/scan.done');
    await proc.stop('SIGKILL');
    proc = null;
    const stopped = await meow(['status', '-w', ws.root]);
    expect(stopped.stdout).toContain('recon raw/scan-1: 90 files, waiting for raw/scan-1/scan.done');
    expect(stopped.stdout).toContain('recon raw/scan-2: 60 files, waiting for raw/scan-2/scan.done');
    // scan-1 is finished while no engine runs; scan-2 after the restart, live.
    await writeScan(ws, 'scan-1', 90, 180, true);
    const last1 = (await stat(ws.path('raw/scan-1/proj_0179.tif'))).mtimeMs;
    proc = await startEngineProcess(ws.root);
    await waitFor(async () => {
      const jobs = await jobsOf(ws.root, 'recon');
      return jobs.length === 1 && jobs[0].status === 'succeeded';
    }, 'the reconstruction of scan-1', 60_000, 100);
    await writeScan(ws, 'scan-2', 60, 180, true);
    const last2 = (await stat(ws.path('raw/scan-2/proj_0179.tif'))).mtimeMs;
    const idle = await waitFor(async () => {
      const s = await meowJson<Status>(['status', '-w', ws.root]);
      return s.pending_sets.length === 0 && s.jobs.succeeded === 2 && s.jobs.queued === 0 && s.jobs.running === 0 ? s : null;
    }, 'both reconstructions, nothing pending', 60_000, 100);
    expect(idle.jobs).toMatchObject({ failed: 0, cancelled: 0 });
    const jobs = await jobsOf(ws.root, 'recon');
    expect(jobs.map((j) => [j.input, j.status, j.inputs.length, new Set(j.inputs).size])).toEqual([
      ['raw/scan-1', 'succeeded', 180, 180],
      ['raw/scan-2', 'succeeded', 180, 180],
    ]);
    expect(Date.parse(jobs[0].created_at)).toBeGreaterThanOrEqual(Math.floor(last1));
    expect(Date.parse(jobs[1].created_at)).toBeGreaterThanOrEqual(Math.floor(last2));
    for (const scan of ['scan-1', 'scan-2']) expect((await readFile(ws.path(`recon/${scan}.txt`), 'utf8')).trim()).toBe('180');
  }, 240_000);

  it('a marker that lands while the last projections are still being written waits for them: one job with every projection', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/recon.sh', RECON_SH);
    // settle 1s: a projection written in chunks 100 ms apart is held by the settler until it is done.
    await ws.write('patterns/recon.yaml', RECON_YAML.replace('settle: 50ms', 'settle: 1s'));
    await mkdir(ws.path('raw'));
    live = await startLive(ws.root);
    await writeScan(ws, 'scan-1', 0, 3, false);
    const slow = async (i: number): Promise<number> => {
      const path = ws.path(`raw/scan-1/proj_${String(i).padStart(4, '0')}.tif`);
      for (let chunk = 0; chunk < 25; chunk++) {
        await appendFile(path, `chunk ${chunk} of projection ${i}\n`);
        if (chunk === 2 && i === 3) await writeFile(ws.path('raw/scan-1/scan.done'), 'done');
        await new Promise((r) => setTimeout(r, 100));
      }
      return Date.now();
    };
    const lastChunk = Math.max(...(await Promise.all([slow(3), slow(4)])));
    await waitFor(() => live?.finished.some((j) => j.pattern === 'recon'), 'the reconstruction', 60_000, 50);
    await waitFor(() => live?.engine.busy === 0 && live.engine.fanIn.pending().length === 0, 'the engine idle', 60_000, 50);
    const jobs = await jobsOf(ws.root, 'recon');
    expect(jobs.map((j) => [j.status, j.input, j.inputs.length])).toEqual([['succeeded', 'raw/scan-1', 5]]);
    expect(Date.parse(jobs[0].created_at)).toBeGreaterThanOrEqual(lastChunk - 1000);
    expect((await readFile(ws.path('recon/scan-1.txt'), 'utf8')).trim()).toBe('5');
  }, 120_000);

  it('10,000 frames into a batch pattern give jobs covering every frame exactly once, none larger than 500', async () => {
    ws = await tempWorkspace();
    // A burst past the kernel's inotify queue is caught by the reconcile scan, made frequent here. That scan may
    // see a frame half written and the watcher report it complete later: frames are written once, so only
    // `created` events join a batch.
    await ws.write('meow.yaml', 'cpus: 2\nscan_interval: 3s\n');
    await ws.write('recipes/stats.sh', `tr '\\0' '\\n' < "$MEOW_INPUTS" >> "$MEOW_WORKSPACE/ledger.txt"\n`);
    await ws.write('patterns/stats.yaml', 'recipe: stats\ntrigger: {paths: "frames/*.h5", events: [created]}\nbatch: {max_files: 500, max_wait: 2s}\n');
    await mkdir(ws.path('frames'));
    live = await startLive(ws.root);
    const N = 10_000;
    for (let i = 0; i < N; i += 100) {
      await Promise.all(Array.from({ length: 100 }, (_, k) => writeFile(ws.path(`frames/f${String(i + k).padStart(5, '0')}.h5`), 'x')));
    }
    const covered = () => (live?.engine.store.listJobs({ pattern: 'stats' }) ?? []).reduce((n, j) => n + (j.inputs?.length ?? 0), 0);
    await waitFor(() => covered() === N && live?.engine.store.countJobs().queued === 0 && live.engine.store.countJobs().running === 0, 'every frame in a finished batch', 240_000, 200);
    const jobs = live.engine.store.listJobs({ pattern: 'stats' });
    const all = jobs.flatMap((j) => j.inputs ?? []);
    expect(all).toHaveLength(N);
    expect(new Set(all).size).toBe(N);
    expect(Math.max(...jobs.map((j) => j.inputs?.length ?? 0))).toBeLessThanOrEqual(500);
    expect(jobs.every((j) => j.status === 'succeeded')).toBe(true);
    const ledger = (await readFile(ws.path('ledger.txt'), 'utf8')).split('\n').filter(Boolean);
    expect(ledger).toHaveLength(N);
    expect(new Set(ledger).size).toBe(N);
  }, 240_000);

  it('a set pattern added after the scans exist fires once per complete scan, as meow plan predicted', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/recon.sh', RECON_SH);
    for (const scan of ['scan-1', 'scan-2', 'scan-3']) await writeScan(ws, scan, 0, 20, true);
    await writeScan(ws, 'scan-4', 0, 12, false);
    await ws.write('recipes/summary.py', 'import json, os\nopen("summary.txt", "w").write(str(len(os.listdir("recon"))))\n');
    await ws.write('patterns/summary.yaml', 'recipe: summary\ntrigger: {paths: "go"}\ninputs: ["recon/*.txt", "raw/*/scan.done"]\noutputs: [summary.txt]\n');
    expect((await meow(['run', '--until-idle', '--no-tui', '-w', ws.root])).code).toBe(0);
    await ws.write('patterns/recon.yaml', RECON_YAML);
    const plan = await meowJson<{ changes: { pattern: string; triggers: number; files: number; sets: { fire: number; open: number } | null }[] }>(['plan', '-w', ws.root]);
    expect(plan.changes).toEqual([expect.objectContaining({ pattern: 'recon', triggers: 3, files: 72, sets: { fire: 3, open: 1 } })]);
    const human = await meow(['plan', '-w', ws.root]);
    expect(human.stdout).toContain('recon: 72 file(s) make 3 complete set(s) that run now; 1 group(s) wait to complete');
    expect((await meow(['run', '--until-idle', '--no-tui', '-w', ws.root])).code).toBe(0);
    const jobs = await jobsOf(ws.root, 'recon');
    expect(jobs.map((j) => [j.input, j.inputs.length, j.status])).toEqual([
      ['raw/scan-1', 20, 'succeeded'],
      ['raw/scan-2', 20, 'succeeded'],
      ['raw/scan-3', 20, 'succeeded'],
    ]);
    const status = await meowJson<{ pending_sets: { pattern: string; key: string; members: number }[] }>(['status', '-w', ws.root]);
    expect(status.pending_sets).toEqual([expect.objectContaining({ pattern: 'recon', key: 'raw/scan-4', members: 12 })]);
    // Declared inputs reach lineage: the summary's trace names every file it read.
    await ws.write('go', 'now');
    expect((await meow(['run', '--until-idle', '--no-tui', '-w', ws.root])).code).toBe(0);
    const trace = await meowJson<{ path: string; pattern: string | null; inputs: string[] }[]>(['trace', 'summary.txt', '-w', ws.root]);
    expect(trace[0].pattern).toBe('summary');
    expect(trace[0].inputs).toEqual(['go', 'raw/scan-1/scan.done', 'raw/scan-2/scan.done', 'raw/scan-3/scan.done', 'recon/scan-1.txt', 'recon/scan-2.txt', 'recon/scan-3.txt']);
    expect(trace.some((s) => s.pattern === 'recon')).toBe(true);
    // PROV and RO-Crate name every member a set job read.
    expect((await meow(['report', 'recon/scan-2.txt', '-w', ws.root])).code).toBe(0);
    const crate = JSON.parse(await readFile(ws.path('.meow/report/ro-crate-metadata.json'), 'utf8')) as { '@graph': { '@id': string; object?: { '@id': string }[] }[] };
    const action = crate['@graph'].find((e) => e['@id'] === `#${jobs[1].id}`);
    expect(action?.object?.map((o) => o['@id'])).toHaveLength(20);
    const prov = JSON.parse(await readFile(ws.path('.meow/report/prov.json'), 'utf8')) as { used: Record<string, { 'prov:activity': string }> };
    expect(Object.values(prov.used).filter((u) => u['prov:activity'] === `meow:job/${jobs[1].id}`)).toHaveLength(20);
    const graph = await meow(['graph', '-w', ws.root]);
    expect(graph.stdout).toContain('recon [set by {dir}] → recon/{name}.txt ⇢ read by summary');
    // The text graph ends with the open groups and how far each is from complete.
    expect(graph.stdout.trimEnd().split('\n').slice(-2)).toEqual(['pending sets (1):', '  recon raw/scan-4: 12 files, waiting for raw/scan-4/scan.done']);
    // The rest of scan-4 arrives: only scan-4 runs.
    await writeScan(ws, 'scan-4', 12, 20, true);
    expect((await meow(['run', '--until-idle', '--no-tui', '-w', ws.root])).code).toBe(0);
    const later = await jobsOf(ws.root, 'recon');
    expect(later.map((j) => j.input)).toEqual(['raw/scan-1', 'raw/scan-2', 'raw/scan-3', 'raw/scan-4']);
    expect(later[3].inputs).toHaveLength(20);
  }, 240_000);

  it('a set pattern added between two live runs fires once per complete scan already there, the number meow plan gave', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/recon.sh', RECON_SH);
    await mkdir(ws.path('raw'));
    // The scans arrive while a live engine with no set pattern watches them.
    live = await startLive(ws.root);
    for (const scan of ['scan-1', 'scan-2', 'scan-3']) await writeScan(ws, scan, 0, 30, true);
    await writeScan(ws, 'scan-4', 0, 10, false);
    await waitFor(() => live?.engine.store.getFile('raw/scan-4/proj_0009.tif') != null && live.engine.busy === 0, 'the files recorded', 60_000, 50);
    await live.close();
    live = null;
    await ws.write('patterns/recon.yaml', RECON_YAML);
    const plan = await meowJson<{ changes: { pattern: string; triggers: number; sets: { fire: number; open: number } | null }[] }>(['plan', '-w', ws.root]);
    expect(plan.changes).toEqual([expect.objectContaining({ pattern: 'recon', triggers: 3, sets: { fire: 3, open: 1 } })]);
    live = await startLive(ws.root);
    await waitFor(() => live?.finished.filter((j) => j.pattern === 'recon').length === 3, '3 reconstructions', 120_000, 50);
    await waitFor(() => live?.engine.busy === 0, 'the engine idle', 60_000, 50);
    const jobs = await jobsOf(ws.root, 'recon');
    expect(jobs.map((j) => [j.input, j.inputs.length, j.status])).toEqual([
      ['raw/scan-1', 30, 'succeeded'],
      ['raw/scan-2', 30, 'succeeded'],
      ['raw/scan-3', 30, 'succeeded'],
    ]);
    expect(live.engine.fanIn.pending().map((p) => `${p.key}:${p.members}`)).toEqual(['raw/scan-4:10']);
    // The rest of scan-4 arrives live: one more job, with all 30.
    await writeScan(ws, 'scan-4', 10, 30, true);
    await waitFor(() => live?.finished.filter((j) => j.pattern === 'recon').length === 4, 'the reconstruction of scan-4', 60_000, 50);
    const later = await jobsOf(ws.root, 'recon');
    expect(later.map((j) => [j.input, j.inputs.length])).toEqual([...jobs.map((j) => [j.input, 30]), ['raw/scan-4', 30]]);
  }, 240_000);

  it('removing a set pattern cancels its running set job and forgets its open groups', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/hold.sh', 'echo started > "$MEOW_WORKSPACE/started"\nsleep 60\n');
    await ws.write('patterns/hold.yaml', 'recipe: hold\ntrigger: {paths: "raw/*/*.tif"}\ncollect: {by: "{dir}", complete: {count: 2}}\n');
    live = await startLive(ws.root);
    await ws.write('raw/a/1.tif', '1');
    await ws.write('raw/a/2.tif', '2');
    await ws.write('raw/b/1.tif', '1');
    await waitFor(async () => (await readFile(ws.path('started'), 'utf8').catch(() => '')).includes('started'), 'the set job to start', 60_000, 50);
    await waitFor(() => live?.engine.fanIn.pending().some((p) => p.key === 'raw/b'), 'raw/b pending', 30_000, 50);
    await ws.write('patterns/hold.yaml', 'recipe: hold\ntrigger: {paths: "raw/*/*.tif"}\ncollect: {by: "{dir}", complete: {count: 3}}\n');
    await waitFor(() => live?.engine.store.countJobs().cancelled === 1, 'the running set job cancelled', 60_000, 50);
    // The changed pattern regroups the files at once: both groups now wait for a third file.
    await waitFor(() => live?.engine.fanIn.pending().map((p) => `${p.key}:${p.members}`).join(' ') === 'raw/a:2 raw/b:1', 'regrouped', 30_000, 50);
    const { rm } = await import('node:fs/promises');
    await rm(ws.path('patterns/hold.yaml'));
    await waitFor(() => live?.engine.fanIn.pending().length === 0, 'the groups forgotten', 30_000, 50);
    expect(live.engine.store.countJobs()).toMatchObject({ queued: 0, running: 0, cancelled: 1 });
  }, 240_000);
});
