import micromatch from 'micromatch';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { FileHasher } from '../monitor/file-hasher.js';
import { mtimeOf } from '../monitor/output-windows.js';
import { LineageStore, type LineageRow } from '../store/lineage-store.js';
import { expandAll } from '../rules/variables.js';
import type { FileEvent, JobRecord, Rule, WorkspaceConfig } from '../core/types.js';
import type { EmitEvent } from '../store/job-transitions.js';
import type { Store } from '../store/store.js';

/** Input hashes are recorded together, in one transaction, once this many wait, */
const HASH_BATCH = 512;
/** or once the first of them has waited this long (ms): a hash is provenance, not a job's state, so it may wait. */
const HASH_FLUSH_MS = 100;

/**
 * Provenance: the lineage row of each job (input size, mtime, hashes of its
 * pattern and recipe, host), input hashes computed in the background and
 * written in batches, outputs recorded against the job that wrote them, and
 * the chain of patterns behind a file. Owns the hasher: call `close()`.
 */
export class Provenance {
  readonly lineage: LineageStore;
  private readonly hasher: FileHasher;
  private readonly host = hostname();
  /** Input hashes found since the last flush: written in one transaction, not one commit each. */
  private hashes: [string, string][] = [];
  private hashTimer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly config: WorkspaceConfig,
    private readonly log: EmitEvent,
  ) {
    this.lineage = new LineageStore(store.db);
    this.hasher = new FileHasher((id, hash) => this.recordHash(id, hash));
  }

  /**
   * The files matching a pattern's declared `inputs:` as an attempt starts,
   * recorded in lineage with their versions (they trigger nothing).
   */
  recordDeclaredInputs(job: JobRecord, rule: Rule, placeholders: Record<string, string>): void {
    const globs = rule.pattern.inputs ?? [];
    if (globs.length === 0) return;
    const prefix = `${this.config.root}/`;
    try {
      const found = new Map<string, string>();
      for (const g of expandAll(globs, placeholders).map((x) => (x.startsWith(prefix) ? x.slice(prefix.length) : x))) {
        const scan = micromatch.scan(g);
        if (!scan.isGlob) {
          const f = this.store.getFile(g);
          if (f) found.set(f.path, f.version);
          continue;
        }
        const isMatch = micromatch.matcher(g);
        if (scan.base) {
          for (const p of this.store.filesUnder(scan.base)) if (isMatch(p)) found.set(p, this.store.getFile(p)?.version ?? '');
        } else {
          // The whole table: each row carries its version.
          for (const f of this.store.eachFile()) if (isMatch(f.path)) found.set(f.path, f.version);
        }
      }
      this.store.transaction(() => {
        for (const [p, v] of [...found].sort()) this.lineage.recordInput(job.id, p, v || null, true);
      });
    } catch (err) {
      this.log('log', 'warn', `${job.id}: recording declared inputs: ${errorMessage(err)}`);
    }
  }

  /** The lineage row of a new job (inside the transaction that creates it). */
  rowOf(job: JobRecord, rule: Rule): LineageRow {
    const mtime = mtimeOf(job.inputVersion);
    const size = Number.parseInt(job.inputVersion, 10);
    const backend = this.config.backends[job.backend];
    const host = !backend || backend.type === 'local' ? this.host : String(backend.options.host ?? backend.name);
    return {
      job_id: job.id,
      input_size: Number.isFinite(size) && job.event !== 'deleted' ? size : null,
      input_mtime: mtime === null ? null : new Date(Number(mtime / 1_000_000n)).toISOString(),
      input_hash: null,
      pattern_hash: rule.pattern.hash,
      recipe_hash: rule.recipe.hash,
      host,
    };
  }

  /** Hashes a committed job's input in the background (with `hash: sha256`). */
  hashInput(job: JobRecord): void {
    // A set job's members are recorded with their versions (job_inputs): its input is a group key, not a file.
    if (this.config.hash === 'sha256' && job.event !== 'deleted' && job.inputs === null) {
      this.hasher.add({ jobId: job.id, abs: join(this.config.root, job.input), version: job.inputVersion });
    }
  }

  /** The message of a job stopped by max_generation, naming the chain of patterns that led to it. */
  loopError(event: FileEvent, max: number): string {
    const chain: string[] = [];
    let cause = event.cause;
    while (cause && chain.length < 12) {
      const j = this.store.getJob(cause);
      if (!j) break;
      chain.unshift(j.pattern);
      cause = j.cause;
    }
    const shown = `${cause ? '… → ' : ''}${chain.join(' → ')}`;
    return `stopped by max_generation ${max}: ${event.path} is generation ${event.generation}, produced by the chain ${shown}; a loop that should run longer needs a higher max_generation in meow.yaml`;
  }

  /** Resolves when no input is being hashed and every hash found is recorded. */
  async idle(): Promise<void> {
    await this.hasher.idle();
    this.flushHashes();
  }

  close(): void {
    this.flushHashes();
    this.closed = true;
    this.hasher.close();
  }

  private recordHash(jobId: string, hash: string): void {
    if (this.hashes.push([jobId, hash]) >= HASH_BATCH) this.flushHashes();
    else this.hashTimer ??= setTimeout(() => this.flushHashes(), HASH_FLUSH_MS).unref();
  }

  /** Records the hashes found so far, in one transaction. */
  private flushHashes(): void {
    if (this.hashTimer) clearTimeout(this.hashTimer);
    this.hashTimer = null;
    const batch = this.hashes;
    this.hashes = [];
    if (this.closed || batch.length === 0) return;
    try {
      this.store.transaction(() => {
        for (const [id, h] of batch) this.lineage.setInputHash(id, h);
      });
    } catch (err) {
      // A lost hash leaves the lineage without it, nothing more.
      this.log('log', 'warn', `recording input hashes: ${errorMessage(err)}`);
    }
  }
}
