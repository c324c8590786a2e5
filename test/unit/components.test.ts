import { afterEach, describe, expect, it } from 'vitest';
import { inCI, requireComponent, requireComponentAsync } from '../helpers/components.js';

/** The one rule for missing system components: fail in CI, skip loudly elsewhere. */
describe('requireComponent', () => {
  const saved = process.env.CI;
  afterEach(() => {
    if (saved === undefined) delete process.env.CI;
    else process.env.CI = saved;
  });

  it('reads CI as set unless empty, "false" or "0"', () => {
    for (const [value, ci] of [['true', true], ['1', true], ['yes', true], ['', false], ['false', false], ['0', false]] as const) {
      process.env.CI = value;
      expect(inCI(), `CI=${value}`).toBe(ci);
    }
    delete process.env.CI;
    expect(inCI()).toBe(false);
  });

  it('runs the tests of a present component', () => {
    process.env.CI = 'true';
    const c = requireComponent('cat', () => null);
    expect(c).toMatchObject({ name: 'cat', missing: null, skip: false });
    expect(c.ready()).toBe(true);
  });

  it('fails in CI when a component is missing, naming the fix', () => {
    process.env.CI = 'true';
    const c = requireComponent('a unicorn', () => 'no unicorn here (apt-get install unicorn)');
    expect(c.skip).toBe(false);
    expect(() => c.ready()).toThrow('a unicorn is required in CI (CI=true): no unicorn here (apt-get install unicorn)');
  });

  it('skips, loudly, on a developer machine', async () => {
    process.env.CI = 'false';
    const warnings: string[] = [];
    const warn = console.warn;
    console.warn = (m: string) => void warnings.push(m);
    try {
      const c = await requireComponentAsync('a dragon', async () => 'no dragon here');
      expect(c.skip).toBe(true);
      expect(c.ready()).toBe(false);
    } finally {
      console.warn = warn;
    }
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/SKIPPING the tests that need a dragon: no dragon here/);
  });

  it('treats a probe that throws as the component missing, saying why', () => {
    process.env.CI = 'true';
    const c = requireComponent('a gryphon', () => {
      throw new Error('probe exploded');
    });
    expect(c.missing).toBe('checking for it failed: probe exploded');
  });
});
