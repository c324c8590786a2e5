/**
 * Job directories made ahead of time, for the local backend's process
 * attempts: each holds, empty, the files such an attempt writes (its logs,
 * params.json, attempt.json, the exit status). Creating a file costs an
 * inode — half a millisecond on ext4 once many files were deleted, six times
 * per job — where renaming a ready directory into place and writing into
 * files that exist costs none, so a job starts sooner. Spares are made one at
 * a time while the engine is idle enough (in a burst, making them would cost
 * what they save), under `.meow/spare/<backend>/` (each complete before it is
 * renamed to its final name there), and a later engine takes over what an
 * earlier one left. Where none is ready the caller makes the directory as
 * before. Call `close()`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { readdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { quickIoFast, renameQuick, timed } from '../core/quick-io.js';

/** Where spares wait, workspace-relative. */
export const SPARE_DIR = '.meow/spare';
/** After a spare could not be made (a full disk, permissions), none is tried for this long (ms). */
const BACKOFF_MS = 5_000;
/** How often a missing spare is considered (ms). */
const REFILL_MS = 10;
/** The event loop's busy share below which the engine counts as idle enough to make one. */
const IDLE_UTILIZATION = 0.5;

export class SpareJobDirs {
  private readonly ready: string[] = [];
  private timer: NodeJS.Timeout | null = null;
  private closed = false;
  private adopted: Promise<void> | null = null;
  private failedAt = -Infinity;

  private readonly dir: string;

  /**
   * @param root the workspace
   * @param owner who keeps them (a backend's name): each owner has its own directory under SPARE_DIR
   * @param files the (empty) files each spare holds
   * @param want how many to keep ready
   */
  constructor(
    root: string,
    owner: string,
    private readonly files: readonly string[],
    private readonly want: number,
  ) {
    this.dir = join(root, SPARE_DIR, encodeURIComponent(owner));
  }

  /** How many are ready now. */
  get readyCount(): number {
    return this.ready.length;
  }

  /**
   * Moves a ready spare to `dir`, which must not exist yet (an existing empty
   * one is replaced). False when none is ready or the move fails: the caller
   * makes `dir` itself.
   */
  async take(dir: string): Promise<boolean> {
    this.start();
    const spare = this.ready.pop();
    if (spare === undefined) return false;
    try {
      await renameQuick(spare, dir);
      return true;
    } catch {
      // `dir` exists with something in it, or its parent does not yet: the spare waits for the next job.
      if (existsSync(spare)) this.ready.push(spare);
      return false;
    } finally {
      this.refill();
    }
  }

  /**
   * Takes over the spares an earlier engine left, then keeps `want` ready. A
   * half-made one, or one that holds anything but its files, empty, is removed:
   * nothing in a job's directory comes from anywhere but the job.
   */
  private start(): void {
    this.adopted ??= (async () => {
      const names = await readdir(this.dir).catch(() => [] as string[]);
      for (const name of names) {
        const spare = join(this.dir, name);
        if (!name.startsWith('.') && (await this.intact(spare))) this.ready.push(spare);
        else await rm(spare, { recursive: true, force: true }).catch(() => undefined);
      }
    })().finally(() => this.refill());
  }

  /** Whether `spare` holds exactly its files, each an empty regular file. */
  private async intact(spare: string): Promise<boolean> {
    try {
      const entries = await readdir(spare, { withFileTypes: true });
      if (entries.length !== this.files.length || !entries.every((e) => e.isFile() && this.files.includes(e.name))) return false;
      for (const f of this.files) if ((await stat(join(spare, f))).size !== 0) return false;
      return true;
    } catch {
      return false;
    }
  }

  /**
   * Makes spares while the engine is idle enough: one at a time, each on a
   * timer's turn, and only when the event loop was busy for less than
   * IDLE_UTILIZATION of the time since the last look. In a burst the spares
   * run out and jobs make their directories as before; the engine's thread
   * is not spent making more (the creations cost what they save).
   */
  private refill(): void {
    if (this.closed || this.timer !== null || this.ready.length >= this.want) return;
    const since = performance.eventLoopUtilization();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.closed || this.ready.length >= this.want) return;
      const idle = performance.eventLoopUtilization(since).utilization < IDLE_UTILIZATION;
      if (idle && quickIoFast() && performance.now() - this.failedAt >= BACKOFF_MS) {
        try {
          this.ready.push(this.make());
        } catch {
          this.failedAt = performance.now();
        }
      }
      this.refill();
    }, REFILL_MS);
    this.timer.unref();
  }

  /**
   * Makes one spare (synchronously: a few hundred microseconds on a local
   * disk, on an idle engine; timed like the engine's other synchronous file
   * work, so a slow disk stops it too).
   */
  private make(): string {
    const name = randomBytes(8).toString('hex');
    const tmp = join(this.dir, `.${name}`);
    try {
      return timed(() => {
        mkdirSync(tmp, { recursive: true });
        for (const f of this.files) closeSync(openSync(join(tmp, f), 'w'));
        const spare = join(this.dir, name);
        renameSync(tmp, spare);
        return spare;
      });
    } catch (err) {
      rmSync(tmp, { recursive: true, force: true });
      throw err;
    }
  }

  /** Makes no more; the ready ones stay for the next engine. */
  close(): void {
    this.closed = true;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }
}
