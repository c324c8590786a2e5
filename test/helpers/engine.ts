import { readFileSync } from 'node:fs';
import { Engine } from '../../src/engine.js';
import { track } from './resources.js';
import type { FileEvent, JobRecord } from '../../src/core/types.js';

/** An in-process live engine with a record of what it emitted. */
export interface LiveEngine {
  engine: Engine;
  events: FileEvent[];
  started: JobRecord[];
  finished: JobRecord[];
  /** Every log line, as "level: message", from the start on. */
  logs: string[];
  close(options?: { cancelRunning?: boolean }): Promise<void>;
}

/** Opens a workspace's engine and starts it live (watchers, socket). */
export async function startLive(root: string): Promise<LiveEngine> {
  const engine = await Engine.open(root);
  let closing: Promise<void> | null = null;
  const live: LiveEngine = {
    engine,
    events: [],
    started: [],
    finished: [],
    logs: [],
    // Closing twice (a test, then its fixture) closes once.
    close(options) {
      untrack();
      return (closing ??= engine.close(options ?? { cancelRunning: true }));
    },
  };
  engine.on('file:event', (e) => live.events.push(e));
  engine.on('job:started', (j) => live.started.push(j));
  engine.on('job:finished', (j) => live.finished.push(j));
  engine.on('log', (level, message) => live.logs.push(`${level}: ${message}`));
  const untrack = track(live, `live engine in ${root}`, () => engine.close({ cancelRunning: true }));
  await engine.startLive();
  return live;
}

/** True while a process with this pid exists and is not a zombie waiting to be reaped. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
