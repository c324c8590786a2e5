/**
 * The poll loop of the remote backends: one batched check of every watched
 * job per interval (never one call per job), sooner on request, and nothing
 * at all while no job is watched.
 */
export abstract class BatchPoll {
  private timer: NodeJS.Timeout | null = null;
  private polling = false;
  private again = false;
  protected closed = false;

  constructor(protected readonly intervalMs: number) {}

  /** How many jobs are watched; the loop stops at none. */
  protected abstract get watchedCount(): number;

  /** One batched check of every watched job. */
  protected abstract pollOnce(): Promise<void>;

  /** Told when a poll throws; the loop carries on. */
  protected abstract pollFailed(err: unknown): void;

  /** A job is watched now: it waits for the next batched poll rather than causing one. */
  protected watching(): void {
    if (!this.timer && !this.polling) this.schedule(this.intervalMs);
  }

  /** Polls soon (after a cancel or a kill, say) rather than at the next interval. */
  pollSoon(): void {
    if (this.polling) this.again = true;
    else this.schedule(50);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  private schedule(ms: number): void {
    if (this.closed || this.polling) return;
    if (this.timer) clearTimeout(this.timer);
    // Kept referenced: while jobs are watched, the poll is what keeps the engine waiting for them.
    this.timer = setTimeout(() => void this.poll(), ms);
  }

  private async poll(): Promise<void> {
    this.timer = null;
    if (this.closed || this.watchedCount === 0) return;
    this.polling = true;
    try {
      await this.pollOnce();
    } catch (err) {
      this.pollFailed(err);
    } finally {
      this.polling = false;
    }
    if (this.watchedCount === 0) return;
    const soon = this.again;
    this.again = false;
    this.schedule(soon ? 50 : this.intervalMs);
  }
}
