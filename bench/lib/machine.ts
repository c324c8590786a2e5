import os from 'node:os';
import type { Machine } from './types.js';

/** The machine this process runs on. */
export function machine(): Machine {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model.trim() ?? 'unknown',
    cores: os.availableParallelism(),
    memory_gib: Math.round((os.totalmem() / 2 ** 30) * 10) / 10,
    node: process.version,
    os: `${os.type()} ${os.release()} (${os.platform()} ${os.arch()})`,
  };
}

/** One line for the table's header. */
export function describeMachine(m: Machine): string {
  return `${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, Node ${m.node}, ${m.os}`;
}
