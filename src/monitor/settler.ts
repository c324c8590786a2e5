import type { FileEvent } from '../core/types.js';
import type { FileState } from '../rules/tree-diff.js';

/** What the settler needs from the engine. */
export interface SettlerDeps {
  /** Milliseconds a path must stay quiet: the longest settle of the patterns covering it. */
  settleFor(path: string): number;
  /** The path's state as last recorded (the files table). */
  known(path: string): FileState | null;
  /** The path's state on disk now. */
  stat(path: string): Promise<FileState | null>;
  /** True while a running job declares this path as its output: the job reports it when it ends. */
  claimed(path: string): boolean;
  /** Settled events, in batches. */
  onEvents(events: FileEvent[], states: Map<string, FileState>): void;
  /** How long a deletion waits for its file to reappear elsewhere (a rename). */
  moveWindowMs: number;
}

interface HeldDelete {
  path: string;
  known: FileState;
  timer: NodeJS.Timeout;
}

function clearTimer(t: NodeJS.Timeout | NodeJS.Immediate): void {
  if ('refresh' in t) clearTimeout(t);
  else clearImmediate(t);
}

/** How long a new, still empty file waits before it counts as created empty. */
const EMPTY_RECHECK_MS = 15;

/**
 * Per-path settling. Every raw observation of a path restarts its timer; when
 * the path has been quiet for its settle time it is stat'ed and compared with
 * its recorded state, giving at most one event however many chunks were
 * written. A deletion is held briefly so that a rename becomes one `moved`
 * event. Ready events are flushed in batches (one transaction each).
 */
export class Settler {
  private readonly timers = new Map<string, NodeJS.Timeout | NodeJS.Immediate>();
  private readonly inflight = new Set<string>();
  private readonly again = new Set<string>();
  private readonly held = new Map<string, HeldDelete>();
  private readonly rechecked = new Set<string>();
  /** Recorded files being stat'ed now, by inode. */
  private readonly checking = new Map<number, string>();
  /** New paths waiting for the check of a recorded file with their inode, by inode. */
  private readonly waiting = new Map<number, { path: string; st: FileState }[]>();
  private batch: FileEvent[] = [];
  /** The events being handed on right now (their handler may ask which paths are still unsettled). */
  private handing: readonly FileEvent[] = [];
  private states = new Map<string, FileState>();
  private flushScheduled = false;
  private closed = false;

  constructor(private readonly deps: SettlerDeps) {}

  /** Paths waiting to settle, being checked, or deletions held for a rename. */
  get pending(): number {
    let waiting = 0;
    for (const list of this.waiting.values()) waiting += list.length;
    return this.timers.size + this.inflight.size + this.held.size + this.batch.length + waiting;
  }

  /** True while the path is waiting to settle. */
  isPending(path: string): boolean {
    return this.timers.has(path) || this.inflight.has(path);
  }

  /**
   * Every path the settler holds: waiting to settle, being checked, or
   * settled but not yet handed on (or being handed on now). Fan-in asks it
   * so a marker does not complete a set whose members are still written.
   */
  *paths(): Iterable<string> {
    yield* this.timers.keys();
    yield* this.inflight;
    yield* this.again;
    for (const list of this.waiting.values()) for (const w of list) yield w.path;
    for (const e of this.batch) yield e.path;
    for (const e of this.handing) yield e.path;
  }

  /** Something happened at `path`. */
  observe(path: string): void {
    if (this.closed) return;
    // A path waiting for a rename's other half changed again: its own check decides.
    for (const [ino, list] of this.waiting) {
      const rest = list.filter((w) => w.path !== path);
      if (rest.length === list.length) continue;
      if (rest.length) this.waiting.set(ino, rest);
      else this.waiting.delete(ino);
    }
    if (this.inflight.has(path)) {
      this.again.add(path);
      return;
    }
    const old = this.timers.get(path);
    if (old) clearTimer(old);
    const ms = this.deps.settleFor(path);
    // Settle 0 looks in the next turn of the event loop: a timer of 0 waits at least 1 ms.
    this.timers.set(path, ms > 0 ? setTimeout(() => void this.fire(path), ms) : setImmediate(() => void this.fire(path)));
  }

