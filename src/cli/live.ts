import { Engine } from '../engine.js';
import type { RunOptions } from './run.js';

/**
 * `meow run` without --until-idle: the live engine until SIGINT/SIGTERM. The
 * first signal drains (running jobs finish, or are cancelled with
 * --cancel-running); a second stops at once.
 */
export async function runLive(engine: Engine, o: RunOptions): Promise<number> {
  let signals = 0;
  let stopping: Promise<void> | null = null;
  const done = new Promise<void>((resolve) => {
    const onSignal = (sig: NodeJS.Signals) => {
      signals++;
      if (signals === 1) {
        process.stderr.write(`${sig}: stopping — ${o.cancelRunning ? 'cancelling' : 'waiting for'} running jobs (again to stop now)\n`);
        stopping = engine.close({ cancelRunning: o.cancelRunning ?? false }).then(resolve);
      } else {
        process.stderr.write(`${sig}: stopping now, cancelling running jobs\n`);
        engine.scheduler.cancelAll('cancelled at shutdown');
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
  await engine.startLive();
  process.stderr.write(`meowflow engine running in ${engine.config.root} (${engine.rules.length} rules, socket .meow/engine.sock)\n`);
  await done;
  await stopping;
  return engine.failedCount > 0 && o.untilIdle ? 1 : 0;
}
