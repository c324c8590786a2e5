import { describe, expect, it } from 'vitest';
import { jobKey } from '../../src/rules/job-key.js';
import { linkRules, ruleVersion } from '../../src/rules/linker.js';
import { compileRules, matchEvent } from '../../src/rules/matcher.js';
import { planChange } from '../../src/rules/planner.js';
import { watchScope } from '../../src/rules/scope.js';
import { diffKnown, diffTree, type FileState } from '../../src/rules/tree-diff.js';
import type { EventKind, FileEvent, ParsedPattern, ParsedRecipe } from '../../src/core/types.js';

function pattern(name: string, paths: string[], o: Partial<ParsedPattern> & { events?: EventKind[]; ignore?: string[] } = {}): ParsedPattern {
  return {
    name,
    file: `patterns/${name}.yaml`,
    hash: o.hash ?? `h-${name}`,
    recipe: o.recipe ?? 'r',
    trigger: { paths, events: o.events ?? ['created', 'modified'], ignore: o.ignore ?? [], settleMs: 0 },
    input: 'input_file',
    variables: {},
    sweep: o.sweep ?? {},
    outputs: [],
    backend: 'local',
    resources: { cpus: 1, gpus: 0, memory: null },
    timeoutMs: null,
    retries: 0,
    loop: false,
  };
}
const recipe = (name: string, hash = `rh-${name}`): ParsedRecipe => ({ name, file: `recipes/${name}.sh`, hash, kind: 'bash', source: '', command: null });
const ev = (kind: EventKind, path: string, oldPath: string | null = null): FileEvent => ({ kind, path, oldPath, version: '1:1', generation: 0, cause: null });

describe('linkRules', () => {
  it('links patterns to recipes and leaves the rest waiting', () => {
    const { rules, waiting } = linkRules([pattern('a', ['*']), pattern('b', ['*'], { recipe: 'missing' })], [recipe('r')]);
    expect(rules.map((r) => r.name)).toEqual(['a']);
    expect(waiting.map((p) => p.name)).toEqual(['b']);
  });

  it('gives a new rule version when the pattern or the recipe changes', () => {
    const v = ruleVersion(pattern('a', ['*']), recipe('r'));
    expect(ruleVersion(pattern('a', ['*'], { hash: 'other' }), recipe('r'))).not.toBe(v);
    expect(ruleVersion(pattern('a', ['*']), recipe('r', 'edited'))).not.toBe(v);
    expect(ruleVersion(pattern('a', ['*']), recipe('r'))).toBe(v);
  });
});

describe('matchEvent', () => {
  const { rules } = linkRules(
    [
      pattern('tif', ['data/**/*.tif'], { ignore: ['**/*.part.tif'] }),
      pattern('gone', ['data/**'], { events: ['deleted'] }),
      pattern('moves', ['data/b/*'], { events: ['moved'] }),
      pattern('arrivals', ['data/accepted/*'], { events: ['created'] }),
    ],
    [recipe('r')],
  );
  const set = compileRules(rules);
  const names = (e: FileEvent) => matchEvent(e, set).map((r) => r.name);

  it('matches globs and event kinds, minus ignores', () => {
    expect(names(ev('created', 'data/x/y.tif'))).toEqual(['tif']);
    expect(names(ev('modified', 'data/y.tif'))).toEqual(['tif']);
    expect(names(ev('created', 'data/y.part.tif'))).toEqual([]);
    expect(names(ev('deleted', 'data/y.tif'))).toEqual(['gone']);
    expect(names(ev('created', 'other/y.tif'))).toEqual([]);
  });

  it('matches a moved file on its new path; created-patterns only when it moved into their scope', () => {
    expect(names(ev('moved', 'data/b/f', 'data/a/f'))).toEqual(['moves']);
    expect(names(ev('moved', 'data/accepted/f', 'data/incoming/f'))).toEqual(['arrivals']);
    expect(names(ev('moved', 'data/accepted/g', 'data/accepted/f'))).toEqual([]);
  });
});

describe('planChange', () => {
  it('plans retroactive triggers and cancels for added, removed and changed rules', () => {
    const before = linkRules([pattern('keep', ['*.a']), pattern('drop', ['*.b']), pattern('edit', ['*.c'])], [recipe('r')]).rules;
    const after = linkRules([pattern('keep', ['*.a']), pattern('edit', ['*.c'], { hash: 'v2' }), pattern('new', ['*'], { sweep: { k: [1, 2] } })], [recipe('r')]).rules;
    const files = ['x.a', 'x.b', 'x.c', 'y.c'];
    const v = (n: string) => before.find((r) => r.name === n)?.version ?? '';
    const active = [
      { id: 'j1', pattern: 'drop', ruleVersion: v('drop'), status: 'running' as const },
      { id: 'j2', pattern: 'edit', ruleVersion: v('edit'), status: 'queued' as const },
      { id: 'j3', pattern: 'keep', ruleVersion: v('keep'), status: 'queued' as const },
    ];
    const plan = planChange(before, after, files, active);
    expect(plan.unchanged).toEqual(['keep']);
    expect(plan.changes.map((c) => [c.name, c.change, c.files, c.triggers, c.cancels])).toEqual([
      ['drop', 'removed', 0, 0, ['j1']],
      ['edit', 'changed', 2, 2, ['j2']],
      ['new', 'added', 4, 8, []],
    ]);
  });
});

