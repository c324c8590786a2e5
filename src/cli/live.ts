import { EngineClient, socketPath } from '../api/client.js';
import { errorMessage } from '../core/errors.js';
import type { Engine } from '../engine.js';
import type { RunOptions } from './run.js';

/**
 * `meow run` without --until-idle: the live engine until SIGINT/SIGTERM. The
 * first signal drains (running jobs finish, or are cancelled with
 * --cancel-running); a second stops at once. With `o.tui` the terminal UI
 * runs in this process, a client of the engine's socket like any other;
 * quitting it stops the engine as the first signal does.
 */
export async function runLive(engine: Engine, o: RunOptions): Promise<number> {
  let signals = 0;
  // Assigned in the signal handler: declared so TypeScript does not narrow it to null.
  let stopping = null as Promise<void> | null;
  const closeTui = new AbortController();
  let onSignal: (sig: NodeJS.Signals | 'quit') => void = () => {};
  const done = new Promise<void>((resolve) => {
    onSignal = (sig) => {
      signals++;
      if (signals === 1) {
        closeTui.abort();
        process.stderr.write(`${sig}: stopping — ${o.cancelRunning ? 'cancelling' : 'waiting for'} running jobs (${sig === 'quit' ? 'Ctrl-C' : 'again'} to stop now)\n`);
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
  if (o.tui) {
    try {
      const { loadTui } = await import('./tui.js');
      const { runTui } = await loadTui();
      const client = new EngineClient(socketPath(engine.config.root));
      await Promise.race([runTui({ client, root: engine.config.root, signal: closeTui.signal }), done]);
    } catch (err) {
      process.stderr.write(`meow run: the terminal UI failed: ${errorMessage(err)}\n`);
    }
    if (signals === 0) onSignal('quit');
  } else {
    process.stderr.write(`meowflow engine running in ${engine.config.root} (${engine.rules.length} rules, socket .meow/engine.sock)\n`);
  }
  await done;
  await stopping;
  return engine.failedCount > 0 && o.untilIdle ? 1 : 0;
}
