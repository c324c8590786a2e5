/**
 * How much slower than an idle machine this one runs right now, measured
 * once per test process: deadlines are sized from the measured cost of a
 * component, not from a guess made on a fast laptop. The probe is the cost
 * of starting Node (what every CLI call and job of the tests pays); on an
 * idle 2-core machine it is about 80 ms, on one whose cores are saturated by
 * other work it is ten times that. `MEOW_TEST_SLOWDOWN` overrides it.
 */
import { spawnSync } from 'node:child_process';

/** Node's start-up on an idle 2-core machine, in ms. */
const IDLE_NODE_START_MS = 80;
/** Beyond this, a wait that still fails is a bug, not load. */
const MAX_SLOWDOWN = 10;

function measure(): number {
  const forced = Number(process.env.MEOW_TEST_SLOWDOWN);
  if (Number.isFinite(forced) && forced >= 1) return forced;
  const costs: number[] = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0'], { stdio: 'ignore' });
    costs.push(performance.now() - t0);
  }
  const median = costs.sort((a, b) => a - b)[1];
  return Math.min(MAX_SLOWDOWN, Math.max(1, median / IDLE_NODE_START_MS));
}

/** This machine's slowdown now (1 on an idle machine, at most 10). */
export const SLOWDOWN = measure();

/** A deadline measured on an idle machine, stretched for this one. */
export function scaled(ms: number): number {
  return Math.round(ms * SLOWDOWN);
}
