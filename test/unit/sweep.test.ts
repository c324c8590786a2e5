import { describe, it, expect } from 'vitest';
import { expandSweep, rangeValues, sweepSize } from '../../src/rules/sweep.js';

describe('rangeValues', () => {
  it('includes stop and keeps float steps exact', () => {
    expect(rangeValues({ start: 0.1, stop: 0.3, step: 0.1 })).toEqual([0.1, 0.2, 0.3]);
    expect(rangeValues({ start: 0, stop: 1, step: 0.25 })).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(rangeValues({ start: 0, stop: 0.7, step: 0.1 })).toEqual([0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]);
  });

  it('gives exactly 46 values for 1000..10000 step 200', () => {
    const values = rangeValues({ start: 1000, stop: 10000, step: 200 });
    expect(values).toHaveLength(46);
    expect(values[0]).toBe(1000);
    expect(values[45]).toBe(10000);
  });

  it('stops before a stop that is not on the grid', () => {
    expect(rangeValues({ start: 0, stop: 1, step: 0.3 })).toEqual([0, 0.3, 0.6, 0.9]);
  });

  it('counts down with a negative step, without -0', () => {
    expect(rangeValues({ start: 3, stop: 0, step: -1 })).toEqual([3, 2, 1, 0]);
    const values = rangeValues({ start: 0.2, stop: -0.2, step: -0.1 });
    expect(values).toEqual([0.2, 0.1, 0, -0.1, -0.2]);
    expect(Object.is(values[2], 0)).toBe(true);
  });

  it('gives one value when start equals stop', () => {
    expect(rangeValues({ start: 5, stop: 5, step: 1 })).toEqual([5]);
  });

  it('handles small steps written in exponent form', () => {
    expect(rangeValues({ start: 0, stop: 3e-7, step: 1e-7 })).toEqual([0, 1e-7, 2e-7, 3e-7]);
  });
});

describe('sweepSize and expandSweep', () => {
  it('is one job with no sweep point when there are no sweep variables', () => {
    expect(sweepSize({})).toBe(1);
    expect(expandSweep({})).toEqual([{}]);
  });

  it('is the cartesian product, keys in declaration order, last key fastest', () => {
    const sweep = { threshold: { start: 0.1, stop: 0.3, step: 0.1 }, method: ['otsu', 'li'] };
    expect(sweepSize(sweep)).toBe(6);
    expect(expandSweep(sweep)).toEqual([
      { threshold: 0.1, method: 'otsu' },
      { threshold: 0.1, method: 'li' },
      { threshold: 0.2, method: 'otsu' },
      { threshold: 0.2, method: 'li' },
      { threshold: 0.3, method: 'otsu' },
      { threshold: 0.3, method: 'li' },
    ]);
    expect(Object.keys(expandSweep(sweep)[0])).toEqual(['threshold', 'method']);
  });

  it('counts without expanding', () => {
    expect(sweepSize({ a: { start: 1, stop: 1000, step: 1 }, b: { start: 1, stop: 1000, step: 1 } })).toBe(1_000_000);
  });

  it('keeps list values of any kind', () => {
    expect(expandSweep({ opts: [{ k: 1 }, [1, 2], null] })).toEqual([{ opts: { k: 1 } }, { opts: [1, 2] }, { opts: null }]);
  });
});
