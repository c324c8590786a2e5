/**
 * Waiting for an announced file to be there, complete: the size the event
 * announces (and its SHA-256 when given). A transfer still running or a
 * shared filesystem that has not caught up yet is waited for; a file that has
 * since been replaced by newer content counts as arrived (its own event
 * follows, and the engine sees the newest content, as it would locally).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { RemoteFileEvent } from './source-types.js';

/** What the file looks like now, relative to the event. */
export type Arrival = 'complete' | 'newer' | 'waiting';

/** Compares the file at `abs` with the event. */
export async function arrival(abs: string, event: RemoteFileEvent): Promise<Arrival> {
  let st;
  try {
    st = await stat(abs, { bigint: true });
  } catch {
    return 'waiting';
  }
  if (!st.isFile()) return 'waiting';
  if (Number(st.size) === event.size) {
    if (event.sha256 === null) return 'complete';
    if ((await sha256Of(abs)) === event.sha256) return 'complete';
  }
  // Content written after the announced version: the announced one will never be seen again.
  return st.mtimeNs > BigInt(event.mtime_ns) && Number(st.size) !== event.size ? 'newer' : 'waiting';
}

/** The hex SHA-256 of a file, or null when it cannot be read. */
export function sha256Of(abs: string): Promise<string | null> {
  return new Promise((resolve) => {
    const h = createHash('sha256');
    const s = createReadStream(abs);
    s.on('data', (chunk) => h.update(chunk));
    s.on('error', () => resolve(null));
    s.on('end', () => resolve(h.digest('hex')));
  });
}
