import { hostname } from 'node:os';
import { join } from 'node:path';
import { errorMessage } from '../core/errors.js';
import { FileHasher } from '../monitor/file-hasher.js';
import { mtimeOf } from '../monitor/output-windows.js';
import { LineageStore, type LineageRow } from '../store/lineage-store.js';
import type { FileEvent, JobRecord, Rule, WorkspaceConfig } from '../core/types.js';
import type { EmitEvent } from '../store/job-transitions.js';
import type { Store } from '../store/store.js';

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
  private closed = false;

  constructor(
    private readonly store: Store,
    private readonly config: WorkspaceConfig,
    private readonly log: EmitEvent,
  ) {
    this.lineage = new LineageStore(store.db);
    this.hasher = new FileHasher((id, hash) => this.recordHash(id, hash));
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
    if (this.config.hash === 'sha256' && job.event !== 'deleted') {
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

  /** Resolves when no input is being hashed. */
  idle(): Promise<void> {
    return this.hasher.idle();
  }

  close(): void {
    this.closed = true;
    this.hasher.close();
  }

  private recordHash(jobId: string, hash: string): void {
    if (this.hashes.push([jobId, hash]) > 1) return;
    setImmediate(() => {
      const batch = this.hashes;
      this.hashes = [];
      if (this.closed) return;
      try {
        this.store.transaction(() => {
          for (const [id, h] of batch) this.lineage.setInputHash(id, h);
        });
      } catch (err) {
        // A lost hash leaves the lineage without it, nothing more.
        this.log('log', 'warn', `recording input hashes: ${errorMessage(err)}`);
      }
    });
  }
}