describe('jobKey', () => {
  it('is the same for the same rule, input, version and sweep point, and differs otherwise', () => {
    const k = jobKey('v1', 'a.txt', '1:2', null);
    expect(jobKey('v1', 'a.txt', '1:2', {})).toBe(k);
    expect(new Set([k, jobKey('v2', 'a.txt', '1:2', null), jobKey('v1', 'b.txt', '1:2', null), jobKey('v1', 'a.txt', '1:3', null), jobKey('v1', 'a.txt', '1:2', { t: 1 })]).size).toBe(5);
  });
});

describe('diffTree', () => {
  const st = (version: string, ino: number): FileState => ({ version, ino });
  it('turns two snapshots into created, modified, deleted and moved events', () => {
    const known = new Map([
      ['same', st('1', 1)],
      ['changed', st('1', 2)],
      ['gone', st('1', 3)],
      ['old-name', st('7', 4)],
    ]);
    const seen = new Map([
      ['same', st('1', 1)],
      ['changed', st('2', 2)],
      ['new', st('1', 5)],
      ['new-name', st('7', 4)],
    ]);
    const events = diffTree(known, seen).map((e) => [e.kind, e.path, e.oldPath]);
    expect(events.sort()).toEqual(
      [
        ['created', 'new', null],
        ['deleted', 'gone', null],
        ['modified', 'changed', null],
        ['moved', 'new-name', 'old-name'],
      ].sort(),
    );
  });

  it('reads the known files once, as a stream, and gives events in the scan order with vanished files last', () => {
    const known = [
      { path: 'b', version: '1', ino: 2, generation: 0, cause: null },
      { path: 'gone', version: '1', ino: null, generation: 0, cause: null },
      { path: 'a', version: '1', ino: 1, generation: 2, cause: 'j-1' },
      { path: 'old', version: '9', ino: 9, generation: 1, cause: 'j-0' },
      { path: 'away', version: '3', ino: 3, generation: 0, cause: null },
    ];
    let reads = 0;
    const rows = (function* () {
      reads++;
      yield* known;
    })();
    const seen = new Map([
      ['a', st('2', 1)],
      ['b', st('1', 2)],
      ['c', st('1', 4)],
      ['d-new', st('9', 9)],
    ]);
    const events = diffKnown(rows, seen);
    expect(reads).toBe(1);
    expect(events.map((e) => [e.kind, e.path, e.oldPath, e.generation, e.cause])).toEqual([
      ['deleted', 'gone', null, 0, null],
      ['modified', 'a', null, 2, 'j-1'],
      ['created', 'c', null, 0, null],
      ['moved', 'd-new', 'old', 1, 'j-0'],
      ['deleted', 'away', null, 0, null],
    ]);
    // The same as the two snapshots compared whole.
    expect(diffTree(new Map(known.map((k) => [k.path, k])), seen)).toEqual(events);
  });
});

describe('watchScope', () => {
  it('never watches engine state or definitions, and honours watch and ignore', () => {
    const s = watchScope({ watch: ['data/**'], ignore: ['**/*.tmp', 'data/scratch'] });
    expect(s.includes('data/a.txt')).toBe(true);
    expect(s.includes('data/a.tmp')).toBe(false);
    expect(s.includes('other/a.txt')).toBe(false);
    expect(s.prunes('.meow')).toBe(true);
    expect(s.prunes('patterns')).toBe(true);
    expect(s.prunes('data/scratch')).toBe(true);
    expect(watchScope({ watch: ['**'], ignore: [] }).includes('recipes/x.py')).toBe(false);
  });

  it('prunes directories past max_depth and paths past max_path_length (in UTF-8 bytes), saying why', () => {
    const s = watchScope({ watch: ['data/**'], ignore: ['data/scratch'], maxDepth: 3, maxPathLength: 20 });
    expect(s.prunes('data/a/b')).toBe(false);
    expect(s.prunes('data/a/b/c')).toBe(true);
    expect(s.beyond('data/a/b/c', true)).toBe('4 directory levels below the workspace, more than max_depth 3: neither watched nor scanned, nor anything below it (raise max_depth in meow.yaml to include it)');
    expect(s.beyond('data/a/b', true)).toBeNull();
    expect(s.includes('data/a/b/1234567.txt')).toBe(true); // 20 bytes
    expect(s.includes('data/a/b/123456é.txt')).toBe(false); // 20 characters, 21 bytes
    expect(s.beyond('data/a/b/123456é.txt', false)).toBe('a path of 21 bytes, more than max_path_length 20: neither watched nor scanned (shorten the names, or raise max_path_length in meow.yaml)');
    // Ignored anyway: not worth a word.
    expect(s.beyond('data/scratch', true)).toBeNull();
    expect(s.beyond('other/way/too/deep/for/anything.txt', false)).toBeNull();
    // The default bounds.
    const d = watchScope({ watch: ['**'], ignore: [] });
    expect(d.prunes(Array.from({ length: 64 }, () => 'd').join('/'))).toBe(false);
    expect(d.prunes(Array.from({ length: 65 }, () => 'd').join('/'))).toBe(true);
  });
});

describe('resolveVariables', () => {
  it('expands placeholders, including variables that name other variables', async () => {
    const { resolveVariables } = await import('../../src/rules/variables.js');
    const p = { ...pattern('seg', ['data/*.txt']), variables: { base: 'out/{stem}', file: '{base}.npy', deep: '{file}.log', n: 3, label: 'k{n}' } };
    const [rule] = linkRules([p], [recipe('r')]).rules;
    const vars = resolveVariables({ rule, event: ev('created', 'data/s1.txt'), jobId: 'j-1', jobDir: '.meow/jobs/j-1', workspace: '/ws', sweepPoint: null });
    expect(vars).toEqual({ input_file: 'data/s1.txt', base: 'out/s1', file: 'out/s1.npy', deep: 'out/s1.npy.log', n: 3, label: 'k3' });
  });
});
