/**
 * Runs the command-line tools of the remote backends (sbatch, squeue, ssh,
 * rsync, …) as argv arrays, and quotes values for the few places where text
 * is read by bash.
 *
 * Starting, buffering, timing out and killing are execa's: a tool that does
 * not answer in time (or whose caller aborts) gets SIGTERM, then SIGKILL
 * after a grace period; output past a limit stops the tool instead of
 * filling memory. What stays here is the project's view of the result: a
 * `CommandResult` that never rejects, and one line saying why a run failed.
 */
import { execa } from 'execa';

/** How a tool run ended. `spawnError` is set when it could not start at all. */
export interface CommandResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  spawnError: string | null;
  timedOut: boolean;
  /** The caller's `signal` aborted the run (the tool was stopped). */
  cancelled: boolean;
  /** The tool printed more than `maxBuffer` bytes on stdout or stderr and was stopped. */
  outputLimited: boolean;
}

/** Options of {@link runCommand}. */
export interface CommandOptions {
  /** Written to the tool's stdin (then closed). */
  input?: string | Buffer;
  /** Stopped (SIGTERM, then SIGKILL after `killGraceMs`) after this long. @default 120000 */
  timeoutMs?: number;
  /** Stops the tool the same way when aborted. */
  signal?: AbortSignal;
  /** How long a tool asked to stop (SIGTERM) has before SIGKILL. @default 5000 */
  killGraceMs?: number;
  /** Most bytes kept of stdout and of stderr; past it the tool is stopped. @default 64 MiB */
  maxBuffer?: number;
  /** Replaces the environment. @default process.env */
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Default of {@link CommandOptions.maxBuffer}: far above any squeue/sacct listing, far below memory trouble. */
export const COMMAND_MAX_BUFFER = 64 * 1024 * 1024;

/** Runs a program to its end and collects its output; never rejects. */
export async function runCommand(file: string, args: readonly string[], options: CommandOptions = {}): Promise<CommandResult> {
  const r = await execa(file, args, {
    input: options.input ?? '',
    env: options.env ?? process.env,
    extendEnv: false,
    cwd: options.cwd,
    timeout: options.timeoutMs ?? 120_000,
    cancelSignal: options.signal,
    killSignal: 'SIGTERM',
    forceKillAfterDelay: options.killGraceMs ?? 5000,
    maxBuffer: options.maxBuffer ?? COMMAND_MAX_BUFFER,
    stripFinalNewline: false,
    reject: false,
  });
  const started = r.exitCode !== undefined || r.signal !== undefined;
  let spawnError: string | null = null;
  if (!started && !r.timedOut && !r.isCanceled) {
    const code = (r as { code?: string }).code ?? (r.cause as NodeJS.ErrnoException | undefined)?.code;
    spawnError = code === 'ENOENT' ? `${file}: command not found` : `${file}: ${(r.cause as Error | undefined)?.message ?? r.shortMessage}`;
  }
  return {
    code: r.exitCode ?? null,
    signal: (r.signal as NodeJS.Signals | undefined) ?? null,
    stdout: typeof r.stdout === 'string' ? r.stdout : '',
    stderr: typeof r.stderr === 'string' ? r.stderr : '',
    spawnError,
    timedOut: r.timedOut,
    cancelled: r.isCanceled,
    outputLimited: r.isMaxBuffer,
  };
}

/** One line saying why a tool run failed, for error messages. */
export function commandFailure(file: string, args: readonly string[], r: CommandResult): string {
  if (r.spawnError) return r.spawnError;
  const what = `${file} ${args.slice(0, 3).join(' ')}${args.length > 3 ? ' …' : ''}`;
  const how = r.timedOut
    ? 'did not answer in time'
    : r.cancelled
      ? 'was stopped (cancelled)'
      : r.outputLimited
        ? 'printed more output than is kept and was stopped'
        : r.code === null
          ? `was killed by ${r.signal ?? 'a signal'}` : `exited ${r.code}`;
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
