/*
 * Local resources (issue 8, item 2): cpus, memory and GPU slots; GPUs handed
 * out exclusively through CUDA_VISIBLE_DEVICES; `gpus: auto` detection; a job
 * asking more than the backend has fails at once, saying so.
 */
import { chmod, writeFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { type LiveEngine } from '../helpers/engine.js';
import { waitFor, type TempWorkspace, readLines } from '../helpers/workspace.js';
import { parseVisibleDevices, resolveGpus } from '../../src/runner/backends/local/gpu-detect.js';
import { useLiveWorkspace } from '../helpers/live-workspace.js';

const lines = readLines;

/** A recipe that notes its start (with its CUDA_VISIBLE_DEVICES), waits for `go`, and notes its end. */
const HOLD_SH = [
  'name=$(basename "$input_file")',
  'echo "start $name ${CUDA_VISIBLE_DEVICES-unset}" >> "$MEOW_WORKSPACE/ledger"',
  'while [ ! -e "$MEOW_WORKSPACE/go" ]; do sleep 0.02; done',
  'echo "end $name ${CUDA_VISIBLE_DEVICES-unset}" >> "$MEOW_WORKSPACE/ledger"',
  '',
].join('\n');

describe('local resources', () => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  const fx = useLiveWorkspace();

  it('gives each GPU job its own device: with gpus [0, 1], two run at once and the others wait', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 8\nbackends:\n  local: {type: local, gpus: [0, 1]}\n');
    await ws.write('recipes/hold.sh', HOLD_SH);
    await ws.write('patterns/gpu.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\nresources: {gpus: 1}\n');
    for (let i = 0; i < 4; i++) await ws.write(`data/g${i}`, String(i));
    live = await fx.start(ws.root);
    const first = await waitFor(async () => {
      const l = await lines(ws.path('ledger'));
      return l.length === 2 ? l : null;
    }, 'two GPU jobs to start');
    expect(live.engine.store.countJobs()).toMatchObject({ running: 2, queued: 2 });
    expect(first.map((l) => l.split(' ')[2]).sort()).toEqual(['0', '1']);
    await writeFile(ws.path('go'), '');
    await waitFor(() => live?.engine.store.countJobs().succeeded === 4, 'all four jobs');
    // Per device, starts and ends alternate: never two jobs on one GPU.
    const ledger = await lines(ws.path('ledger'));
    expect(ledger).toHaveLength(8);
    for (const dev of ['0', '1']) {
      const events = ledger.filter((l) => l.endsWith(` ${dev}`)).map((l) => l.split(' ')[0]);
      expect(events.length).toBeGreaterThan(0);
      events.forEach((e, i) => expect(e).toBe(i % 2 === 0 ? 'start' : 'end'));
    }
    let concurrent = 0;
    let most = 0;
    for (const l of ledger) most = Math.max(most, (concurrent += l.startsWith('start') ? 1 : -1));
    expect(most).toBe(2);
  });

  it('hides the GPUs from a job that asks for none, and lets it pass a GPU job waiting for a device', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 4\nbackends:\n  local: {type: local, gpus: [0]}\n');
    await ws.write('recipes/hold.sh', HOLD_SH);
    await ws.write('patterns/gpu.yaml', 'recipe: hold\ntrigger: {paths: "gpu/*"}\nresources: {gpus: 1}\n');
    await ws.write('patterns/cpu.yaml', 'recipe: hold\ntrigger: {paths: "cpu/*"}\n');
    await ws.write('gpu/a', '1');
    await ws.write('gpu/b', '2');
    live = await fx.start(ws.root);
    await waitFor(async () => (await lines(ws.path('ledger'))).length === 1, 'the first GPU job');
    // The second GPU job waits for the device; a CPU job queued after it does not wait behind it.
    await ws.write('cpu/c', '3');
    await waitFor(async () => (await lines(ws.path('ledger'))).length === 2, 'the CPU job to start');
    expect((await lines(ws.path('ledger'))).sort()).toEqual(['start a 0', 'start c ']);
    expect(live.engine.store.countJobs()).toMatchObject({ running: 2, queued: 1 });
    await writeFile(ws.path('go'), '');
    await waitFor(() => live?.engine.store.countJobs().succeeded === 3, 'all three jobs');
  });

  it('fails at once, saying why, a job asking for more GPUs, cpus or memory than the backend has', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 2\nbackends:\n  local: {type: local, gpus: [0, 1], memory: 4GiB}\n');
    await ws.write('recipes/hold.sh', HOLD_SH);
    await ws.write('patterns/three.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\nresources: {gpus: 3}\n');
    await ws.write('patterns/wide.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\nresources: {cpus: 3}\n');
    await ws.write('patterns/big.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\nresources: {memory: 6GiB}\n');
    await ws.write('patterns/fits.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\nresources: {gpus: 2, cpus: 2, memory: 4GiB}\n');
    await ws.write('data/x', 'x');
    live = await fx.start(ws.root);
    const failed = await waitFor(() => (live && live.finished.length === 3 ? live.finished : null), 'three refusals', 30_000);
    const by = new Map(failed.map((j) => [j.pattern, j]));
    expect(by.get('three')).toMatchObject({ status: 'failed', attempt: 0 });
    expect(by.get('three')?.error).toBe(
      'pattern "three" asks for 3 GPUs (resources.gpus), but backend "local" has 2 (gpus: [0, 1] in meow.yaml); lower resources.gpus in patterns/three.yaml to at most 2, or send the pattern to a backend that has more',
    );
    expect(by.get('wide')?.error).toBe(
      'pattern "wide" asks for 3 cpus (resources.cpus), but backend "local" has 2 (cpus: 2); lower resources.cpus in patterns/wide.yaml to at most 2, or send the pattern to a backend that has more',
    );
    expect(by.get('big')?.error).toBe(
      'pattern "big" asks for 6 GiB of memory (resources.memory), but backend "local" has 4 GiB (memory: 4GiB in meow.yaml); lower resources.memory in patterns/big.yaml to at most 4 GiB, or send the pattern to a backend that has more',
    );
    // The job that fits the whole backend runs.
    await waitFor(async () => (await lines(ws.path('ledger'))).length === 1, 'the job that fits');
    expect(await lines(ws.path('ledger'))).toEqual(['start x 0,1']);
    await writeFile(ws.path('go'), '');
    await waitFor(() => live?.engine.store.countJobs().succeeded === 1, 'the job that fits to end');
  });

  it('runs memory-hungry jobs only while their memory adds up to what the backend has', async () => {
    ws = await fx.workspace();
    await ws.write('meow.yaml', 'cpus: 4\nbackends:\n  local: {type: local, memory: 5GiB, gpus: []}\n');
    await ws.write('recipes/hold.sh', HOLD_SH);
    await ws.write('patterns/mem.yaml', 'recipe: hold\ntrigger: {paths: "data/*"}\nresources: {memory: 2GiB}\n');
    for (let i = 0; i < 3; i++) await ws.write(`data/m${i}`, String(i));
    live = await fx.start(ws.root);
    await waitFor(async () => (await lines(ws.path('ledger'))).length === 2, 'two jobs');
    expect(live.engine.store.countJobs()).toMatchObject({ running: 2, queued: 1 });
    // Without GPUs on the backend, CUDA_VISIBLE_DEVICES is left as it was.
    expect((await lines(ws.path('ledger')))[0]).toMatch(/ unset$/);
    await writeFile(ws.path('go'), '');
    await waitFor(() => live?.engine.store.countJobs().succeeded === 3, 'all three');
  });
});

