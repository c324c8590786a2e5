import { readFileSync } from 'node:fs';

/**
 * The kernel's inotify limits, and the one gauge that can tell a queue
 * overflow: libuv reads the inotify queue until it is empty and hands every
 * event to its watcher within one turn of the event loop, so the events seen
 * between two turns are what the queue held. The queue drops events past
 * `fs.inotify.max_queued_events`; a turn that delivers half that many means
 * it was close enough to the limit that some may have been dropped. The
 * gauge counts every watcher of the process, since all share one queue.
 */

/** A setting of /proc/sys/fs/inotify (null when it cannot be read: not Linux). */
export function inotifySetting(name: 'max_user_watches' | 'max_user_instances' | 'max_queued_events'): number | null {
  try {
    const n = Number.parseInt(readFileSync(`/proc/sys/fs/inotify/${name}`, 'utf8'), 10);
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
}

let events = 0;
let turnScheduled = false;
let threshold = 0;
const listeners = new Set<(events: number) => void>();

function endOfTurn(): void {
  turnScheduled = false;
  const n = events;
  events = 0;
  if (n >= threshold) for (const l of listeners) l(n);
}

/** Counts one inotify event delivered in this turn of the event loop. */
export function noteEvent(): void {
  events++;
  if (turnScheduled) return;
  turnScheduled = true;
  setImmediate(endOfTurn);
}

/** Calls `listener` after each turn that delivered enough events to have overflowed the queue; returns the unsubscribe. */
export function onLargeBatch(listener: (events: number) => void): () => void {
  if (threshold === 0) threshold = Math.max(64, Math.floor((inotifySetting('max_queued_events') ?? 16_384) / 2));
  listeners.add(listener);
  return () => listeners.delete(listener);
}

/**
 * What to tell the user when the kernel refused a watch: which limit, how
 * many directories are polled instead, and the sysctl that fixes it.
 */
export function inotifyLimitMessage(code: string, polled: number, pollIntervalMs: number): string {
  const instances = code === 'EMFILE' || code === 'ENFILE';
  const setting = instances ? 'max_user_instances' : 'max_user_watches';
  const now = inotifySetting(setting);
  const raise = instances ? 1024 : Math.max(524_288, (now ?? 0) * 4);
  const what = instances ? 'inotify instances (or open files)' : 'inotify watches';
  return (
    `the kernel refused to watch more directories (${code}: the limit on ${what}, fs.inotify.${setting} = ${now ?? '?'}, is reached); ` +
    `${polled} director${polled === 1 ? 'y is' : 'ies are'} polled every ${pollIntervalMs} ms instead, which notices changes later and costs more. ` +
    `Raise the limit with \`sysctl -w fs.inotify.${setting}=${raise}\` (and add \`fs.inotify.${setting}=${raise}\` to /etc/sysctl.d/90-meowflow.conf to keep it), then restart the engine`
  );
}
