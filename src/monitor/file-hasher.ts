import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { statFile } from './scanner.js';

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
      for await (const chunk of createReadStream(t.abs)) h.update(chunk as Buffer);
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
