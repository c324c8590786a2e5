import { readFile } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { Engine } from '../../src/engine.js';
import { jobKey } from '../../src/rules/job-key.js';
import { compileRules, triggersRetroactively } from '../../src/rules/matcher.js';
import { expandSweep } from '../../src/rules/sweep.js';
import { track } from '../helpers/resources.js';
import { meow, meowJson, readLines, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';
import type { JobRecord } from '../../src/core/types.js';
import type { Plan } from '../../src/rules/planner.js';
import { seededRandom } from '../../bench/lib/random.js';

const prng = seededRandom;

const PATTERNS = ['p1', 'p2', 'p3'];
/** Pattern variants: a variable, a glob and a sweep (one with a repeated value: equal points are one job). */
function patternText(name: string, variant: number): string {
  const recipe = name === 'p3' ? 'r2' : 'r1';
  const glob = variant % 2 === 0 ? 'data/*.txt' : 'data/a*.txt';
  const sweep = variant === 2 ? '\nsweep:\n  s: [1, 2]\n' : variant === 3 ? '\nsweep:\n  s: [x, y, x]\n' : '\n';
  return `recipe: ${recipe}\ntrigger:\n  paths: "${glob}"\nvariables:\n  k: ${variant}\n${sweep}`;
}
const recipeText = (name: string, v: number) => (name === 'r1' ? `export default async (vars) => ({ v: ${v}, k: vars.k });\n` : `#!/bin/bash\n# version ${v}\necho "$k"\n`);
const recipeFile = (name: string) => (name === 'r1' ? 'recipes/r1.mjs' : 'recipes/r2.sh');

interface Snapshot {
  jobs: Map<string, JobRecord>;
}

function snapshot(engine: Engine): Snapshot {
  return { jobs: new Map(engine.store.listJobs().map((j) => [j.id, j])) };
}

/** What a change really did: jobs created and jobs cancelled, per pattern. */
function applied(before: Snapshot, after: Snapshot) {
  const created = new Map<string, number>();
  const cancelled = new Map<string, string[]>();
  for (const [id, j] of after.jobs) {
    const b = before.jobs.get(id);
    if (!b) created.set(j.pattern, (created.get(j.pattern) ?? 0) + 1);
    else if (b.status !== 'cancelled' && j.status === 'cancelled') cancelled.set(j.pattern, [...(cancelled.get(j.pattern) ?? []), id].sort());
  }
  return { created, cancelled };
}

function expectPlanApplied(plan: Plan, before: Snapshot, after: Snapshot, step: string): void {
  const { created, cancelled } = applied(before, after);
  const planned = new Map(plan.changes.map((c) => [c.name, c]));
  for (const name of new Set([...created.keys(), ...cancelled.keys(), ...planned.keys()])) {
    const c = planned.get(name);
    expect({ step, name, created: created.get(name) ?? 0, cancelled: cancelled.get(name) ?? [] }).toEqual({
      step,
      name,
      created: c?.triggers ?? 0,
      cancelled: [...(c?.cancels ?? [])].sort(),
    });
  }
}

/** A plan without rule objects, to compare two plans. */
const summary = (p: Plan) => p.changes.map((c) => ({ name: c.name, change: c.change, triggers: c.triggers, files: c.files, cancels: [...c.cancels].sort() }));

let ws: TempWorkspace;
afterEach(async () => {
  await ws?.cleanup();
});

/** Opens the engine with nothing starting (the test is about which jobs exist, not running them). */
async function openHeld(root: string): Promise<{ engine: Engine; close: () => Promise<void> }> {
  const engine = await Engine.open(root);
  const untrack = track(engine, `engine in ${root}`, () => engine.close({ cancelRunning: true }));
  engine.scheduler.waitForSpace();
  return {
    engine,
    close: async () => {
      untrack();
      await engine.close({ cancelRunning: true });
    },
  };
}

describe('plan equals apply', () => {
  it.each([1, 2, 3, 4])('random edits, reverts, removals, restores and restarts (seed %i)', async (seed) => {
    const rand = prng(seed);
    const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)];
    ws = await tempWorkspace();
    for (const f of ['a1.txt', 'a2.txt', 'b1.txt', 'b2.txt', 'b3.txt']) await ws.write(`data/${f}`, f);
    // What each definition file holds now (null: removed) and held before its last change.
    const current = new Map<string, string | null>();
    const previous = new Map<string, string | null>();
    const set = async (file: string, content: string | null) => {
      previous.set(file, current.get(file) ?? null);
      current.set(file, content);
    };
    await ws.write('recipes/r1.mjs', recipeText('r1', 0));
    await ws.write('recipes/r2.sh', recipeText('r2', 0));
    current.set('recipes/r1.mjs', recipeText('r1', 0));
    current.set('recipes/r2.sh', recipeText('r2', 0));
    for (const p of PATTERNS) {
      await ws.write(`patterns/${p}.yaml`, patternText(p, 0));
      current.set(`patterns/${p}.yaml`, patternText(p, 0));
    }
    let open = await openHeld(ws.root);
    try {
      await editRandomly();
    } finally {
      await open.close();
    }
    // Edits through the engine, as the TUI and the definitions watcher do; `open` changes at each restart.
    async function editRandomly(): Promise<void> {
      let before = snapshot(open.engine);
      const first = await open.engine.start();
      expectPlanApplied(first, before, snapshot(open.engine), 'start');
      expect(first.changes.reduce((n, c) => n + c.triggers, 0)).toBe(15);

      for (let step = 0; step < 30; step++) {
        const r = rand();
        const pat = `patterns/${pick(PATTERNS)}.yaml`;
        let file: string;
        let content: string | null;
        let what: string;
        if (r < 0.2) {
          // Work: the queued jobs run to the end (succeeded jobs keep their keys; a revert must still run again).
          open.engine.scheduler.spaceReturned();
          await open.engine.scheduler.whenIdle();
          open.engine.scheduler.waitForSpace();
          continue;
        } else if (r < 0.3) {
          // A restart: the plan of `meow plan` (a read-only engine) is what the next start applies.
          await open.close();
          // Edited while no engine runs: the next start applies it.
          if (rand() < 0.7) {
            const f = `patterns/${pick(PATTERNS)}.yaml`;
            const text = patternText(f.slice(9, 11), Math.floor(rand() * 4));
            await ws.write(f, text);
            await set(f, text);
          }
          const reader = await Engine.open(ws.root, { readonly: true });
          const [defs, tree] = await Promise.all([reader.loadDefinitions(), reader.scan()]);
          const predicted = reader.plan(defs, tree.keys());
          await reader.close();
          open = await openHeld(ws.root);
          before = snapshot(open.engine);
          const plan = await open.engine.start();
          expect(summary(plan)).toEqual(summary(predicted));
          expectPlanApplied(plan, before, snapshot(open.engine), `step ${step}: restart`);
          continue;
        } else if (r < 0.5) {
          file = pat;
          content = patternText(pat.slice(9, 11), Math.floor(rand() * 4));
          what = 'edit';
        } else if (r < 0.65) {
          file = pat;
          content = previous.get(file) ?? current.get(file) ?? null;
          what = 'revert';
        } else if (r < 0.75) {
          file = pat;
          content = current.get(file) === null ? (previous.get(file) ?? patternText(pat.slice(9, 11), 1)) : null;
          what = content === null ? 'remove' : 'restore';
        } else if (r < 0.88) {
          file = recipeFile(pick(['r1', 'r2']));
          content = recipeText(file.includes('r1') ? 'r1' : 'r2', Math.floor(rand() * 3));
          what = 'recipe edit';
        } else {
          file = 'recipes/r2.sh';
          content = current.get(file) === null ? recipeText('r2', 0) : null;
          what = content === null ? 'recipe remove' : 'recipe restore';
        }
        const label = `step ${step}: ${what} ${file}`;
        // The TUI's plan (a dry run on the socket's path), then the change itself.
        const dry = await open.engine.changeDefinition(file, content, true);
        expect(dry.errors, label).toEqual([]);
        before = snapshot(open.engine);
        const done = await open.engine.changeDefinition(file, content, false);
        await set(file, content);
        expect(summary(done.plan), label).toEqual(summary(dry.plan));
        expectPlanApplied(done.plan, before, snapshot(open.engine), label);

        // Every linked pattern has one job per matching file and distinct sweep point under its current
        // registration, queued or succeeded: what the definitions on disk say is what runs.
        const tree = await open.engine.scan();
        const compiled = compileRules(open.engine.rules);
        for (const c of compiled.rules) {
          const rule = c.rule;
          const jobs = new Map(open.engine.store.listJobs({ pattern: rule.name }).map((j) => [j.key, j]));
          for (const [path, st] of tree) {
            if (!triggersRetroactively(c, path)) continue;
            for (const point of expandSweep(rule.pattern.sweep)) {
              const key = jobKey(rule.version, path, st.version, Object.keys(point).length ? point : null, rule.epoch);
              expect(jobs.get(key)?.status, `${label}: ${rule.name} ${path} ${JSON.stringify(point)}`).toMatch(/^(queued|succeeded)$/);
            }
          }
        }
      }
    }
  });

  it('A → B → A runs again with A\'s values, as `meow plan` predicted', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/r.sh', '#!/bin/bash\nmkdir -p out\necho "$k" > "out/$(basename "$input_file")"\n');
    const A = 'recipe: r\ntrigger:\n  paths: "data/*.txt"\nvariables:\n  k: A\n';
    const B = 'recipe: r\ntrigger:\n  paths: "data/*.txt"\nvariables:\n  k: B\n';
    for (const f of ['1', '2', '3']) await ws.write(`data/${f}.txt`, f);
    const out = async () => Promise.all(['1', '2', '3'].map((f) => readFile(ws.path(`out/${f}.txt`), 'utf8')));
    for (const [text, values] of [[A, 'A'], [B, 'B'], [A, 'A']] as const) {
      await ws.write('patterns/p.yaml', text);
      const plan = await meowJson<{ changes: { triggers: number; cancels: number }[] }>(['plan', '-w', ws.root]);
      expect(plan.changes.map((c) => c.triggers)).toEqual([3]);
      const run = await meow(['run', '--until-idle', '-w', ws.root]);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout).toContain('3 jobs triggered');
      expect((await out()).map((s) => s.trim())).toEqual([values, values, values]);
    }
    // A restart re-runs nothing.
    const again = await meowJson<{ changes: unknown[] }>(['plan', '-w', ws.root]);
    expect(again.changes).toEqual([]);
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.stdout).not.toContain('started');
    const jobs = await meowJson<{ status: string }[]>(['jobs', '--all', '-w', ws.root]);
    expect(jobs.filter((j) => j.status === 'succeeded')).toHaveLength(9);
  }, 180_000);

  it('a workspace from before registration epochs upgrades without running anything again', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/r.sh', '#!/bin/bash\necho "$(basename "$input_file")" >> runs.log\n');
    await ws.write('patterns/p.yaml', 'recipe: r\ntrigger:\n  paths: "data/*.txt"\n');
    for (const f of ['1', '2']) await ws.write(`data/${f}.txt`, f);
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    // Back to schema 4, the jobs keyed as they were then (no epoch).
    const db = new Database(ws.path('.meow/state.db'));
    const rule = db.prepare('SELECT version FROM rules').get() as { version: string };
    for (const j of db.prepare('SELECT id, input, input_version FROM jobs').all() as { id: string; input: string; input_version: string }[]) {
      db.prepare('UPDATE jobs SET key = ? WHERE id = ?').run(jobKey(rule.version, j.input, j.input_version, null), j.id);
    }
    db.exec('ALTER TABLE rules DROP COLUMN epoch; DROP TABLE rule_epochs;');
    // And without what later migrations (fan-in) added.
    db.exec('ALTER TABLE jobs DROP COLUMN inputs; DROP TABLE fanin_groups; DROP TABLE fanin_members; DROP TABLE job_inputs; PRAGMA user_version = 4;');
    db.close();
    expect((await meowJson<{ changes: unknown[] }>(['plan', '-w', ws.root])).changes).toEqual([]);
    const r = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readLines(ws.path('runs.log'))).toHaveLength(2);
    // A later edit and revert run again, as in a new workspace.
    await ws.write('patterns/p.yaml', 'recipe: r\ntrigger:\n  paths: "data/*.txt"\nvariables: {k: 1}\n');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    await ws.write('patterns/p.yaml', 'recipe: r\ntrigger:\n  paths: "data/*.txt"\n');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    expect(await readLines(ws.path('runs.log'))).toHaveLength(6);
  }, 180_000);
  it('a change commits its cancels with its registration: one that fails leaves the old rule and its jobs as they were', async () => {
    ws = await tempWorkspace();
    await ws.write('data/a1.txt', 'a1');
    await ws.write('data/a2.txt', 'a2');
    await ws.write('recipes/r1.mjs', recipeText('r1', 0));
    await ws.write('patterns/p1.yaml', patternText('p1', 0));
    let open = await openHeld(ws.root);
    await open.engine.start();
    const registered = open.engine.registeredRules().map((r) => r.version);
    const queued = open.engine.store.listJobs({ pattern: 'p1' }).map((j) => [j.id, j.status]);
    expect(queued.map(([, s]) => s)).toEqual(['queued', 'queued']);

    // The edit's transaction fails part-way (a file state no job can be recorded from).
    await ws.write('patterns/p1.yaml', patternText('p1', 1));
    const defs = await open.engine.loadDefinitions();
    const files = new Map(await open.engine.scan());
    const a1 = files.get('data/a1.txt');
    if (!a1) throw new Error('data/a1.txt was not scanned');
    files.set('data/a9.txt', { ...a1, version: {} as unknown as string });
    expect(() => open.engine.applyDefinitions(defs, files)).toThrow();
    await open.close();

    // Nothing of it committed: the jobs it would have cancelled are still queued under the old rule.
    // Reverted while no engine runs, the next start finds nothing changed, and the jobs run.
    await ws.write('patterns/p1.yaml', patternText('p1', 0));
    open = await openHeld(ws.root);
    try {
      expect(open.engine.registeredRules().map((r) => r.version)).toEqual(registered);
      expect(open.engine.store.listJobs({ pattern: 'p1' }).map((j) => [j.id, j.status])).toEqual(queued);
      const plan = await open.engine.start();
      expect(plan.changes).toEqual([]);
      open.engine.scheduler.spaceReturned();
      await open.engine.scheduler.whenIdle();
      expect(open.engine.store.listJobs({ pattern: 'p1' }).map((j) => j.status)).toEqual(['succeeded', 'succeeded']);
    } finally {
      await open.close();
    }
  });
  it('keeps a broken file\'s running version when another file takes its name: that file is refused, naming the holder', async () => {
    ws = await tempWorkspace();
    await ws.write('data/a1.txt', 'a1');
    await ws.write('recipes/r1.mjs', recipeText('r1', 0));
    await ws.write('patterns/p1.yaml', patternText('p1', 0));
    const open = await openHeld(ws.root);
    try {
      await open.engine.start();
      const before = open.engine.registeredRules().map((r) => [r.name, r.version]);
      await ws.write('patterns/p1.yaml', 'recipe: r1\ntrigger: [oops\n');
      await ws.write('patterns/q.yaml', `name: p1\n${patternText('p1', 1)}`);
      const defs = await open.engine.loadDefinitions();
      expect(defs.patterns.map((p) => [p.name, p.file])).toEqual([['p1', 'patterns/p1.yaml']]);
      expect(defs.errors.find((e) => e.file === 'patterns/q.yaml')?.message).toContain('the pattern name "p1" is held by patterns/p1.yaml, which is broken now');
      const plan = await open.engine.reloadDefinitions();
      expect(plan.changes).toEqual([]);
      expect(open.engine.registeredRules().map((r) => [r.name, r.version])).toEqual(before);
    } finally {
      await open.close();
    }
  });
});
