/*
 * The reconcile scan reports only changes the watcher missed: a declared
 * output that a running job of the engine has written is the job's to report
 * (with the job as its cause, when it ends), not a lost event.
 */
import { describe, expect, it } from 'vitest';
import { useLiveWorkspace } from '../helpers/live-workspace.js';
import { waitFor } from '../helpers/workspace.js';
import { existsSync } from 'node:fs';

/** Writes its output, then runs on until the test says go (or gives up after a minute). */
const SLOW_WRITER_SH = 'echo result > "$out"\nfor _ in $(seq 600); do [ -e "$go" ] && exit 0; sleep 0.1; done\nexit 1\n';

describe('the reconcile scan and the engine’s own jobs', () => {
  const fx = useLiveWorkspace();

  it('does not report a running job’s declared output as a change the watcher missed; the job reports it when it ends', async () => {
    const ws = await fx.workspace();
    await ws.write('recipes/write.sh', SLOW_WRITER_SH);
    await ws.write('patterns/write.yaml', 'recipe: write\ntrigger: {paths: "data/*.txt"}\nvariables: {out: "{workspace}/out/{stem}.txt", go: "{workspace}/control/go"}\noutputs: ["out/{stem}.txt"]\n');
    await ws.write('recipes/next.sh', 'cat "$input_file"\n');
    await ws.write('patterns/next.yaml', 'recipe: next\ntrigger: {paths: "out/*.txt"}\n');
    const live = await fx.start(ws.root);
    await ws.write('data/a.txt', 'a');
    await waitFor(async () => existsSync(ws.path('out/a.txt')) && live.started.length === 1, 'the job to write its output while it runs', 60_000);

    await live.engine.reconcileLive();
    expect(live.logs.filter((l) => l.includes('had not reported'))).toEqual([]);

    await ws.write('control/go', '');
    await waitFor(async () => live.finished.some((j) => j.pattern === 'next'), 'the job downstream of the output', 60_000);
    const writer = live.finished.find((j) => j.pattern === 'write');
    expect(writer?.status).toBe('succeeded');
    const out = live.events.filter((e) => e.path === 'out/a.txt');
    expect(out.map((e) => [e.kind, e.cause, e.generation])).toEqual([['created', writer?.id, 1]]);
    expect(live.logs.filter((l) => l.includes('had not reported'))).toEqual([]);
  });
});
