import { describe, expect, it } from 'vitest';
import { parsePattern } from '../../src/core/pattern-schema.js';
import { addMember, decide, fanInOf, fire, groupKeyOf, markerOf, openGroup, removeMember, type Member } from '../../src/rules/collect-group.js';
import { groupExisting, setEvent, setVersion } from '../../src/rules/collect-set.js';
import { linkRules } from '../../src/rules/linker.js';
import { planChange } from '../../src/rules/planner.js';
import type { ParsedPattern, ParsedRecipe, Rule } from '../../src/core/types.js';

const opts = { maxSweep: 100, backends: ['local'] };
const recipe: ParsedRecipe = { name: 'r', file: 'recipes/r.sh', hash: 'rh', kind: 'bash', source: '', command: null };

function parse(yaml: string): ParsedPattern {
  const { pattern, errors } = parsePattern('patterns/p.yaml', yaml, opts);
  expect(errors).toEqual([]);
  if (!pattern) throw new Error('no pattern');
  return pattern;
}
function rule(yaml: string): Rule {
  return linkRules([parse(yaml)], [recipe]).rules[0];
}
const errorsOf = (yaml: string) => parsePattern('patterns/p.yaml', yaml, opts).errors.map((e) => `${e.key}: ${e.message}`);
const m = (path: string, version = 'v1', generation = 0): Member => ({ path, version, generation, cause: null });

const COUNT = 'recipe: r\ntrigger: {paths: "raw/*/proj_*.tif"}\ncollect: {by: "{dir}", complete: {count: 3}}\n';
const MARKER = 'recipe: r\ntrigger: {paths: "raw/*/proj_*.tif", settle: 100ms}\ncollect: {by: "{dir}", complete: {marker: "{dir}/scan.done"}}\n';
const QUIET = 'recipe: r\ntrigger: {paths: "raw/*/*.tif"}\ncollect: {by: "{dir}", complete: {quiet: 30s}, timeout: 1h, on_timeout: fail}\n';
const BATCH = 'recipe: r\ntrigger: {paths: "frames/*.h5"}\nbatch: {max_files: 3, max_wait: 2s}\n';

describe('fan-in pattern keys', () => {
  it('parses collect and batch, and defaults the list variable to input_files', () => {
    const p = parse(COUNT);
    expect(p.collect).toEqual({ by: '{dir}', complete: { kind: 'count', count: 3 }, timeoutMs: null, onTimeout: 'run' });
    expect(p.input).toBe('input_files');
    expect(parse(BATCH).batch).toEqual({ maxFiles: 3, maxWaitMs: 2000, by: null });
    expect(parse(QUIET).collect).toMatchObject({ complete: { kind: 'quiet', quietMs: 30000 }, timeoutMs: 3600000, onTimeout: 'fail' });
    expect(parse('recipe: r\ntrigger: {paths: "a/*"}\n').input).toBe('input_file');
    expect(parse('recipe: r\ntrigger: {paths: "a/*"}\ninputs: ["data/fit/*.json", "{dir}/meta.json"]\n').inputs).toEqual(['data/fit/*.json', '{dir}/meta.json']);
  });

  it('reports bad fan-in keys with the key and the fix', () => {
    expect(errorsOf('recipe: r\ntrigger: {paths: "a/*"}\ncollect: {by: "{dri}", complete: {count: 3}}\n')).toEqual([
      expect.stringMatching(/^collect\.by: unknown placeholder \{dri\} \(did you mean \{dir\}\?\)/),
    ]);
    expect(errorsOf('recipe: r\ntrigger: {paths: "a/*"}\ncollect: {by: "{dir}", complete: {count: 3, quiet: 1s}}\n')).toEqual([
      'collect.complete: expected exactly one of count, marker or quiet, got count and quiet; keep one',
    ]);
    expect(errorsOf('recipe: r\ntrigger: {paths: "a/*"}\ncollect: {by: "{dir}"}\n')[0]).toMatch(/^collect\.complete: missing/);
    expect(errorsOf('recipe: r\ntrigger: {paths: "a/*"}\nbatch: {by: "{dir}"}\n')[0]).toMatch(/^batch: a batch needs max_files, max_wait or both/);
    expect(errorsOf('recipe: r\ntrigger: {paths: "a/*"}\nbatch: {max_files: 0}\n')[0]).toMatch(/^batch\.max_files: /);
    expect(errorsOf('recipe: r\ntrigger: {paths: "a/*"}\nbatch: {max_files: 2}\ncollect: {by: "{dir}", complete: {count: 1}}\n')).toContain(
      'batch: a pattern either collects complete groups or batches files, not both; remove "collect" or "batch"',
    );
    expect(errorsOf('recipe: r\ntrigger: {paths: "a/*", events: [created, deleted]}\nbatch: {max_files: 2}\n')[0]).toMatch(/^trigger\.events: .*remove "deleted"/);
    expect(errorsOf('recipe: r\ntrigger: {paths: "a/*"}\ninputs: ["{nope}/x"]\n')[0]).toMatch(/^inputs\[0\]: unknown placeholder \{nope\}/);
    expect(errorsOf('recipe: r\ntrigger: {paths: "a/*"}\ncollect: {by: "{dir}", complete: {count: 2}, on_timeout: fail}\n')[0]).toMatch(/^collect\.on_timeout: has no effect without/);
  });
});