describe('gpus: auto', () => {
  let ws: TempWorkspace;
  const fx = useLiveWorkspace();

  it('lists the GPUs nvidia-smi reports', async () => {
    ws = await fx.workspace();
    const smi = await ws.write('bin/nvidia-smi', '#!/bin/sh\n[ "$1" = "--query-gpu=index" ] || exit 9\nprintf "0\\n1\\n2\\n"\n');
    await chmod(smi, 0o755);
    expect(await resolveGpus('auto', { env: {}, nvidiaSmi: smi })).toEqual({ ids: ['0', '1', '2'], source: 'gpus: auto (nvidia-smi found 3 GPUs)' });
    expect(await resolveGpus(undefined, { env: {}, nvidiaSmi: smi })).toMatchObject({ ids: ['0', '1', '2'] });
  });

  it('means no GPUs, saying why, without nvidia-smi or when it fails', async () => {
    ws = await fx.workspace();
    expect(await resolveGpus('auto', { env: {}, nvidiaSmi: ws.path('bin/none') })).toEqual({ ids: [], source: `gpus: auto: ${ws.path('bin/none')} not found, so no NVIDIA GPUs are used` });
    const smi = await ws.write('bin/nvidia-smi', '#!/bin/sh\necho "NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver." >&2\nexit 9\n');
    await chmod(smi, 0o755);
    expect((await resolveGpus('auto', { env: {}, nvidiaSmi: smi })).source).toBe(
      `gpus: auto: ${smi} failed (NVIDIA-SMI has failed because it could not communicate with the NVIDIA driver.), so no GPUs are used`,
    );
  });

  it("keeps to the engine's own CUDA_VISIBLE_DEVICES, as CUDA reads it", async () => {
    expect(await resolveGpus('auto', { env: { CUDA_VISIBLE_DEVICES: '2,3' }, nvidiaSmi: '/nonexistent' })).toEqual({
      ids: ['2', '3'],
      source: `gpus: auto, from the engine's CUDA_VISIBLE_DEVICES="2,3" (2 GPUs)`,
    });
    expect(parseVisibleDevices('')).toEqual([]);
    expect(parseVisibleDevices('1, 0')).toEqual(['1', '0']);
    expect(parseVisibleDevices('0,-1,1')).toEqual(['0']);
    expect(parseVisibleDevices('GPU-8e3f2a1b-aaaa-bbbb-cccc-0123456789ab,MIG-GPU-1/2/0')).toEqual(['GPU-8e3f2a1b-aaaa-bbbb-cccc-0123456789ab', 'MIG-GPU-1/2/0']);
    expect(await resolveGpus(2)).toEqual({ ids: ['0', '1'], source: 'gpus: 2 in meow.yaml' });
    expect(await resolveGpus([1, 3])).toEqual({ ids: ['1', '3'], source: 'gpus: [1, 3] in meow.yaml' });
  });
});
