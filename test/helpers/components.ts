/**
 * System components that tests use for real (Jupyter, Slurm, sshd, tmux,
 * root for a tmpfs, …). One rule for all of them: in CI (`CI` set, and not
 * "false" or "0") a missing component fails the tests that need it, naming
 * what to install; on a developer's machine they are skipped, loudly.
 */
import { describe as vitestDescribe, it as vitestIt, type TestFunction } from 'vitest';

/** True when running in CI: `CI` is set to anything but "", "false" or "0". */
export function inCI(): boolean {
  const ci = process.env.CI;
  return ci !== undefined && ci !== '' && ci !== 'false' && ci !== '0';
}

/** A component some tests need, and the `it`/`describe` those tests are declared with. */
export interface Component {
  /** What the component is, for messages ("Jupyter", "the Slurm test cluster"). */
  readonly name: string;
  /** Null when present; otherwise why not, and how to install or start it. */
  readonly missing: string | null;
  /** True when the tests needing it are skipped here (missing, not in CI). */
  readonly skip: boolean;
  /** Declares a test that needs the component: it runs, is skipped (missing here) or fails with the reason (missing in CI). */
  it(title: string, fn: TestFunction, timeout?: number): void;
  /** Declares a suite that needs the component; missing in CI, the suite is one failing test saying why. */
  describe(title: string, body: () => void): void;
  /**
   * For a test that learns late which component it needs (one per backend):
   * true when present; false (a loud skip) when missing here; throws in CI.
   */
  ready(): boolean;
}

const warned = new Set<string>();

function warnSkip(name: string, missing: string): void {
  if (warned.has(name)) return;
  warned.add(name);
  console.warn(`\n*** SKIPPING the tests that need ${name}: ${missing} (in CI this fails) ***\n`);
}

function failure(name: string, missing: string): Error {
  return new Error(`${name} is required in CI (CI=${process.env.CI}): ${missing}`);
}

/**
 * Checks a component once with `probe` (null when present, else why not and
 * the fix) and returns how the tests needing it are declared.
 */
export function requireComponent(name: string, probe: () => string | null): Component {
  let missing: string | null;
  try {
    missing = probe();
  } catch (err) {
    missing = `checking for it failed: ${(err as Error).message}`;
  }
  return componentOf(name, missing);
}

/** {@link requireComponent} for a probe that answers asynchronously. */
export async function requireComponentAsync(name: string, probe: () => Promise<string | null>): Promise<Component> {
  let missing: string | null;
  try {
    missing = await probe();
  } catch (err) {
    missing = `checking for it failed: ${(err as Error).message}`;
  }
  return componentOf(name, missing);
}

function componentOf(name: string, missing: string | null): Component {
  const ci = inCI();
  const skip = missing !== null && !ci;
  if (skip) warnSkip(name, missing);
  return {
    name,
    missing,
    skip,
    it(title, fn, timeout) {
      if (missing === null) vitestIt(title, fn, timeout);
      else if (!ci) vitestIt.skip(title, fn, timeout);
      else
        vitestIt(title, () => {
          throw failure(name, missing);
        });
    },
    describe(title, body) {
      if (missing === null) vitestDescribe(title, body);
      else if (!ci) vitestDescribe.skip(title, body);
      else
        vitestDescribe(title, () => {
          vitestIt(`has ${name}`, () => {
            throw failure(name, missing);
          });
        });
    },
    ready() {
      if (missing === null) return true;
      if (ci) throw failure(name, missing);
      warnSkip(name, missing);
      return false;
    },
  };
}
