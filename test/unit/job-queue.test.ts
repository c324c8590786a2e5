import { describe, expect, it } from 'vitest';
import { nextToStart, type Waiting } from '../../src/runner/job-queue.js';
import { ResourcePool } from '../../src/runner/resource-pool.js';
import type { Resources } from '../../src/core/types.js';

const pool = (cpus: number, gpus: string[] = [], memory: number | null = null) =>
  new ResourcePool('local', { cpus, memory, gpus, sources: { cpus: 'meow.yaml', memory: 'meow.yaml', gpus: 'meow.yaml' } });
const job = (id: string, res: Partial<Resources> = {}): Waiting => ({
  id,
  demand: { resources: { cpus: 1, gpus: 0, memory: null, ...res }, pattern: { name: `p-${id}`, file: `patterns/${id}.yaml` } },
});
const started = (d: ReturnType<typeof nextToStart>) => d.filter((x) => x.kind === 'start').map((x) => x.id);

describe('what starts next', () => {
  it('starts in FIFO order what fits, and stops where cpus run out', () => {
    expect(started(nextToStart([job('a'), job('b'), job('c')], pool(2)))).toEqual(['a', 'b']);
  });

  it('lets a later job pass a blocked head only when it needs none of what the head waits for', () => {
    const p = pool(4, ['0']);
    // b waits for the only GPU that a holds; c needs no GPU and passes; d needs a GPU and may not.
    const d = nextToStart([job('a', { gpus: 1 }), job('b', { gpus: 1 }), job('c'), job('d', { gpus: 1 })], p);
    expect(started(d)).toEqual(['a', 'c']);
  });

  it('refuses a job that could never fit, naming the resource and the fix', () => {
    const d = nextToStart([job('big', { cpus: 8 }), job('a')], pool(2));
    expect(d[0]).toMatchObject({ id: 'big', kind: 'refuse' });
    expect(d[0].kind === 'refuse' && d[0].error).toMatch(/asks for 8 cpus .* lower resources.cpus in patterns\/big.yaml/);
    expect(started(d)).toEqual(['a']);
  });

  it('starts everything at once on a backend without a capacity, and chooses on a copy of the pool', () => {
    expect(started(nextToStart([job('a'), job('b'), job('c')], null))).toEqual(['a', 'b', 'c']);
    const p = pool(1);
    nextToStart([job('a')], p.clone());
    expect(p.idle).toBe(true);
  });

  it('looks no further than the lookahead', () => {
    const many = Array.from({ length: 10 }, (_, i) => job(`j${i}`));
    expect(started(nextToStart(many, pool(100), 3))).toEqual(['j0', 'j1', 'j2']);
  });
});
