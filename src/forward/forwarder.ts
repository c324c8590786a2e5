/**
 * `meow forward`: the instrument host's side. Watches a directory with the
 * engine's own watcher and settler (src/monitor), records each settled file
 * version in the durable outbox, then — in order, in batches — transfers the
 * files into the engine's workspace and publishes their events. Catches up at
 * start on whatever changed while it was down. Owns its watcher, outbox and
 * connection: call `close()`.
 */
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { FileMonitor } from '../monitor/file-monitor.js';
import { scanTree, statFile } from '../monitor/scanner.js';
import { Settler } from '../monitor/settler.js';
import { WatchedTree } from '../monitor/watched-tree.js';
import { watchScope, type WatchScope } from '../rules/scope.js';
import { diffTree } from '../rules/tree-diff.js';
import { sha256Of } from '../sources/file-arrival.js';
import { busError } from '../sources/bus-connection.js';
import { Outbox, type OutboxRow } from './outbox.js';
import { Publisher } from './publisher.js';
import type { FileEvent } from '../core/types.js';
import type { BusAddress, RemoteFileEvent } from '../sources/source-types.js';
import type { Transfer } from './transfer.js';

/** Settings of a forwarder. */
export interface ForwarderOptions {
  /** The watched directory (absolute). */
  dir: string;
  /** The outbox database file. */
  state: string;
  transfer: Transfer;
  bus: BusAddress;
  /** The origin host named in events. */
  host: string;
  /** Quiet time before a file counts as written. @default 250 */
  settleMs: number;
  /** Globs (relative to `dir`) never forwarded. */
  ignore: string[];
  /** Announce each file's SHA-256 (the engine then checks it). @default false */
  sha256: boolean;
  /** Poll instead of inotify (a network filesystem on the instrument side). */
  poll: boolean;
  log(level: 'info' | 'warn' | 'error', message: string): void;
}

/** Rows handled per round: one rsync call, then their events in parallel. */
const BATCH = 500;
/** The longest pause between tries to publish (ms). */
const MAX_BACKOFF_MS = 5_000;
/** A failure that lasts is said again this often (ms). */
const REPEAT_MS = 60_000;

/** The forwarder; `start()`, later `close()`. */
export class Forwarder {
  readonly outbox: Outbox;
  private readonly scope: WatchScope;
  /** The watched directory as the engine's own watcher sees it (bounds, symlink policy). */
  private readonly tree: WatchedTree;
  private readonly publisher: Publisher;
  private monitor: FileMonitor | null = null;
  private settler: Settler | null = null;
  private closed = false;
  private wake: (() => void) | null = null;
  private sender: Promise<void> | null = null;
  private scanTimer: NodeJS.Timeout | null = null;

  constructor(private readonly o: ForwarderOptions) {
    this.outbox = new Outbox(o.state);
    this.scope = watchScope({ watch: ['**'], ignore: o.ignore });
    this.tree = new WatchedTree({ root: o.dir, followSymlinks: 'inside' }, this.scope, (message) => o.log('warn', message));
    this.publisher = new Publisher(o.bus, o.host, o.log);
  }

  /** Starts watching, catches up with the directory, and starts sending. */
  async start(): Promise<void> {
    this.outbox.claim(process.pid);
    this.settler = new Settler({
      settleFor: () => this.o.settleMs,
      known: (path) => this.outbox.knownVersion(path),
      stat: (path) => this.tree.stat(path),
      claimed: () => false,
      onEvents: (events) => this.record(events),
      moveWindowMs: 0,
    });
    this.monitor = new FileMonitor(
      { tree: this.tree, poll: this.o.poll, pollIntervalMs: 1000 },
      {
        file: (path) => this.settler?.observe(path),
        dirGone: () => void this.catchUp(),
        dirAdded: () => void this.catchUp(),
        error: (message) => {
          this.o.log('warn', `watcher: ${message}; rescanning`);
          void this.catchUp();
        },
      },
    );
    await this.monitor.start();
    await this.catchUp();
    // A periodic scan catches what the watcher missed (an overflowed queue).
    this.scanTimer = setInterval(() => void this.catchUp(), 60_000);
    this.scanTimer.unref();
    this.sender = this.sendLoop();
  }

  private scanning: Promise<void> | null = null;

