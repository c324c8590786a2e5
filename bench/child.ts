/*
 * Runs one workload in this process and reports to the harness over IPC:
 * `node dist/bench/child.js ID OPTIONS_JSON`. One process per workload keeps
 * workloads from sharing JIT, heap and file-cache state with each other.
 */
import { WORKLOADS } from './workloads/index.js';
import type { Measurement, WorkloadContext } from './lib/types.js';

/** A message from a workload process to the harness. */
export type ChildMessage =
  | { type: 'log'; message: string }
  | { type: 'result'; measurement: Measurement }
  | { type: 'error'; code: string; message: string };

function send(msg: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send) {
      process.stdout.write(`${JSON.stringify(msg)}\n`);
      resolve();
    } else process.send(msg, undefined, undefined, () => resolve());
  });
}

async function main(): Promise<void> {
  const [id, json] = process.argv.slice(2);
  const workload = WORKLOADS.find((w) => w.id === id);
  if (!workload || !json) {
    await send({ type: 'error', code: 'MEOW_USAGE', message: `usage: child.js ID OPTIONS_JSON; known ids: ${WORKLOADS.map((w) => w.id).join(', ')}` });
    return;
  }
  const opts = JSON.parse(json) as Omit<WorkloadContext, 'log'>;
  try {
    const measurement = await workload.run({ ...opts, log: (message) => void send({ type: 'log', message }) });
    await send({ type: 'result', measurement });
  } catch (err) {
    const code = typeof err === 'object' && err !== null && 'code' in err && typeof err.code === 'string' ? err.code : 'MEOW_BENCH_ERROR';
    const message = err instanceof Error ? (code === 'MEOW_BENCH_INCORRECT' ? err.message : (err.stack ?? err.message)) : String(err);
    await send({ type: 'error', code, message });
  }
}

await main();
// Whatever a workload left running (a pool's idle threads) must not keep the harness waiting.
process.exit(0);
