/**
 * The workspace's state is checked, not assumed (issue 14, item 3): a lost
 * state.db beside earlier jobs is refused (or rebuilt on request), and a
 * database or socket removed or replaced under a running engine stops it.
 */
import { copyFile, rename, rm, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { meow, meowJson, readLines, startEngineProcess, tempWorkspace, waitFor, type TempWorkspace } from '../helpers/workspace.js';

let ws: TempWorkspace;
afterEach(async () => {
  await ws?.cleanup();
});

/** A workspace whose three files were processed once; each run of the recipe appends to runs.log. */
async function processed(): Promise<TempWorkspace> {
  const w = await tempWorkspace();
  await w.write('recipes/r.sh', '#!/bin/bash\necho "$(basename "$input_file")" >> runs.log\n');
  await w.write('patterns/p.yaml', 'recipe: r\ntrigger:\n  paths: "data/*.txt"\n');
  for (const f of ['a', 'b', 'c']) await w.write(`data/${f}.txt`, f);
  const r = await meow(['run', '--until-idle', '-w', w.root]);
  expect(r.code, r.stderr).toBe(0);
  expect(await readLines(w.path('runs.log'))).toHaveLength(3);
  return w;
}

async function dropState(root: string, how: 'missing' | 'empty'): Promise<void> {
  for (const f of ['state.db', 'state.db-wal', 'state.db-shm']) await rm(`${root}/.meow/${f}`, { force: true });
  if (how === 'empty') await writeFile(`${root}/.meow/state.db`, '');
}

describe('a lost state.db', () => {
  it.each(['missing', 'empty'] as const)('%s beside earlier jobs is refused, saying how to recover', async (how) => {
    ws = await processed();
    await dropState(ws.root, how);
    const r = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`.meow/state.db ${how === 'missing' ? 'is missing' : 'is empty (0 bytes)'}, but .meow/jobs/ holds 3 job directories`);
    expect(r.stderr).toContain('meow run --rebuild-state');
    expect(await readLines(ws.path('runs.log'))).toHaveLength(3);
    // `meow status` still answers, and says the state is lost rather than showing a fresh workspace.
    const s = await meow(['status', '--json', '-w', ws.root]);
    expect(s.code).toBe(0);
    expect(s.stderr).toContain(`meow: warning: .meow/state.db ${how === 'missing' ? 'is missing' : 'is empty (0 bytes)'}`);
  }, 120_000);

  it('`meow run --rebuild-state` marks the inputs already processed as done and runs only the rest', async () => {
    ws = await processed();
    await dropState(ws.root, 'empty');
    await ws.write('data/d.txt', 'd');
    const r = await meow(['run', '--until-idle', '--rebuild-state', '-w', ws.root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('rebuilt .meow/state.db from 3 job record(s): 3 input(s) count as done');
    const runs = await readLines(ws.path('runs.log'));
    // The first three ran before the state was lost (in any order); only d.txt ran since.
    expect([...runs.slice(0, 3).sort(), ...runs.slice(3)]).toEqual(['a.txt', 'b.txt', 'c.txt', 'd.txt']);
    const jobs = await meowJson<{ input: string; status: string }[]>(['jobs', '-w', ws.root]);
    expect(jobs.map((j) => `${j.input} ${j.status}`).sort()).toEqual(['data/a.txt succeeded', 'data/b.txt succeeded', 'data/c.txt succeeded', 'data/d.txt succeeded']);
    // The rebuilt state is an ordinary one: a restart runs nothing, and a second rebuild is refused.
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect(await readLines(ws.path('runs.log'))).toHaveLength(4);
    const again = await meow(['run', '--until-idle', '--rebuild-state', '-w', ws.root]);
    expect(again.code).toBe(2);
    expect(again.stderr).toContain('--rebuild-state rebuilds a missing or empty database');
  }, 180_000);

  it('an empty state.db in a new workspace (no jobs yet) is a new workspace', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/r.sh', '#!/bin/bash\ntrue\n');
    await ws.write('patterns/p.yaml', 'recipe: r\ntrigger:\n  paths: "data/*.txt"\n');
    await ws.write('data/a.txt', 'a');
    await ws.write('.meow/state.db', '');
    const r = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('idle: 1 succeeded');
  });
});

describe('state removed or replaced under a running engine', () => {
  it.each([
    ['state.db removed', async (root: string) => rm(`${root}/.meow/state.db`)],
    ['state.db replaced', async (root: string) => {
      await copyFile(`${root}/.meow/state.db`, `${root}/.meow/copy.db`);
      await rename(`${root}/.meow/copy.db`, `${root}/.meow/state.db`);
    }],
    ['socket removed', async (root: string) => rm(`${root}/.meow/engine.sock`)],
    ['.meow removed', async (root: string) => rm(`${root}/.meow`, { recursive: true, force: true })],
  ] as const)('%s: the engine stops with a message', async (what, act) => {
    ws = await tempWorkspace();
    await ws.write('recipes/r.sh', '#!/bin/bash\ntrue\n');
    await ws.write('patterns/p.yaml', 'recipe: r\ntrigger:\n  paths: "data/*.txt"\n');
    const engine = await startEngineProcess(ws.root);
    await act(ws.root);
    const code = await waitFor(() => engine.child.exitCode ?? null, 'the engine to stop', 30_000).finally(() => engine.stop());
    expect(code).toBe(1);
    const name = what.startsWith('socket') ? '.meow/engine.sock' : '.meow/state.db';
    expect(engine.output()).toMatch(new RegExp(`${name.replace('.', '\\.')} was (removed|replaced) under the running engine`));
  });
});
