import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { statFile } from './scanner.js';

/** Bytes read at a time. */
const CHUNK = 256 * 1024;

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
    if (this.active === 0 && this.queue.length === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private pump(): void {
    while (!this.closed && this.active < this.concurrency && this.queue.length) {
      const task = this.queue.shift() as HashTask;
      this.active++;
      void this.hash(task).finally(() => {
        this.active--;
        this.pump();
        if (this.active === 0 && this.queue.length === 0) for (const w of this.waiters.splice(0)) w();
      });
    }
  }

  private async hash(t: HashTask): Promise<void> {
    try {
      const h = createHash('sha256');
      // Read in place, without a stream: most inputs are one read long, and a stream's machinery costs more than the read.
      const fh = await open(t.abs, 'r');
      try {
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
    for (const w of this.waiters.splice(0)) w();
  }
}
