import { closeSync, fstatSync, ftruncateSync, openSync, readFileSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/** How much of the discarded output is kept, at its end, in the `.tail.log` file. */
export const TAIL_BYTES = 64 * 1024;
/** How often running jobs' logs are measured. */
const CHECK_MS = 250;
/** Room kept at the end of a capped log for the note. */
const NOTE_ROOM = 512;

/** The file that keeps the end of a capped log: `stdout.log` → `stdout.tail.log`. */
export function tailLogOf(log: string): string {
  return join(dirname(log), basename(log).replace(/\.log$/, '') + '.tail.log');
}

interface Watched {
  /** Bytes dropped so far. */
  discarded: number;
  /** Length of the note now at the end of the kept part (0 before the first cut). */
  note: number;
  users: number;
}

/**
 * Keeps job logs under `max_log_size`. Recipes write their logs straight to
 * files (no pipe through the engine, so a recipe outlives an engine crash),
 * so the cap is enforced from outside: every 250 ms, and once more when the
 * job ends, a log past the cap is cut back to its first `max - 512` bytes and
 * a note saying so; the last 64 KiB of what was cut go to `NAME.tail.log`,
 * where the end of a failing run's output stays readable. Between two checks
 * a log may exceed the cap by what the recipe wrote meanwhile.
 */
export class LogCap {
  private readonly files = new Map<string, Watched>();
  private timer: NodeJS.Timeout | null = null;

  /** @param max bytes per log; 0 for no cap. */
  constructor(readonly max: number) {}

  /** Starts watching logs; the returned function checks them a last time and stops. */
  watch(logs: readonly string[]): () => void {
    if (this.max <= 0) return () => undefined;
    for (const log of logs) {
      const w = this.files.get(log);
      if (w) w.users++;
      else this.files.set(log, { discarded: 0, note: 0, users: 1 });
    }
    this.timer ??= setInterval(() => this.checkAll(), CHECK_MS).unref();
    return () => {
      for (const log of logs) {
        const w = this.files.get(log);
        if (!w) continue;
        this.check(log, w);
        if (--w.users === 0) this.files.delete(log);
      }
      if (this.files.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = null;
      }
    };
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.files.clear();
  }

  private checkAll(): void {
    for (const [log, w] of this.files) this.check(log, w);
  }

  private check(log: string, w: Watched): void {
    try {
      const size = statSync(log, { throwIfNoEntry: false })?.size ?? 0;
      if (size > this.max) this.cut(log, w);
    } catch {
      // The disk may be full or the file unreadable; the next check tries again.
    }
  }

  private cut(log: string, w: Watched): void {
    const keep = Math.max(0, this.max - NOTE_ROOM);
    const fd = openSync(log, 'r+');
    try {
      const from = keep + w.note;
      let saved = from;
      let size = fstatSync(fd).size;
      if (size <= from) return;
      // What the recipe writes while the tail is saved is saved too, until the log stands still
      // (a running recipe's last words, its error, must reach the tail file): only bytes written
      // between the last measure and the cut, an instant, are lost, and counted by the next cut.
      for (let round = 0; size > saved && round < 8; round++) {
        this.saveTail(log, fd, saved, size);
        saved = size;
        size = fstatSync(fd).size;
      }
      w.discarded += size - from;
      ftruncateSync(fd, keep);
      const note = Buffer.from(
        `\n[meowflow: ${basename(log)} reached max_log_size (${this.max} bytes); at least ${w.discarded} bytes of output after this point were discarded; ` +
          `the last ${TAIL_BYTES / 1024} KiB of them are in ${basename(tailLogOf(log))}]\n`,
      );
      writeSync(fd, note, 0, note.length, keep);
      w.note = note.length;
    } finally {
      closeSync(fd);
    }
  }

  /** Appends bytes [from, size) of the log to its tail file, keeping only the last TAIL_BYTES. */
  private saveTail(log: string, fd: number, from: number, size: number): void {
    const take = Math.min(TAIL_BYTES, size - from);
    const fresh = Buffer.alloc(take);
    readSync(fd, fresh, 0, take, size - take);
    const tail = tailLogOf(log);
    let old = Buffer.alloc(0);
    if (take < TAIL_BYTES) {
      try {
        old = readFileSync(tail);
      } catch {
        // first cut
      }
    }
    const both = Buffer.concat([old, fresh]);
    writeFileSync(tail, both.subarray(Math.max(0, both.length - TAIL_BYTES)));
  }
}
