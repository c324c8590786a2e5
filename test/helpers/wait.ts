/** Waiting for conditions, with a deadline: tests never sleep a fixed time. */

import { scaled } from './pace.js';

/**
 * Polls `check` until it returns a truthy value or the deadline passes.
 * `timeoutMs` is what the wait may take on an idle machine: it is stretched
 * by the machine's measured slowdown (see pace.ts).
 */
export async function waitFor<T>(check: () => T | Promise<T>, what: string, idleTimeoutMs = 15_000, intervalMs = 20): Promise<NonNullable<T>> {
  const timeoutMs = scaled(idleTimeoutMs);
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
