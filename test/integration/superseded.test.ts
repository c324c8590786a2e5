import { afterEach, describe, expect, it } from 'vitest';
import { meow, meowJson, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';

interface JobJson {
  id: string;
  pattern: string;
  status: string;
  input: string;
  inputs: string[];
  superseded: boolean;
}

interface StatusJson {
  jobs: Record<string, number>;
}

/** Fails for an input holding "bad", succeeds otherwise. */
const CHECK_SH = 'if grep -q bad "$input_file"; then echo "bad input: $input_file" >&2; exit 3; fi\necho ok\n';

describe('current and superseded jobs', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('counts a failure repaired since as history: status and jobs show current jobs, --all shows the old failure superseded', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/check.sh', CHECK_SH);
    await ws.write('patterns/check.yaml', 'recipe: check\ntrigger: {paths: "data/*.txt"}\n');
    await ws.write('data/a.txt', 'bad\n');
    await ws.write('data/b.txt', 'good\n');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(1);
    expect((await meowJson<StatusJson>(['status', '-w', ws.root])).jobs).toMatchObject({ failed: 1, succeeded: 1 });
    const before = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(before.map((j) => [j.input, j.status, j.superseded])).toEqual([
      ['data/a.txt', 'failed', false],
      ['data/b.txt', 'succeeded', false],
    ]);
    expect(before.every((j) => j.inputs.length === 1 && j.inputs[0] === j.input)).toBe(true);

    // The input is repaired: its new job succeeds, and the old failure is no longer what is broken now.
    await ws.write('data/a.txt', 'repaired\n');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect((await meowJson<StatusJson>(['status', '-w', ws.root])).jobs).toMatchObject({ failed: 0, succeeded: 2 });
    expect((await meowJson<StatusJson>(['status', '--all', '-w', ws.root])).jobs).toMatchObject({ failed: 1, succeeded: 2 });
    const current = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(current.map((j) => [j.input, j.status, j.superseded])).toEqual([
      ['data/b.txt', 'succeeded', false],
      ['data/a.txt', 'succeeded', false],
    ]);
    expect((await meowJson<JobJson[]>(['jobs', '--status', 'failed', '-w', ws.root]))).toEqual([]);
    const all = await meowJson<JobJson[]>(['jobs', '--all', '-w', ws.root]);
    expect(all.map((j) => [j.input, j.status, j.superseded])).toEqual([
      ['data/a.txt', 'failed', true],
      ['data/b.txt', 'succeeded', false],
      ['data/a.txt', 'succeeded', false],
    ]);
    const old = all[0];
    expect((await meowJson<JobJson>(['job', 'show', old.id, '-w', ws.root])).superseded).toBe(true);
  });

  it('supersedes the jobs of an edited pattern', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/check.sh', CHECK_SH);
    await ws.write('patterns/check.yaml', 'recipe: check\ntrigger: {paths: "data/*.txt"}\n');
    await ws.write('data/a.txt', 'bad\n');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(1);
    // The recipe is fixed: a new rule version runs the input again, and the failure of the old one is history.
    await ws.write('recipes/check.sh', 'echo accepted\n');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect((await meowJson<StatusJson>(['status', '-w', ws.root])).jobs).toMatchObject({ failed: 0, succeeded: 1 });
    const all = await meowJson<JobJson[]>(['jobs', '--all', '-w', ws.root]);
    expect(all.map((j) => [j.status, j.superseded])).toEqual([
      ['failed', true],
      ['succeeded', false],
    ]);
  });

  it('keeps the jobs of a batch pattern current: a batch is replaced only by a later job of its own', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/show.sh', 'echo "$input_files"\n');
    await ws.write('patterns/frames.yaml', 'recipe: show\ntrigger: {paths: "frames/*.h5"}\nbatch: {max_files: 3}\n');
    for (let i = 1; i <= 10; i++) await ws.write(`frames/fr${String(i).padStart(2, '0')}.h5`, String(i));
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    const jobs = await meowJson<JobJson[]>(['jobs', '-w', ws.root]);
    expect(jobs.map((j) => [j.status, j.superseded, j.inputs.length])).toEqual([
      ['succeeded', false, 3],
      ['succeeded', false, 3],
      ['succeeded', false, 3],
      ['succeeded', false, 1],
    ]);
    expect((await meowJson<StatusJson>(['status', '-w', ws.root])).jobs).toMatchObject({ succeeded: 4 });
  });
});