  private async fire(path: string): Promise<void> {
    this.timers.delete(path);
    this.inflight.add(path);
    // A recorded file being checked: a new path with its inode, found meanwhile, may be it renamed.
    const ino = this.deps.known(path)?.ino ?? null;
    if (ino !== null) this.checking.set(ino, path);
    let st: FileState | null = null;
    try {
      st = await this.deps.stat(path);
    } finally {
      this.inflight.delete(path);
      if (ino !== null && this.checking.get(ino) === path) this.checking.delete(ino);
    }
    try {
      this.checked(path, st);
    } finally {
      if (ino !== null) this.releaseWaiting(ino);
    }
  }

  /** New paths that waited for the check of a recorded path with their inode: settled now (as moved when it was held as deleted). */
  private releaseWaiting(ino: number): void {
    const waiting = this.waiting.get(ino);
    if (!waiting) return;
    this.waiting.delete(ino);
    if (!this.closed) for (const w of waiting) this.settled(w.path, w.st);
  }

  private checked(path: string, st: FileState | null): void {
    if (this.closed) return;
    if (this.again.delete(path)) {
      this.observe(path);
      return;
    }
    // inotify reports a file at its creation, before the writer's first bytes:
    // a new file still empty is looked at once more, a moment later, so a file
    // written in one go is one `created` event, not a `created` and a `modified`.
    if (st && st.version.startsWith('0:') && !this.deps.known(path) && !this.rechecked.has(path)) {
      this.rechecked.add(path);
      this.timers.set(path, setTimeout(() => void this.fire(path), EMPTY_RECHECK_MS));
      return;
    }
    this.rechecked.delete(path);
    this.settled(path, st);
  }

  private settled(path: string, st: FileState | null): void {
    if (st && this.deps.claimed(path)) return;
    const known = this.deps.known(path);
    if (!st) {
      if (!known) return;
      if (known.ino === null) return this.push({ kind: 'deleted', path, oldPath: null, version: `deleted:${known.version}`, generation: known.generation ?? 0, cause: known.cause ?? null });
      const id = `${known.ino}:${known.version}`;
      const timer = setTimeout(() => {
        this.held.delete(id);
        this.push({ kind: 'deleted', path, oldPath: null, version: `deleted:${known.version}`, generation: known.generation ?? 0, cause: known.cause ?? null });
      }, this.deps.moveWindowMs);
      this.held.set(id, { path, known, timer });
      return;
    }
    if (known) {
      // Another inode at a recorded path: a file was renamed over it (an atomic replace). With the same size and
      // modification time it is the same content version (no new job), but its event records the new inode, which keeps later moves of it matched.
      const replaced = known.ino !== null && st.ino !== null && known.ino !== st.ino;
      if (replaced || known.version !== st.version) this.push({ kind: 'modified', path, oldPath: null, version: st.version, generation: 0, cause: null }, st);
      return;
    }
    const from = st.ino !== null ? this.held.get(`${st.ino}:${st.version}`) : undefined;
    // Its inode is a recorded file's, still being checked: the two stats of a rename may end in either order, so it
    // waits for that check (which holds the old path as deleted) rather than count as created.
    const other = st.ino !== null && !from ? this.checking.get(st.ino) : undefined;
    if (st.ino !== null && other !== undefined && other !== path) {
      const list = this.waiting.get(st.ino) ?? [];
      list.push({ path, st });
      this.waiting.set(st.ino, list);
      return;
    }
    if (from) {
      clearTimeout(from.timer);
      this.held.delete(`${st.ino}:${st.version}`);
      this.push({ kind: 'moved', path, oldPath: from.path, version: st.version, generation: from.known.generation ?? 0, cause: from.known.cause ?? null }, st);
      return;
    }
    this.push({ kind: 'created', path, oldPath: null, version: st.version, generation: 0, cause: null }, st);
  }

  private push(event: FileEvent, st?: FileState): void {
    this.batch.push(event);
    if (st) this.states.set(event.path, st);
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    setImmediate(() => this.flush());
  }

  private flush(): void {
    this.flushScheduled = false;
    if (this.closed || this.batch.length === 0) return;
    const events = this.batch;
    const states = this.states;
    this.batch = [];
    this.states = new Map();
    this.handing = events;
    try {
      this.deps.onEvents(events, states);
    } finally {
      this.handing = [];
    }
  }

  /** Drops every timer; pending observations are caught by the next start's scan. */
  close(): void {
    this.closed = true;
    for (const t of this.timers.values()) clearTimer(t);
    for (const h of this.held.values()) clearTimeout(h.timer);
    this.timers.clear();
    this.held.clear();
    this.checking.clear();
    this.waiting.clear();
  }
}
