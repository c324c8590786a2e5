import { describe, expect, it } from 'vitest';
import { globsIntersect, templateToGlob } from '../../src/rules/glob-intersect.js';
import { buildGraph, cycleWarnings } from '../../src/rules/graph.js';
import type { ParsedPattern } from '../../src/core/types.js';

function pattern(name: string, paths: string[], outputs: string[], extra: Partial<ParsedPattern> = {}): ParsedPattern {
  return {
    name, file: `patterns/${name}.yaml`, hash: name, recipe: 'r',
    trigger: { paths, events: ['created', 'modified'], ignore: [], settleMs: 0 },
    input: 'input_file', variables: {}, sweep: {}, outputs, backend: 'local',
    resources: { cpus: 1, gpus: 0, memory: null }, timeoutMs: null, retries: 0, loop: false, ...extra,
  };
}

describe('globsIntersect', () => {
  it.each([
    ['data/*.npy', 'data/s?.npy', true],
    ['data/a/*', 'data/b/*', false],
    ['data/**', 'data/x/y/z.txt', true],
    ['**/*.tif', 'raw/*.h5', false],
    ['out/{a,b}/*.txt', 'out/b/x.*', true],
    ['requests/*.json', 'measurements/*.json', false],
    ['x/*-next.json', 'x/*.json', true],
    ['x/*.json', 'x/*.csv', false],
    ['a/[0-9]*.dat', 'a/7.dat', true],
  ])('%s ∩ %s → %s', (a, b, expected) => {
    expect(globsIntersect(a, b)).toBe(expected);
    expect(globsIntersect(b, a)).toBe(expected);
  });

  it('reads placeholders of variables as their values, others as wildcards', () => {
    expect(templateToGlob('{out}/{stem}.json', { out: 'plots/{name}' })).toBe('plots/*/*.json');
    expect(templateToGlob('{dir}/x.{n}', { n: 3 })).toBe('**/x.3');
    expect(templateToGlob('{{literal}}')).toBe('{literal}');
  });
});

describe('buildGraph', () => {
  it('finds edges by glob intersection, inputs, sinks, and loops', () => {
    const g = buildGraph(
      [
        pattern('a', ['raw/*.h5'], ['mid/{stem}.npy']),
        pattern('b', ['mid/*.npy'], ['{plot}'], { variables: { plot: 'plots/summary.svg' } }),
        pattern('c', ['loop/*.json'], ['loop/{stem}x.json']),
      ],
      new Set(['a', 'b']),
    );
    expect(g.edges.map((e) => `${e.from}->${e.to}`)).toEqual(['a->b', 'c->c']);
    expect(g.inputs.map((i) => `${i.glob}->${i.to}`)).toEqual(['raw/*.h5->a', 'loop/*.json->c']);
    expect(g.sinks).toEqual([{ from: 'b', glob: '{plot}' }]);
    expect(g.cycles).toEqual([{ patterns: ['c'], intended: false }]);
    expect(g.patterns.find((p) => p.name === 'c')).toMatchObject({ linked: false, cyclic: true });
    expect(cycleWarnings(g, [])[0].message).toContain('pattern "c" triggers itself');
  });
});
