import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { distinctPoints, jobKey } from '../../src/rules/job-key.js';
import { assignEpochs } from '../../src/rules/registration.js';

describe('registration epochs', () => {
  const rule = (name: string, version: string) => ({ name, version });

  it('keeps the epoch of an unchanged rule, so a restart computes the same keys', () => {
    const registered = new Map([['a', { version: 'v1', epoch: 4 }]]);
    expect(assignEpochs(registered, [rule('a', 'v1')], new Map([['a', 4]]))).toEqual([{ name: 'a', version: 'v1', epoch: 4 }]);
  });

  it('gives a changed rule, and a rule added again after its removal, an epoch past any it had', () => {
    const last = new Map([['a', 2], ['b', 7]]);
    const registered = new Map([['a', { version: 'v2', epoch: 2 }]]);
    // A → B → A: the second A is epoch 3, not A's first epoch 1.
    expect(assignEpochs(registered, [rule('a', 'v1')], last)[0].epoch).toBe(3);
    // b was removed at epoch 7 and comes back.
    expect(assignEpochs(registered, [rule('b', 'v1')], last)[0].epoch).toBe(8);
    expect(assignEpochs(new Map(), [rule('c', 'v1')], new Map())[0].epoch).toBe(1);
  });
});

describe('jobKey', () => {
  it('with epoch 0 is the key of workspaces made before epochs', () => {
    const legacy = createHash('sha256').update(['v1', 'a.txt', '1:2', ''].join('\u0000')).digest('base64url').slice(0, 27);
    expect(jobKey('v1', 'a.txt', '1:2', null)).toBe(legacy);
    expect(jobKey('v1', 'a.txt', '1:2', null, 0)).toBe(legacy);
  });

  it('differs between registrations of the same version', () => {
    const keys = [0, 1, 2, 3].map((e) => jobKey('v1', 'a.txt', '1:2', { t: 1 }, e));
    expect(new Set(keys).size).toBe(4);
    expect(jobKey('v1', 'a.txt', '1:2', { t: 1 }, 2)).toBe(keys[2]);
  });

  it('makes one job of equal sweep points', () => {
    expect(distinctPoints([{ m: 'x' }, { m: 'y' }, { m: 'x' }])).toEqual([{ m: 'x' }, { m: 'y' }]);
  });
});
