/**
 * The fixture of the integration tests that run a workspace live: temporary
 * workspaces, in-process live engines and `meow run` processes made through
 * it are torn down after each test, in order — engine processes stopped
 * (SIGKILL), live engines closed (cancelling running jobs), any job process
 * of the workspace still alive killed, the workspace removed. Closing one
 * earlier in the test is fine; teardown skips what is already closed.
 */
import { afterEach } from 'vitest';
import { jobProcesses, signalAll } from '../../src/runner/process-tree.js';
import { startLive, type LiveEngine } from './engine.js';
import { startEngineProcess, tempWorkspace, type EngineProcess, type TempWorkspace } from './workspace.js';

/** Makes what a live test needs; everything it made goes after the test. */
export interface LiveWorkspaceFixture {
  /** A fresh temporary workspace. */
  workspace(prefix?: string): Promise<TempWorkspace>;
  /** An in-process engine started live in `root` (watchers, socket). */
  start(root: string): Promise<LiveEngine>;
  /** `meow run --no-tui` in `root` as a separate process, once its socket answers. */
  process(root: string, extra?: string[]): Promise<EngineProcess>;
}

/** Registers the teardown (an `afterEach` of the enclosing `describe`) and returns the fixture. */
export function useLiveWorkspace(): LiveWorkspaceFixture {
  const workspaces: TempWorkspace[] = [];
  const engines: LiveEngine[] = [];
  const processes: EngineProcess[] = [];
  afterEach(async () => {
    for (const p of processes.splice(0).reverse()) await p.stop('SIGKILL');
    for (const e of engines.splice(0).reverse()) await e.close({ cancelRunning: true });
    for (const ws of workspaces.splice(0).reverse()) {
      // Jobs a killed engine left behind (recovery tests do that on purpose).
      for (const pids of jobProcesses(ws.root).values()) signalAll(pids, 'SIGKILL');
      await ws.cleanup();
    }
  });
  return {
    async workspace(prefix) {
      const ws = await tempWorkspace(prefix);
      workspaces.push(ws);
      return ws;
    },
    async start(root) {
      const live = await startLive(root);
      engines.push(live);
      return live;
    },
    async process(root, extra) {
      const p = await startEngineProcess(root, extra);
      processes.push(p);
      return p;
    },
  };
}
