import { randomBytes } from 'node:crypto';

let last = 0;
let counter = 0;

/**
 * A job id: `j-` + 9 base-36 characters of milliseconds + a counter + random,
 * so ids sort by creation time and never collide within one process.
 */
export function newJobId(now = Date.now()): string {
  if (now === last) counter++;
  else {
    last = now;
    counter = 0;
  }
  const time = now.toString(36).padStart(9, '0');
  const seq = counter.toString(36).padStart(3, '0');
  return `j-${time}${seq}${randomBytes(3).toString('hex')}`;
}

/** The current time as ISO 8601 UTC. */
export function nowIso(): string {
  return new Date().toISOString();
}