describe('groups as values', () => {
  it('builds group keys and markers from each file\'s placeholders', () => {
    const fan = fanInOf(parse(MARKER));
    if (!fan) throw new Error('no fan-in');
    expect(groupKeyOf(fan, 'raw/scan-1/proj_001.tif')).toBe('raw/scan-1');
    expect(markerOf(fan, 'raw/scan-1/proj_001.tif')).toBe('raw/scan-1/scan.done');
    const batch = fanInOf(parse(BATCH));
    if (!batch) throw new Error('no fan-in');
    expect(groupKeyOf(batch, 'frames/f1.h5')).toBe('');
  });

  it('completes a collect group by count, ignoring duplicate events', () => {
    const p = parse(COUNT);
    const g = openGroup('p', 'v', 'raw/s1', m('raw/s1/proj_1.tif'), null, 0);
    expect(decide(p, g, 0)).toEqual({ kind: 'wait', dueAt: null });
    expect(addMember(g, m('raw/s1/proj_1.tif'), 1)).toBe(false);
    addMember(g, m('raw/s1/proj_2.tif'), 2);
    expect(decide(p, g, 2).kind).toBe('wait');
    addMember(g, m('raw/s1/proj_3.tif'), 3);
    expect(decide(p, g, 3)).toEqual({ kind: 'fire', reason: 'count', take: 3 });
    expect(fire(p, g, 3, 3).map((x) => x.path)).toEqual(['raw/s1/proj_1.tif', 'raw/s1/proj_2.tif', 'raw/s1/proj_3.tif']);
    expect(g.state).toBe('fired');
    expect(decide(p, g, 4).kind).toBe('wait');
    // A member of the finished set changes: the group opens again, complete at once.
    expect(addMember(g, m('raw/s1/proj_2.tif', 'v2'), 5)).toBe(true);
    expect(g.state).toBe('open');
    expect(decide(p, g, 5)).toEqual({ kind: 'fire', reason: 'count', take: 3 });
  });

  it('completes a marker group once the settle time past the marker has passed', () => {
    const p = parse(MARKER);
    const g = openGroup('p', 'v', 'raw/s1', m('raw/s1/proj_1.tif'), 'raw/s1/scan.done', 0);
    expect(decide(p, g, 10_000)).toEqual({ kind: 'wait', dueAt: null });
    g.markerAt = 1000;
    expect(decide(p, g, 1100)).toEqual({ kind: 'wait', dueAt: 1150 });
    expect(decide(p, g, 1150)).toEqual({ kind: 'fire', reason: 'marker', take: 1 });
  });

  it('completes a quiet group after its quiet time, and fails it at the timeout when told so', () => {
    const p = parse(QUIET);
    const g = openGroup('p', 'v', 'raw/s1', m('raw/s1/a.tif'), null, 0);
    expect(decide(p, g, 1000)).toEqual({ kind: 'wait', dueAt: 30_000 });
    for (let t = 20_000; t < 3_600_000; t += 20_000) addMember(g, m(`raw/s1/${t}.tif`), t);
    const d = decide(p, g, 3_600_000);
    expect(d.kind).toBe('fail');
    if (d.kind === 'fail') expect(d.error).toMatch(/still incomplete .* when collect\.timeout ran out; on_timeout: fail/);
    const run = parse(QUIET.replace('on_timeout: fail', 'on_timeout: run'));
    expect(decide(run, g, 3_600_000)).toEqual({ kind: 'fire', reason: 'timeout', take: g.members.length });
  });

  it('closes batches by size (never larger than max_files) and by time', () => {
    const p = parse(BATCH);
    const g = openGroup('p', 'v', '', m('frames/0.h5'), null, 0);
    for (let i = 1; i < 7; i++) addMember(g, m(`frames/${i}.h5`), i);
    const taken: string[][] = [];
    for (let d = decide(p, g, 10); d.kind === 'fire'; d = decide(p, g, 10)) taken.push(fire(p, g, d.take, 10).map((x) => x.path));
    expect(taken).toEqual([['frames/0.h5', 'frames/1.h5', 'frames/2.h5'], ['frames/3.h5', 'frames/4.h5', 'frames/5.h5']]);
    expect(decide(p, g, 11)).toEqual({ kind: 'wait', dueAt: 2010 });
    expect(decide(p, g, 2010)).toEqual({ kind: 'fire', reason: 'max_wait', take: 1 });
    expect(removeMember(g, 'frames/6.h5')).toBe(true);
    expect(decide(p, g, 5000).kind).toBe('wait');
  });
});

