/**
 * Runs the command-line tools of the remote backends (sbatch, squeue, ssh,
 * rsync, …) as argv arrays, and quotes values for the few places where text
 * is read by bash.
 */
import { spawn } from 'node:child_process';

/** How a tool run ended. `spawnError` is set when it could not start at all. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError: string | null;
  timedOut: boolean;
}

/** Options of {@link runCommand}. */
export interface CommandOptions {
  /** Written to the tool's stdin (then closed). */
  input?: string | Buffer;
  /** Killed (SIGKILL) after this long. @default 120000 */
  timeoutMs?: number;
  /** Replaces the environment. @default process.env */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a program to its end and collects its output; never rejects. */
export function runCommand(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(file, args, { env: options.env ?? process.env, cwd: options.cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timedOut = false;
    let spawnError: string | null = null;
    const timer = setTimeout(() => ((timedOut = true), child.kill('SIGKILL')), options.timeoutMs ?? 120_000);
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => err.push(d));
    child.stdin.on('error', () => undefined); // a tool that exits without reading its input
    child.once('error', (e: NodeJS.ErrnoException) => {
      spawnError = e.code === 'ENOENT' ? `${file}: command not found` : `${file}: ${e.message}`;
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8'), spawnError, timedOut });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** One line saying why a tool run failed, for error messages. */
export function commandFailure(file: string, args: readonly string[], r: CommandResult): string {
  if (r.spawnError) return r.spawnError;
  const what = `${file} ${args.slice(0, 3).join(' ')}${args.length > 3 ? ' …' : ''}`;
  const how = r.timedOut ? 'did not answer in time' : r.code === null ? `was killed by ${r.signal ?? 'a signal'}` : `exited ${r.code}`;
  const detail = r.stderr.trim().split('\n').slice(-3).join(' / ');
  return `${what} ${how}${detail ? `: ${detail}` : ''}`;
}

/** A value quoted for bash (single quotes; plain words as they are). */
export function bashQuote(value: string): string {
  if (value !== '' && /^[A-Za-z0-9_@%+=:,./-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** A command line for people to read or paste into bash. */
export function bashLine(argv: readonly string[]): string {
  return argv.map(bashQuote).join(' ');
}
