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
        this.check(log, w, true);
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
    for (const [log, w] of this.files) this.check(log, w, false);
  }

  /**
   * Cuts a log past the cap; at the job's end (`last`) also one with anything
   * after its note (what the recipe wrote after an earlier cut, less than the
   * room left for the note: its last words, often the error).
   */
  private check(log: string, w: Watched, last: boolean): void {
    try {
      const size = statSync(log, { throwIfNoEntry: false })?.size ?? 0;
      if (size > this.max || (last && w.note > 0 && size > this.keep() + w.note)) this.cut(log, w);
    } catch {
      // The disk may be full or the file unreadable; the next check tries again.
    }
  }

  private keep(): number {
    return Math.max(0, this.max - NOTE_ROOM);
  }

  /**
   * The recipe may be appending while its log is cut: the end of what it
   * wrote is read into memory, as often as it grew meanwhile, and the note
   * is written and the file truncated right after the last read. Only what
   * the recipe writes in that instant (a read of at most 64 KiB) is lost, and
   * counted by the next cut; what it writes after the truncation follows the
   * note, for the next cut. The tail file is written afterwards.
   */
  private cut(log: string, w: Watched): void {
    const keep = this.keep();
    const fd = openSync(log, 'r+');
    let tail: Buffer[] = [];
    let size: number;
    const from = keep + w.note;
    try {
      size = fstatSync(fd).size;
      if (size <= from) return;
      let read = from;
      for (let round = 0; ; round++) {
        tail = lastBytes([...tail, readRange(fd, Math.max(read, size - TAIL_BYTES), size)]);
        read = size;
        const now = fstatSync(fd).size;
        if (now === size || round === 8) break;
        size = now;
      }
      w.discarded += size - from;
      const note = Buffer.from(
        `\n[meowflow: ${basename(log)} reached max_log_size (${this.max} bytes); at least ${w.discarded} bytes of output after this point were discarded; ` +
          `the last ${TAIL_BYTES / 1024} KiB of them are in ${basename(tailLogOf(log))}]\n`,
      );
      // The note over the start of what is cut (saved above), then the cut: the recipe's appends land after the note.
      writeSync(fd, note, 0, note.length, keep);
      ftruncateSync(fd, keep + note.length);
      w.note = note.length;
    } finally {
      closeSync(fd);
    }
    this.saveTail(log, Buffer.concat(tail));
  }

  /** Appends `fresh` (the end of what a cut discarded) to the log's tail file, keeping only the last TAIL_BYTES. */
  private saveTail(log: string, fresh: Buffer): void {
    const tail = tailLogOf(log);
    let old = Buffer.alloc(0);
    if (fresh.length < TAIL_BYTES) {
      try {
        old = readFileSync(tail);
      } catch {
        // first cut
      }
    }
    writeFileSync(tail, Buffer.concat(lastBytes([old, fresh])));
  }
}

/** Bytes [start, end) of an open file. */
function readRange(fd: number, start: number, end: number): Buffer {
  const buf = Buffer.alloc(Math.max(0, end - start));
  let got = 0;
  while (got < buf.length) {
    const n = readSync(fd, buf, got, buf.length - got, start + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

/** The pieces holding the last TAIL_BYTES of `parts` joined. */
function lastBytes(parts: Buffer[]): Buffer[] {
  let total = parts.reduce((n, b) => n + b.length, 0);
  const out = [...parts];
  while (out.length > 0 && total - out[0].length >= TAIL_BYTES) total -= out.shift()!.length;
  if (total > TAIL_BYTES) out[0] = out[0].subarray(total - TAIL_BYTES);
  return out;
}