describe('set jobs and existing files', () => {
  it('keys a set by its members and their versions, whatever their order', () => {
    const a = setVersion([m('x/1'), m('x/2')]);
    expect(setVersion([m('x/2'), m('x/1')])).toBe(a);
    expect(setVersion([m('x/1'), m('x/2', 'v2')])).not.toBe(a);
    expect(setVersion([m('x/1'), m('x/2'), m('x/3')])).not.toBe(a);
    const r = rule(COUNT);
    const e = setEvent({ rule: r, key: 'raw/s1', members: [m('raw/s1/a', 'v', 1), m('raw/s1/b', 'v', 2)], reason: 'count', error: null });
    expect(e).toMatchObject({ path: 'raw/s1', generation: 2, version: expect.stringMatching(/^set:2:/) });
    const b = rule(BATCH);
    expect(setEvent({ rule: b, key: '', members: [m('frames/9.h5'), m('frames/1.h5')], reason: 'max_files', error: null }).path).toBe('frames/9.h5');
  });

  it('groups existing files the same way, and the plan predicts the sets', () => {
    const files = new Map<string, { version: string }>();
    for (const s of ['s1', 's2', 's3']) for (let i = 0; i < 3; i++) files.set(`raw/${s}/proj_${i}.tif`, { version: 'v' });
    files.delete('raw/s3/proj_2.tif');
    files.set('raw/s1/scan.done', { version: 'v' });
    const counted = groupExisting(rule(COUNT), files, 0);
    expect(counted.fire.map((s) => [s.key, s.members.length])).toEqual([['raw/s1', 3], ['raw/s2', 3]]);
    expect(counted.open.map((g) => g.key)).toEqual(['raw/s3']);
    const marked = groupExisting(rule(MARKER), files, 0);
    expect(marked.fire.map((s) => s.key)).toEqual(['raw/s1']);
    expect(marked.open.map((g) => g.key)).toEqual(['raw/s2', 'raw/s3']);
    const plan = planChange([], [rule(COUNT)], [...files.keys()], []);
    expect(plan.changes[0]).toMatchObject({ change: 'added', files: 8, triggers: 2, sets: { fire: 2, open: 1 } });
    const frames = new Map([...Array(7).keys()].map((i) => [`frames/${i}.h5`, { version: 'v' }]));
    expect(groupExisting(rule(BATCH), frames, 0).fire.map((s) => s.members.length)).toEqual([3, 3, 1]);
  });
});
