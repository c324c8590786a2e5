import { createHash } from 'node:crypto';
import { stringifyExact } from '../core/exact-json.js';
import type { Variables } from '../core/types.js';

/**
 * The idempotence key of a job: (rule version, registration epoch, input
 * path, input content version, sweep point). A restart, a rescan or a
 * duplicate event computes the same key and so never creates a second job;
 * an edited rule, a rule registered again (even at an earlier version:
 * A → B → A) or a changed file computes a new one.
 *
 * Epoch 0 (a rule registered before epochs existed) gives the key of those
 * days, so upgrading a workspace runs nothing again.
 */
export function jobKey(ruleVersion: string, input: string, inputVersion: string, sweepPoint: Variables | null, epoch = 0): string {
  const point = sweepPoint && Object.keys(sweepPoint).length > 0 ? stringifyExact(sweepPoint, { nonFinite: 'tokens' }) : '';
  const rule = epoch > 0 ? `${ruleVersion}#${epoch}` : ruleVersion;
  return createHash('sha256').update(`${rule}\0${input}\0${inputVersion}\0${point}`).digest('base64url').slice(0, 27);
}

/** The distinct sweep points among `points` (equal points make one job: their keys are equal). */
export function distinctPoints(points: readonly Variables[]): Variables[] {
  const seen = new Set<string>();
  return points.filter((p) => {
    const k = stringifyExact(p, { nonFinite: 'tokens' });
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
