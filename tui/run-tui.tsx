import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { render, type Instance } from 'ink';
import { App } from './App.js';
import { TuiClient } from './api/tui-client.js';
import { noColorRequested } from './theme.js';
import type { EngineClient } from '../src/api/client.js';

/** Where and how the TUI runs. */
export interface RunTuiOptions {
  /** A client of the engine's control socket: the TUI's only way to the engine. */
  client: EngineClient;
  /** The workspace, for opening definition files in $EDITOR. */
  root: string;
  /** @default process.stdin */
  stdin?: NodeJS.ReadStream;
  /** @default process.stdout */
  stdout?: NodeJS.WriteStream;
  /** Runs when the user quits (before the screen is restored). */
  onQuit?: () => void;
  /** Closes the TUI from outside (the engine is stopping). */
  signal?: AbortSignal;
}

const ALT_SCREEN_ON = '\x1b[?1049h\x1b[2J\x1b[H';
const ALT_SCREEN_OFF = '\x1b[?1049l';

/**
 * Runs the terminal UI until the user quits. On a terminal it takes the
 * alternate screen and gives the previous screen back on exit.
 */
export async function runTui(options: RunTuiOptions): Promise<void> {
  const stdin = options.stdin ?? process.stdin;
  const stdout = options.stdout ?? process.stdout;
  const tty = stdout.isTTY === true;
  let instance: Instance | null = null;
  // The editor gets the real terminal; the app redraws when it is back.
  const openEditor = (file: string) => {
    const editor = process.env.VISUAL || process.env.EDITOR || 'vi';
    if (tty) stdout.write(ALT_SCREEN_OFF);
    stdin.setRawMode?.(false);
    // The path travels as "$1", never inside the command string.
    spawnSync('/bin/sh', ['-c', `${editor} "$1"`, 'meow-editor', join(options.root, file)], { stdio: 'inherit' });
    stdin.setRawMode?.(true);
    if (tty) stdout.write(ALT_SCREEN_ON);
  };
  if (tty) stdout.write(ALT_SCREEN_ON);
  try {
    instance = render(<App client={new TuiClient(options.client)} noColor={noColorRequested()} openEditor={openEditor} onQuit={options.onQuit} />, {
      stdin,
      stdout,
      exitOnCtrlC: false,
      maxFps: 20,
    });
    const unmount = () => instance?.unmount();
    options.signal?.addEventListener('abort', unmount, { once: true });
    if (options.signal?.aborted) unmount();
    await instance.waitUntilExit();
    options.signal?.removeEventListener('abort', unmount);
  } finally {
    if (tty) stdout.write(ALT_SCREEN_OFF);
  }
}
