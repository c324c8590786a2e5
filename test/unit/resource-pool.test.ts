import { describe, expect, it } from 'vitest';
import type { Capacity } from '../../src/runner/backend.js';
import { ResourcePool, type Allocation } from '../../src/runner/resource-pool.js';
import type { Resources } from '../../src/core/types.js';

const GIB = 1024 ** 3;

function pool(over: Partial<Capacity> = {}): ResourcePool {
  return new ResourcePool('local', {
    cpus: 4,
    memory: 8 * GIB,
    gpus: ['0', '1', '2'],
    sources: { cpus: 'cpus: 4 in meow.yaml', memory: 'memory: 8GiB in meow.yaml', gpus: 'gpus: [0, 1, 2] in meow.yaml' },
    ...over,
  });
}

const res = (cpus: number, gpus = 0, memory: number | null = null): Resources => ({ cpus, gpus, memory });
const PATTERN = { name: 'segment', file: 'patterns/segment.yaml' };

describe('ResourcePool', () => {
  it('hands out cpus, memory and the lowest free GPUs, and refuses what does not fit now', () => {
    const p = pool();
    const a = p.take(res(2, 2, 3 * GIB));
    expect(a).toEqual({ cpus: 2, memory: 3 * GIB, gpus: ['0', '1'] });
    expect(p.short(res(2, 2))).toEqual(['gpus']);
    expect(p.take(res(2, 2))).toBeNull();
    expect(p.short(res(3, 0, 6 * GIB))).toEqual(['cpus', 'memory']);
    const b = p.take(res(2, 1, 5 * GIB));
    expect(b).toEqual({ cpus: 2, memory: 5 * GIB, gpus: ['2'] });
    expect(p.short(res(1))).toEqual(['cpus']);
    expect(p.idle).toBe(false);
  });

  it('gives back in any order and keeps the GPUs in capacity order', () => {
    const p = pool();
    const a = p.take(res(1, 1)) as Allocation;
    const b = p.take(res(1, 1)) as Allocation;
    const c = p.take(res(1, 1)) as Allocation;
    p.release(c);
    p.release(a);
    // The lowest id first again, whatever order they came back in.
    expect(p.take(res(1, 2))?.gpus).toEqual(['0', '2']);
    p.release(b);
    expect(p.short(res(2, 1))).toEqual([]);
  });

  it('is idle again once every allocation is released', () => {
    const p = pool();
    const all = [p.take(res(1, 1, GIB)), p.take(res(3, 2, 7 * GIB))] as Allocation[];
    expect(all.every(Boolean)).toBe(true);
    expect(p.take(res(1))).toBeNull();
    for (const a of all) p.release(a);
    expect(p.idle).toBe(true);
    expect(p.take(res(4, 3, 8 * GIB))).toEqual({ cpus: 4, memory: 8 * GIB, gpus: ['0', '1', '2'] });
  });

  it('does not count memory for jobs that ask for none, nor against a backend without a limit', () => {
    const p = pool({ memory: null });
    expect(p.take(res(1, 0, 100 * GIB))).toEqual({ cpus: 1, memory: 100 * GIB, gpus: [] });
    expect(p.short(res(1, 0, 1000 * GIB))).toEqual([]);
    const q = pool();
    expect(q.take(res(1))).toEqual({ cpus: 1, memory: 0, gpus: [] });
  });

  it('restores a recorded allocation even past the limits, and releases it back to idle', () => {
    const p = pool({ cpus: 1, gpus: ['0'] });
    // meow.yaml shrank while this attempt ran: it keeps what it had.
    const recorded: Allocation = { cpus: 3, memory: 2 * GIB, gpus: ['0', '7'] };
    p.restore(recorded);
    expect(p.short(res(1, 1))).toEqual(['cpus', 'gpus']);
    p.release(recorded);
    expect(p.idle).toBe(true);
    // A GPU that is no longer in the capacity does not come back into the pool.
    expect(p.take(res(1, 1))?.gpus).toEqual(['0']);
    expect(p.take(res(0, 1))).toBeNull();
  });

  it('says why a request can never fit, naming the pattern, the figure, its source and the fix', () => {
    const p = pool();
    expect(p.impossible(res(4, 3, 8 * GIB), PATTERN)).toBeNull();
    expect(p.impossible(res(1, 4), PATTERN)).toBe(
      'pattern "segment" asks for 4 GPUs (resources.gpus), but backend "local" has 3 (gpus: [0, 1, 2] in meow.yaml); lower resources.gpus in patterns/segment.yaml to at most 3, or send the pattern to a backend that has more',
    );
    expect(p.impossible(res(5), PATTERN)).toBe(
      'pattern "segment" asks for 5 cpus (resources.cpus), but backend "local" has 4 (cpus: 4 in meow.yaml); lower resources.cpus in patterns/segment.yaml to at most 4, or send the pattern to a backend that has more',
    );
    expect(p.impossible(res(1, 0, 9 * GIB), PATTERN)).toBe(
      'pattern "segment" asks for 9 GiB of memory (resources.memory), but backend "local" has 8 GiB (memory: 8GiB in meow.yaml); lower resources.memory in patterns/segment.yaml to at most 8 GiB, or send the pattern to a backend that has more',
    );
    expect(pool({ gpus: [] }).impossible(res(1, 1), PATTERN)).toMatch(/asks for 1 GPU \(resources.gpus\), but backend "local" has no GPUs/);
    expect(pool({ memory: null }).impossible(res(1, 0, 1000 * GIB), PATTERN)).toBeNull();
  });
});
