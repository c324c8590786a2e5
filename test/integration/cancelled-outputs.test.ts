import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { startLive, type LiveEngine } from '../helpers/engine.js';
import { meowJson, tempWorkspace, waitFor, type TempWorkspace } from '../helpers/workspace.js';

interface Step {
  path: string;
  job: string | null;
  pattern: string | null;
  status: string | null;
}

/**
 * A job cancelled because its rule was removed: what it wrote before it was
 * stopped is recorded as its output (meow trace shows it) but triggers no
 * downstream pattern, unless its pattern says `cascade_cancelled: true`.
 */
describe('outputs of a job cancelled for a rule removal', () => {
  let ws: TempWorkspace;
  let live: LiveEngine | null = null;
  afterEach(async () => {
    await live?.close();
    live = null;
    await ws?.cleanup();
  });

  async function run(cascade: boolean): Promise<{ downstream: number; trace: Step[] }> {
    ws = await tempWorkspace();
    // The step writes its declared output, then never ends on its own.
    await ws.write('recipes/step.sh', 'mkdir -p "$MEOW_WORKSPACE/out"\necho partial > "$MEOW_WORKSPACE/out/$(basename "$input_file").txt"\nsleep 300\n');
    await ws.write('recipes/down.sh', 'echo "down $input_file" >> "$MEOW_WORKSPACE/ledger.txt"\n');
    await ws.write('patterns/step.yaml', `recipe: step\ntrigger: {paths: "data/*"}\noutputs: ["out/{name}.txt"]\n${cascade ? 'cascade_cancelled: true\n' : ''}`);
    await ws.write('patterns/down.yaml', 'recipe: down\ntrigger: {paths: "out/*.txt"}\n');
    await ws.write('data/a', 'a');
    live = await startLive(ws.root);
    const engine = live.engine;
    await waitFor(() => existsSync(ws.path('out/a.txt')) && engine.store.countJobs().running === 1, 'the step to write its output');
    await rm(ws.path('patterns/step.yaml'));
    await waitFor(() => engine.store.countJobs().cancelled === 1 && engine.store.countJobs().running === 0, 'the step to be cancelled');
    await engine.reconcileLive();
    if (cascade) await waitFor(() => engine.store.listJobs({ pattern: 'down' }).length === 1, 'the downstream job');
    const downstream = engine.store.listJobs({ pattern: 'down' }).length;
    const trace = await meowJson<Step[]>(['trace', 'out/a.txt', '-w', ws.root]);
    return { downstream, trace };
  }

  it('records them as written by the cancelled job and triggers nothing by default', async () => {
    const { downstream, trace } = await run(false);
    expect(downstream).toBe(0);
    expect(trace[0]).toMatchObject({ path: 'out/a.txt', pattern: 'step', status: 'cancelled' });
  });

  it('lets them cascade with cascade_cancelled: true', async () => {
    const { downstream, trace } = await run(true);
    expect(downstream).toBe(1);
    expect(trace[0]).toMatchObject({ path: 'out/a.txt', pattern: 'step', status: 'cancelled' });
  });
});
