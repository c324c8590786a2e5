import { describe, expect, it } from 'vitest';
import { envDelta } from '../../src/runner/backends/local/process-spawner.js';
import { applyEnv } from '../../src/runner/backends/local/spawn-protocol.js';

// A job's environment travels to the spawn supervisor as its difference from
// the environment the supervisor started with; applied there, it is the job's exactly.
describe('the environment sent to the spawn supervisor', () => {
  const base = { PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', EMPTY: '' };

  it('carries only what differs, and rebuilds the job environment exactly', () => {
    const env = { PATH: '/opt/bin:/usr/bin:/bin', HOME: '/root', EMPTY: '', MEOW_JOB_ID: 'j-1', 'NAME WITH SPACE': 'a "quoted" $value\nline' };
    const delta = envDelta(base, env);
    expect(delta).toEqual({ set: { PATH: '/opt/bin:/usr/bin:/bin', MEOW_JOB_ID: 'j-1', 'NAME WITH SPACE': 'a "quoted" $value\nline' }, unset: ['LANG'] });
    expect(applyEnv(base, JSON.parse(JSON.stringify(delta)) as typeof delta)).toEqual(env);
  });

  it('sends nothing for an unchanged environment, and an emptied variable as set to empty', () => {
    expect(envDelta(base, { ...base })).toEqual({ set: {}, unset: [] });
    const env = { ...base, HOME: '' };
    expect(applyEnv(base, envDelta(base, env))).toEqual(env);
  });

  it('leaves out variables the base has as undefined', () => {
    expect(applyEnv({ A: 'a', B: undefined }, { set: {}, unset: [] })).toEqual({ A: 'a' });
  });
});
