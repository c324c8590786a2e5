import { errorMessage } from '../core/errors.js';
import { NO_ALLOCATION, ResourcePool, type Allocation } from './resource-pool.js';
import type { Backend } from './backend.js';
import type { EmitEvent } from '../store/job-transitions.js';

/**
 * The resource pools of the backends: each backend's capacity is asked for
 * once, the first time a job needs it; until it is known the backend's jobs
 * wait, and allocations of re-attached attempts wait to be restored.
 */
export class CapacityPools {
  /** Per backend: its pool, null when it states no capacity, a promise while asking. */
  private readonly pools = new Map<string, ResourcePool | null | Promise<void>>();
  /** Allocations of adopted attempts waiting for their backend's pool. */
  private readonly restores = new Map<string, Set<Allocation>>();

  /**
   * @param changed called when a pool becomes known (jobs may start)
   */
  constructor(
    private readonly backends: ReadonlyMap<string, Backend>,
    private readonly emit: EmitEvent,
    private readonly changed: () => void,
  ) {}

  /** A backend's pool: null without a capacity (or no such backend); 'pending' until its capacity is known. */
  poolOf(name: string): ResourcePool | null | 'pending' {
    const known = this.pools.get(name);
    if (known instanceof Promise) return 'pending';
    if (known !== undefined) return known;
    const backend = this.backends.get(name);
    if (!backend?.capacity) {
      this.pools.set(name, null);
      return null;
    }
    const asking = backend.capacity().then(
      (cap) => {
        const pool = new ResourcePool(name, cap);
        for (const a of this.restores.get(name) ?? []) pool.restore(a);
        this.restores.delete(name);
        this.pools.set(name, pool);
        if (cap.gpus.length) this.emit('log', 'info', `backend "${name}": ${cap.cpus} cpus, ${cap.gpus.length} GPU(s) [${cap.gpus.join(', ')}] (${cap.sources.gpus})`);
        this.changed();
      },
      (err: unknown) => {
        this.emit('log', 'error', `backend "${name}": cannot tell its capacity (${errorMessage(err)}); its jobs run one at a time without GPUs`);
        this.pools.set(name, new ResourcePool(name, { cpus: 1, memory: null, gpus: [], sources: { cpus: 'unknown', memory: 'unknown', gpus: 'unknown' } }));
        this.changed();
      },
    );
    this.pools.set(name, asking);
    return 'pending';
  }

  /** The pool of a backend when it is known (for the check of a job that can never fit). */
  known(name: string): ResourcePool | null {
    const p = this.pools.get(name);
    return p instanceof ResourcePool ? p : null;
  }

  /** Holds a recorded allocation again (an attempt re-attached after a restart). */
  restore(name: string, a: Allocation): void {
    const pool = this.poolOf(name);
    if (pool instanceof ResourcePool) pool.restore(a);
    else if (pool === 'pending') {
      const set = this.restores.get(name) ?? new Set<Allocation>();
      set.add(a);
      this.restores.set(name, set);
    }
  }

  /** Gives back what an attempt held. */
  release(name: string, a: Allocation): void {
    if (a === NO_ALLOCATION) return;
    const pool = this.pools.get(name);
    if (pool instanceof ResourcePool) pool.release(a);
    else this.restores.get(name)?.delete(a);
  }
}
