import micromatch from 'micromatch';
import { OutputWindows } from '../monitor/output-windows.js';
import { compileGlobs } from '../rules/matcher.js';
import { expandAll } from '../rules/variables.js';
import type { FileEvent, JobRecord, Rule } from '../core/types.js';
import type { AttemptOutputs } from '../runner/scheduler.js';
import type { FileState } from '../rules/tree-diff.js';
import type { WorkspaceTree } from './tree.js';
import type { Store } from '../store/store.js';
import type { Provenance } from './provenance.js';

/** Where the outputs an attempt wrote go: recorded as file events caused by the job. */
export interface EventSink {
  /** Records the events; with `trigger` false they trigger no rule (the outputs of a job cancelled for a rule change). */
  handleEvents(events: readonly FileEvent[], states?: ReadonlyMap<string, FileState>, trigger?: boolean): number;
}

/**
 * The declared outputs of running attempts. When an attempt starts, its
 * output globs are expanded once and claimed: the live watcher's events for
 * those paths wait for the job, which reports them itself when it ends (so
 * cascades follow at once, with the job as their cause). Files a job wrote
 * without declaring them are attributed to it by its output window.
 */
export class Outputs implements AttemptOutputs {
  private readonly claims = new Map<string, { globs: string[]; test: (path: string) => boolean; cascadeCancelled: boolean }>();
  /** Jobs cancelled for a rule change or removal whose outputs trigger nothing. */
  private readonly quiet = new Set<string>();
  private readonly windows = new OutputWindows();
  /** Claims hold back the watcher's events only while a live watcher runs. */
  live = false;

  constructor(
    private readonly root: string,
    private readonly tree: WorkspaceTree,
    private readonly store: Store,
    private readonly sink: EventSink,
    private readonly provenance: Provenance,
  ) {}

  /** True while a running attempt has declared `path` among its outputs. */
  isClaimed(path: string): boolean {
    for (const c of this.claims.values()) if (c.test(path)) return true;
    return false;
  }

  /** The job whose output window a file event falls in (an inferred output), or null. */
  attribute(e: FileEvent): { jobId: string; generation: number } | null {
    return this.windows.attribute(e);
  }

  /**
   * A running job was cancelled because its rule was removed or changed:
   * what it wrote is recorded as its output but triggers nothing, unless its
   * pattern says `cascade_cancelled: true`.
   */
  cancelledByRule(jobId: string): void {
    const c = this.claims.get(jobId);
    if (c && !c.cascadeCancelled) this.quiet.add(jobId);
  }

  /** True when the outputs of this job may trigger rules. */
  cascades(jobId: string | null): boolean {
    return jobId === null || !this.quiet.has(jobId);
  }

  claim(job: JobRecord, rule: Rule, placeholders: Record<string, string>): void {
    // What the attempt declares it reads is recorded as it starts.
    this.provenance.recordDeclaredInputs(job, rule, placeholders);
    if (rule.pattern.outputs.length === 0) return;
    const prefix = `${this.root}/`;
    const globs = expandAll(rule.pattern.outputs, placeholders).map((g) => (g.startsWith(prefix) ? g.slice(prefix.length) : g));
    this.windows.open(job.id, job.generation, globs);
    this.claims.set(job.id, { globs, test: this.live ? compileGlobs(globs) : () => false, cascadeCancelled: rule.pattern.cascadeCancelled ?? false });
  }

  /**
   * After an attempt: the declared outputs that now exist become file events
   * caused by the job (generation + 1), so cascades follow at once.
   */
  async collect(job: JobRecord, rule: Rule, placeholders: Record<string, string>): Promise<void> {
    if (rule.pattern.outputs.length === 0) return;
    if (!this.claims.has(job.id)) this.claim(job, rule, placeholders);
    const globs = this.claims.get(job.id)?.globs ?? [];
    const found = new Map<string, FileState>();
    for (const g of globs) {
      const scan = micromatch.scan(g);
      if (!scan.isGlob) {
        const st = await this.tree.stat(g);
        if (st && this.tree.scope.includes(g)) found.set(g, st);
        continue;
      }
      const isMatch = micromatch.matcher(g);
      const files = await this.tree.scan(scan.base);
      for (const [p, st] of files) if (isMatch(p)) found.set(p, st);
    }
    const events: FileEvent[] = [];
    for (const [path, st] of found) {
      const known = this.store.getFile(path);
      if (known && known.version === st.version) continue;
      events.push({ kind: known ? 'modified' : 'created', path, oldPath: null, version: st.version, generation: job.generation + 1, cause: job.id });
    }
    this.sink.handleEvents(events, found, this.cascades(job.id));
    this.claims.delete(job.id);
    this.windows.close(job.id);
  }
}
