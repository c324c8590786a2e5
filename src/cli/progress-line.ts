/**
 * The progress line of `meow run --until-idle` on a terminal: files seen,
 * jobs done of those to run, the rate and the time left, redrawn in place on
 * stderr. It exists only on a terminal and leaves no trace: it is cleared
 * before every log line and at the end, and is never drawn into a pipe or a
 * log file.
 */
import { formatDuration } from '../core/durations.js';
import type { EngineApi } from '../api/engine-api.js';
import type { JobRecord } from '../core/types.js';

/** How often the line is redrawn. */
const REDRAW_MS = 250;

/** What the line shows, from the engine's events since the run began. */
export interface ProgressCounts {
  files: number;
  done: number;
  total: number;
  /** Milliseconds since the run began. */
  elapsedMs: number;
}

/** The line's text: `files 1,204 · jobs 56 of 200 done · 3.2 jobs/s · about 45s left`. */
export function progressText(c: ProgressCounts): string {
  const parts = [`files ${c.files.toLocaleString('en-US')}`, `jobs ${c.done.toLocaleString('en-US')} of ${c.total.toLocaleString('en-US')} done`];
  const rate = c.elapsedMs > 0 ? (c.done * 1000) / c.elapsedMs : 0;
  if (c.done > 0) {
    parts.push(`${rate >= 10 ? Math.round(rate) : rate.toFixed(1)} jobs/s`);
    const left = c.total - c.done;
    if (left > 0 && rate > 0) parts.push(`about ${formatDuration((left / rate) * 1000)} left`);
  }
  return parts.join(' · ');
}

const CLEAR = '\r\x1b[2K';

/** A progress line on a terminal stream, fed by an engine's events. Owns its timer: call `stop()`. */
export class ProgressLine {
  private files = 0;
  private readonly queued = new Set<string>();
  private readonly done = new Set<string>();
  private readonly started = Date.now();
  private timer: NodeJS.Timeout | null = null;
  private shown = false;
  private readonly detach: () => void;

  constructor(
    engine: EngineApi,
    private readonly out: NodeJS.WriteStream,
  ) {
    // Jobs already queued or running when the run begins are part of its work.
    const c = engine.statusJson().jobs;
    let carried = c.queued + c.running;
    const onFile = () => void this.files++;
    const onQueued = (j: JobRecord) => void this.queued.add(j.id);
    const onFinished = (j: JobRecord) => {
      if (j.status === 'queued') return; // a retry: still to do
      if (!this.queued.has(j.id) && carried > 0) {
        carried--;
        this.queued.add(j.id);
      }
      this.done.add(j.id);
    };
    engine.on('file:event', onFile);
    engine.on('job:queued', onQueued);
    engine.on('job:finished', onFinished);
    this.carried = () => carried;
    this.detach = () => {
      engine.off('file:event', onFile);
      engine.off('job:queued', onQueued);
      engine.off('job:finished', onFinished);
    };
  }

  private readonly carried: () => number;

  /** Draws the line now and every {@link REDRAW_MS}. */
  start(): void {
    this.draw();
    this.timer = setInterval(() => this.draw(), REDRAW_MS);
    this.timer.unref();
  }

  /** Removes the line (before a log line is written; the next redraw brings it back). */
  clear(): void {
    if (!this.shown) return;
    this.out.write(CLEAR);
    this.shown = false;
  }

  /** Removes the line for good and stops following the engine. */
  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.detach();
    this.clear();
  }

  private draw(): void {
    const text = progressText({ files: this.files, done: this.done.size, total: this.queued.size + this.carried(), elapsedMs: Date.now() - this.started });
    const width = this.out.columns > 1 ? this.out.columns - 1 : 79;
    this.out.write(`${CLEAR}${text.slice(0, width)}`);
    this.shown = true;
  }
}
