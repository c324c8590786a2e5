import { createHash } from 'node:crypto';
import { stringifyExact } from '../core/exact-json.js';
import type { Variables } from '../core/types.js';

/**
 * The idempotence key of a job: (rule version, input path, input content
 * version, sweep point). A restart, a rescan or a duplicate event computes the
 * same key and so never creates a second job; an edited rule or a changed file
 * computes a new one.
 */
export function jobKey(ruleVersion: string, input: string, inputVersion: string, sweepPoint: Variables | null): string {
  const point = sweepPoint && Object.keys(sweepPoint).length > 0 ? stringifyExact(sweepPoint, { nonFinite: 'tokens' }) : '';
  return createHash('sha256').update(`${ruleVersion}\0${input}\0${inputVersion}\0${point}`).digest('base64url').slice(0, 27);
}
