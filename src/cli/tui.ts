import type * as tuiModule from '../../tui/run-tui.js';
import { connectEngine } from '../api/client.js';
import { workspaceRoot, type GlobalOptions } from './workspace.js';

type TuiModule = typeof tuiModule;

/**
 * Loads the terminal UI (ink and React load only here, never with the engine).
 * ink decides at import whether it runs in CI (CI=true) and then draws only
 * the last frame; on a real terminal the UI is interactive whatever CI says,
 * so the variables are hidden while it loads and put back at once (jobs keep
 * their environment).
 */
export async function loadTui(): Promise<TuiModule> {
  const names = ['CI', 'CONTINUOUS_INTEGRATION'] as const;
  const saved = names.map((n) => [n, process.env[n]] as const);
  for (const n of names) delete process.env[n];
  try {
    return await import('../../tui/run-tui.js');
  } finally {
    for (const [n, v] of saved) if (v !== undefined) process.env[n] = v;
  }
}

/** True when both ends of the terminal are a TTY (the UI needs keys and a screen). */
export function onTerminal(): boolean {
  return process.stdout.isTTY === true && process.stdin.isTTY === true;
}

/** `meow tui`: attaches the terminal UI to the workspace's running engine. */
export async function tuiCommand(g: GlobalOptions): Promise<number> {
  const root = workspaceRoot(g);
  const client = await connectEngine(root);
  if (!client) {
    process.stderr.write(`meow tui: no engine is running in ${root} (nothing answers on .meow/engine.sock); start one with "meow run", or open the engine and the UI together with "meow run" on a terminal\n`);
    return 1;
  }
  if (!onTerminal()) {
    process.stderr.write('meow tui: needs a terminal on stdin and stdout; in scripts use "meow status", "meow jobs" and "meow patterns"\n');
    return 2;
  }
  const { runTui } = await loadTui();
  await runTui({ client, root });
  return 0;
}
