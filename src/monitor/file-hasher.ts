import { createHash } from 'node:crypto';
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { statFile, versionOf } from './scanner.js';

/** Bytes read at a time. */
const CHUNK = 256 * 1024;
/** Inputs up to this size are read in one synchronous call while such reads stay fast. */
const SMALL = 64 * 1024;
/** A synchronous read slower than this (ms) means a slow filesystem: every later input is read asynchronously. */
const SLOW_SYNC_MS = 20;
/** Synchronous hashing stops after this long (ms) in one turn of the event loop, and goes on in the next. */
const SLICE_MS = 4;

/** The size in a version (`size:mtime_ns`); Infinity when it has none. */
function sizeOf(version: string): number {
  const size = Number(version.slice(0, version.indexOf(':')));
  return Number.isFinite(size) && version.includes(':') ? size : Infinity;
}

interface HashTask {
  jobId: string;
  abs: string;
  version: string;
}

/**
 * Hashes job inputs (sha256) in the background, a few at a time, so a 2 GB
 * file never stalls matching. A file that changed since its event keeps no
 * hash (the recorded version would not be what was hashed).
 */
export class FileHasher {
  private readonly queue: HashTask[] = [];
  private active = 0;
  private closed = false;
  private waiters: (() => void)[] = [];
  /** Read buffers, one per hash in flight, reused. */
  private readonly buffers: Buffer[] = [];
  /** Small inputs are read synchronously until one such read is slow (a network filesystem). */
  private syncReads = true;
  /** The synchronous reads go on in the next turn of the event loop. */
  private later: NodeJS.Immediate | null = null;

  constructor(
    private readonly record: (jobId: string, hash: string) => void,
    private readonly concurrency = 2,
  ) {}

  add(task: HashTask): void {
    if (this.closed) return;
    this.queue.push(task);
    this.pump();
  }

  /** Resolves when every queued hash is done. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private isIdle(): boolean {
    return this.active === 0 && this.queue.length === 0 && this.later === null;
  }

  /**
   * Hashes what is queued, in order: a small input at once, on this thread
   * (one synchronous read costs a fraction of four asynchronous calls), in
   * slices of at most SLICE_MS per turn of the event loop; a larger one
   * asynchronously, at most `concurrency` at a time.
   */
  private pump(): void {
    const sliceStart = performance.now();
    while (!this.closed && this.queue.length > 0) {
      const task = this.queue[0];
      if (this.syncReads && sizeOf(task.version) <= SMALL) {
        if (performance.now() - sliceStart > SLICE_MS) {
          this.later ??= setImmediate(() => {
            this.later = null;
            this.pump();
          });
          return;
        }
        this.queue.shift();
        this.hashNow(task);
        continue;
      }
      if (this.active >= this.concurrency) break;
      this.queue.shift();
      this.active++;
      void this.hash(task).finally(() => {
        this.active--;
        this.pump();
      });
    }
    if (this.isIdle() || this.closed) for (const w of this.waiters.splice(0)) w();
  }

  /** Hashes a small input synchronously; a FIFO or device put in its place is opened without blocking, and skipped. */
  private hashNow(t: HashTask): void {
    const t0 = performance.now();
    try {
      const fd = openSync(t.abs, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      let data: Buffer;
      try {
        const st = fstatSync(fd, { bigint: true });
        if (!st.isFile() || versionOf(st) !== t.version) return;
        data = Buffer.allocUnsafe(Number(st.size));
        let at = 0;
        while (at < data.length) {
          const n = readSync(fd, data, at, data.length - at, at);
          if (n === 0) return; // shorter than it said: it changed
          at += n;
        }
      } finally {
        closeSync(fd);
      }
      const after = statSync(t.abs, { bigint: true, throwIfNoEntry: false });
      if (after?.isFile() && versionOf(after) === t.version) this.record(t.jobId, createHash('sha256').update(data).digest('hex'));
    } catch {
      // Gone or unreadable: the lineage keeps size and mtime without a hash.
    } finally {
      if (performance.now() - t0 > SLOW_SYNC_MS) this.syncReads = false;
    }
  }

  private async hash(t: HashTask): Promise<void> {
    try {
      const h = createHash('sha256');
      // Read in place, without a stream: most inputs are one read long, and a stream's machinery costs more than the read.
      const fh = await open(t.abs, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      try {
        // A FIFO or device put in its place is opened without blocking, and skipped.
        if (!(await fh.stat()).isFile()) return;
        const buf = this.buffers.pop() ?? Buffer.allocUnsafe(CHUNK);
        try {
          for (;;) {
            const { bytesRead } = await fh.read(buf, 0, CHUNK, null);
            if (bytesRead > 0) h.update(buf.subarray(0, bytesRead));
            // A short read is the end of a regular file; one that grew meanwhile fails the version check below.
            if (bytesRead < CHUNK) break;
          }
        } finally {
          this.buffers.push(buf);
        }
      } finally {
        await fh.close();
      }
      const after = await statFile(t.abs);
      if (!this.closed && after?.version === t.version) this.record(t.jobId, h.digest('hex'));
    } catch {
      // Gone or unreadable: the lineage keeps size and mtime without a hash.
    }
  }

  /** Drops queued work; in-flight hashes finish without recording. */
  close(): void {
    this.closed = true;
    this.queue.length = 0;
    if (this.later) clearImmediate(this.later);
    this.later = null;
    for (const w of this.waiters.splice(0)) w();
  }
}
