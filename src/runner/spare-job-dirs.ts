/**
 * Job directories made ahead of time, for the local backend's process
 * attempts: each holds, empty, the files such an attempt writes (its logs,
 * params.json, attempt.json, the exit status). Creating a file costs an
 * inode — half a millisecond on ext4 once many files were deleted, six times
 * per job — where renaming a ready directory into place and writing into
 * files that exist costs none, so a job starts sooner. Spares are made in the
 * background, a few at a time, under `.meow/spare/<backend>/` (each complete
 * before it is renamed to its final name there), and a later engine takes
 * over what an earlier one left. Where none is ready the caller makes the directory as
 * before. Call `close()`.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { renameQuick } from '../core/quick-io.js';

/** Where spares wait, workspace-relative. */
export const SPARE_DIR = '.meow/spare';
/** After a spare could not be made (a full disk, permissions), none is tried for this long (ms). */
const BACKOFF_MS = 5_000;

export class SpareJobDirs {
  private readonly ready: string[] = [];
  private making = 0;
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

  private refill(): void {
    if (this.closed || performance.now() - this.failedAt < BACKOFF_MS) return;
    while (this.ready.length + this.making < this.want) {
      this.making++;
      void this.make()
        .then(
          (spare) => {
            if (this.closed) return;
            this.ready.push(spare);
          },
          () => (this.failedAt = performance.now()),
        )
        .finally(() => this.making--);
    }
  }

  private async make(): Promise<string> {
    const name = randomBytes(8).toString('hex');
    const tmp = join(this.dir, `.${name}`);
    try {
      await mkdir(tmp, { recursive: true });
      await Promise.all(this.files.map((f) => writeFile(join(tmp, f), '')));
      const spare = join(this.dir, name);
      await rename(tmp, spare);
      return spare;
    } catch (err) {
      await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
      throw err;
    }
  }

  /** Makes no more; the ready ones stay for the next engine. */
  close(): void {
    this.closed = true;
  }
}
