import type { Capacity, ResourceKind } from './backend.js';
import type { Resources } from '../core/types.js';

/** What one attempt holds of a backend's capacity. Recorded in `attempt.json`, restored on re-attach. */
export interface Allocation {
  cpus: number;
  /** Bytes (0 when the job asked for none). */
  memory: number;
  gpus: string[];
}

/** What a job holds when its backend states no capacity. */
export const NO_ALLOCATION: Allocation = Object.freeze({ cpus: 0, memory: 0, gpus: [] as string[] }) as Allocation;

const GIB = 1024 ** 3;

function bytes(n: number): string {
  if (n >= GIB) return `${+(n / GIB).toFixed(2)} GiB`;
  return `${+(n / 1024 ** 2).toFixed(1)} MiB`;
}

/**
 * The free part of one backend's {@link Capacity}. Jobs take cpus slots,
 * memory and whole GPUs (the lowest free ids first) and give them back when
 * their attempt ends.
 */
export class ResourcePool {
  private cpusUsed = 0;
  private memoryUsed = 0;
  private readonly free: string[];

  constructor(
    readonly backend: string,
    readonly capacity: Capacity,
  ) {
    this.free = [...capacity.gpus];
  }

  /**
   * Why `res` can never fit this backend, even when it is idle — a message
   * naming the pattern, the resource, what the backend has and the fix — or
   * null when it can.
   */
  impossible(res: Resources, pattern: { name: string; file: string }): string | null {
    const cap = this.capacity;
    const where = `backend "${this.backend}"`;
    const fix = (key: string, most: string) => `; lower resources.${key} in ${pattern.file} to at most ${most}, or send the pattern to a backend that has more`;
    if (res.gpus > cap.gpus.length) {
      const has = cap.gpus.length === 0 ? 'has no GPUs' : `has ${cap.gpus.length}`;
      return `pattern "${pattern.name}" asks for ${res.gpus} GPU${res.gpus === 1 ? '' : 's'} (resources.gpus), but ${where} ${has} (${cap.sources.gpus})${fix('gpus', String(cap.gpus.length))}`;
    }
    if (res.cpus > cap.cpus) {
      return `pattern "${pattern.name}" asks for ${res.cpus} cpus (resources.cpus), but ${where} has ${cap.cpus} (${cap.sources.cpus})${fix('cpus', String(cap.cpus))}`;
    }
    if (res.memory !== null && cap.memory !== null && res.memory > cap.memory) {
      return `pattern "${pattern.name}" asks for ${bytes(res.memory)} of memory (resources.memory), but ${where} has ${bytes(cap.memory)} (${cap.sources.memory})${fix('memory', bytes(cap.memory))}`;
    }
    return null;
  }

  /** The resource kinds `res` cannot get now (empty when it fits). */
  short(res: Resources): ResourceKind[] {
    const out: ResourceKind[] = [];
    if (this.cpusUsed + res.cpus > this.capacity.cpus) out.push('cpus');
    if (res.memory !== null && this.capacity.memory !== null && this.memoryUsed + res.memory > this.capacity.memory) out.push('memory');
    if (res.gpus > this.free.length) out.push('gpus');
    return out;
  }

  /** Takes what `res` asks for, or returns null when it does not fit now. */
  take(res: Resources): Allocation | null {
    if (this.short(res).length) return null;
    const a: Allocation = { cpus: res.cpus, memory: res.memory ?? 0, gpus: this.free.splice(0, res.gpus) };
    this.cpusUsed += a.cpus;
    this.memoryUsed += a.memory;
    return a;
  }

  /**
   * Takes exactly a recorded allocation (an attempt found running after a
   * restart), even past the limits (meow.yaml may have shrunk meanwhile):
   * that attempt runs whatever the config says now.
   */
  restore(a: Allocation): void {
    this.cpusUsed += a.cpus;
    this.memoryUsed += a.memory;
    for (const g of a.gpus) {
      const i = this.free.indexOf(g);
      if (i >= 0) this.free.splice(i, 1);
    }
  }

  release(a: Allocation): void {
    this.cpusUsed -= a.cpus;
    this.memoryUsed -= a.memory;
    const order = this.capacity.gpus;
    for (const g of a.gpus) if (order.includes(g) && !this.free.includes(g)) this.free.push(g);
    this.free.sort((x, y) => order.indexOf(x) - order.indexOf(y));
  }

  /** A copy with the same free capacity (what starts next is chosen on a copy). */
  clone(): ResourcePool {
    const copy = new ResourcePool(this.backend, this.capacity);
    copy.cpusUsed = this.cpusUsed;
    copy.memoryUsed = this.memoryUsed;
    copy.free.splice(0, copy.free.length, ...this.free);
    return copy;
  }

  /** True when this pool holds nothing (every attempt gave back what it took). */
  get idle(): boolean {
    return this.cpusUsed === 0 && this.memoryUsed === 0 && this.free.length === this.capacity.gpus.length;
  }
}
