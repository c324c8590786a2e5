import { EventEmitter } from 'node:events';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { spaceAvailable } from '../runner/disk-space.js';
import type { EmitEvent } from '../store/job-transitions.js';
import type { SpaceGate } from '../runner/scheduler.js';

/** What the gate tells its listeners. */
export interface DiskGateEvents {
  /** The disk filled: new attempts wait. */
  full: [];
  /** Space is back: attempts start again, and a scan catches what could not be recorded. */
  back: [];
}

/**
 * The disk-space gate. When a write fails for want of space, new work waits
 * (queued, not failed) and the free space is checked every
 * `checkIntervalMs`; `full()` resolves when there is room again. Owns a
 * timer while closed: call `close()`.
 */
export class DiskGate extends EventEmitter<DiskGateEvents> implements SpaceGate {
  private space: { promise: Promise<void>; timer: NodeJS.Timeout; resolve: () => void } | null = null;
  private closed = false;

  constructor(
    private readonly root: string,
    private readonly checkIntervalMs: number,
    private readonly log: EmitEvent,
  ) {
    super();
  }

  /** True while new work waits for disk space. */
  get waiting(): boolean {
    return this.space !== null;
  }

  full(err: unknown): Promise<void> {
    if (this.space) return this.space.promise;
    let resolve: () => void = () => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    this.log('log', 'error', `disk full in ${this.root} (${errorMessage(err)}): new jobs wait until space returns; free some space — the engine resumes by itself`);
    const check = async () => {
      if (this.closed || !(await spaceAvailable(join(this.root, '.meow')))) return;
      const s = this.space;
      if (!s) return;
      clearInterval(s.timer);
      this.space = null;
      this.log('log', 'info', 'disk space is back: resuming');
      this.emit('back');
      s.resolve();
    };
    const timer = setInterval(() => void check(), this.checkIntervalMs);
    timer.unref();
    this.space = { promise, timer, resolve };
    this.emit('full');
    return promise;
  }

  close(): void {
    this.closed = true;
    if (this.space) clearInterval(this.space.timer);
  }
}
