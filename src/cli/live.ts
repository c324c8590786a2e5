import { EngineClient, socketPath } from '../api/client.js';
import { errorMessage } from '../core/errors.js';
import type { EngineLifecycle } from '../api/engine-api.js';

/** Options of `meow run`. */
export interface RunOptions {
  untilIdle?: boolean;
  tui?: boolean;
  cancelRunning?: boolean;
  json?: boolean;
  /** Rebuild a lost state.db from the job records (`--rebuild-state`). */
  rebuildState?: boolean;
}

/**
 * `meow run` without --until-idle: the live engine until SIGINT/SIGTERM. The
 * first signal drains (running jobs finish, or are cancelled with
 * --cancel-running); a second stops at once. With `o.tui` the terminal UI
 * runs in this process, a client of the engine's socket like any other;
 * quitting it stops the engine as the first signal does.
 */
export async function runLive(engine: EngineLifecycle, o: RunOptions): Promise<number> {
  let signals = 0;
  let lost = false;
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
        engine.stopNow();
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // The database or socket was removed or replaced: stop now (running jobs are cancelled), exit 1.
    engine.once('state:lost', (message) => {
      lost = true;
      process.stderr.write(`meow run: ${message}\n`);
      if (signals === 0) {
        signals = 2;
        closeTui.abort();
        stopping = engine.close({ cancelRunning: true }).then(resolve);
      }
    });
  });
  await engine.startLive();
  if (o.tui) {
    try {
      const { loadTui } = await import('./tui.js');
      const { runTui } = await loadTui();
      const client = new EngineClient(socketPath(engine.root));
      await Promise.race([runTui({ client, root: engine.root, signal: closeTui.signal }), done]);
    } catch (err) {
      process.stderr.write(`meow run: the terminal UI failed: ${errorMessage(err)}\n`);
    }
    if (signals === 0) onSignal('quit');
  } else if (signals === 0) {
    process.stderr.write(`meowflow engine running in ${engine.root} (${engine.rules.length} rules, socket .meow/engine.sock)\n`);
  }
  await done;
  await stopping;
  if (lost) return 1;
  return engine.failedCount > 0 && o.untilIdle ? 1 : 0;
}
