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
  return `j-${time}${seq}${random6()}`;
}

/** Random bytes drawn from a pooled buffer: one system call per 4,096 ids, not one per id. */
let pool = Buffer.alloc(0);
let at = 0;
function random6(): string {
  if (at + 3 > pool.length) {
    pool = randomBytes(3 * 4096);
    at = 0;
  }
  at += 3;
  return pool.toString('hex', at - 3, at);
}

/** The current time as ISO 8601 UTC. */
export function nowIso(): string {
  return new Date().toISOString();
}