  /** Queues every file whose version differs from the outbox's record (serial: one scan at a time). */
  catchUp(): Promise<void> {
    this.scanning ??= (async () => {
      try {
        const { files } = await scanTree(this.o.dir, this.scope);
        if (this.closed) return;
        const events = diffTree(this.outbox.known(), files).filter((e) => !(this.settler?.isPending(e.path) ?? false));
        this.record(events);
      } catch (err) {
        this.o.log('warn', `scanning ${this.o.dir}: ${errorMessage(err)}`);
      } finally {
        this.scanning = null;
      }
    })();
    return this.scanning;
  }

  private record(events: readonly FileEvent[]): void {
    if (this.closed || events.length === 0) return;
    const changed: { path: string; version: string }[] = [];
    const gone: string[] = [];
    for (const e of events) {
      if (e.kind === 'deleted') gone.push(e.path);
      else {
        changed.push({ path: e.path, version: e.version });
        if (e.kind === 'moved' && e.oldPath) gone.push(e.oldPath);
      }
    }
    this.outbox.record(changed, gone);
    this.wake?.();
  }

  private async sendLoop(): Promise<void> {
    let backoff = 250;
    // What was last said of a failure, and when: the same reason is repeated once a minute, not every retry.
    let said = '';
    let saidAt = 0;
    while (!this.closed) {
      const rows = this.outbox.next(BATCH);
      if (rows.length === 0) {
        await new Promise<void>((r) => (this.wake = r));
        this.wake = null;
        continue;
      }
      try {
        await this.send(rows);
        if (said !== '') this.o.log('info', 'the bus takes events again');
        said = '';
        backoff = 250;
      } catch (err) {
        if (this.closed) return;
        const message = busError(err);
        this.outbox.set('last_error', message);
        if (message !== said || Date.now() - saidAt >= REPEAT_MS) {
          this.o.log('warn', `${this.backlog} event(s) wait in the outbox: ${message}; retrying every ${MAX_BACKOFF_MS / 1000} s at most (said again once a minute while it lasts)`);
          said = message;
          saidAt = Date.now();
        }
        await new Promise<void>((r) => {
          const t = setTimeout(r, backoff);
          this.wake = () => (clearTimeout(t), r());
        });
        this.wake = null;
        backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
      }
    }
  }

  /** One round: drop stale rows, transfer the rest, publish their events. */
  private async send(rows: OutboxRow[]): Promise<void> {
    const live: { row: OutboxRow; event: RemoteFileEvent }[] = [];
    const stale: number[] = [];
    for (const row of rows) {
      const abs = join(this.o.dir, row.path);
      const st = await statFile(abs);
      // Changed or gone since it settled: the newer version has its own row, a deletion none.
      if (!st || st.version !== row.version) {
        stale.push(row.seq);
        continue;
      }
      const [size, mtimeNs] = row.version.split(':');
      let sha256: string | null = null;
      if (this.o.sha256) {
        sha256 = await sha256Of(abs);
        if (sha256 === null || (await statFile(abs))?.version !== row.version) {
          stale.push(row.seq);
          continue;
        }
      }
      live.push({ row, event: { v: 1, path: this.o.transfer.target(row.path), size: Number(size), mtime_ns: mtimeNs, sha256, host: this.o.host } });
    }
    this.outbox.remove(stale, false);
    if (this.closed || live.length === 0) return;
    const untransferred = live.filter((l) => l.row.state === 'pending');
    if (untransferred.length > 0) {
      await this.o.transfer.send(untransferred.map((l) => l.row.path));
      this.outbox.markTransferred(untransferred.map((l) => l.row.seq));
    }
    const results = await Promise.allSettled(live.map((l) => this.publisher.publish(l.event, l.row.version)));
    const sent = live.filter((_, i) => results[i].status === 'fulfilled').map((l) => l.row.seq);
    this.outbox.remove(sent, true);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Files settled but not yet acknowledged by the bus. */
  get backlog(): number {
    return this.outbox.status().backlog;
  }

  /** Stops watching and sending; what is not sent stays in the outbox for the next start. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    this.wake?.();
    await this.monitor?.close();
    this.settler?.close();
    await this.scanning;
    // A sender still waiting for a bus that never answered is not waited for: its rows stay queued.
    await this.publisher.close();
    await Promise.race([this.sender?.catch(() => undefined), new Promise((r) => setTimeout(r, 3000).unref())]);
    await this.o.transfer.close();
    this.outbox.claim(null);
    this.outbox.close();
  }
}
