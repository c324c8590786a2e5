import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { errorCode, errorMessage } from '../core/errors.js';
import { JOB_STATES } from '../core/types.js';
import { packageVersion } from '../core/package-root.js';
import { initCommand } from './init.js';
import { jobCommand } from './job.js';
import { jobsCommand } from './jobs.js';
import { patternsCommand, recipesCommand } from './definitions.js';
import { planCommand } from './plan.js';
import { runCommand } from './run.js';
import { statusCommand } from './status.js';
import { validateCommand } from './validate.js';
import { demoCommand } from './demo.js';
import { graphCommand } from './graph.js';
import { traceCommand } from './trace.js';
import { reportCommand } from './report.js';
import { tuiCommand } from './tui.js';
import { forwardCommand } from './forward.js';

/** A flag value that must be a whole number ≥ 1; anything else is exit 2 with the reason. */
function positiveInt(value: string): number {
  if (!/^\s*\d+\s*$/.test(value) || Number(value) < 1) {
    throw new InvalidArgumentError(`expected a whole number of at least 1, got "${value}"`);
  }
  return Number(value);
}

/** Exit codes: 0 success; 1 a job or an operation failed; 2 bad usage or invalid definitions. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

function program(setCode: (code: number) => void): Command {
  const act =
    <A extends unknown[]>(fn: (...args: A) => Promise<number>) =>
    async (...args: A) => setCode(await fn(...args));
  const cmd = new Command('meow')
    .description('meowflow: event-driven scientific workflows — file patterns trigger recipes')
    .version(packageVersion(), '-V, --version', 'print the meowflow version')
    .option('-w, --workspace <dir>', 'the workspace (default: the current directory)')
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  const global = () => cmd.opts<{ workspace?: string }>();

  cmd
    .command('init [dir]')
    .description('scaffold a workspace with a working example (never overwrites a file)')
    .option('--keep-existing', 'write only the files that do not exist yet')
    .action(act(async (dir: string | undefined, o: { keepExisting?: boolean }) => initCommand(dir ?? global().workspace ?? '.', { keepExisting: o.keepExisting })));
  cmd
    .command('run')
    .description('run the engine (the TUI on a terminal, logs otherwise)')
    .option('--until-idle', 'process existing files and every cascade, then exit')
    .option('--no-tui', 'plain logs, no terminal UI')
    .option('--cancel-running', 'on shutdown, cancel running jobs instead of letting them finish')
    .option('--json', 'log engine events as JSON lines')
    .option('--rebuild-state', 'rebuild a missing or empty .meow/state.db from the job records in .meow/jobs (inputs already processed do not run again)')
    .action(act(async (o) => runCommand(global(), o)));
  cmd
    .command('status')
    .description('engine state and counts of current jobs')
    .option('--all', 'count superseded jobs too')
    .option('--json')
    .action(act(async (o) => statusCommand(global(), o)));
  cmd.command('patterns').description('patterns, linked or waiting').option('--json').action(act(async (o) => patternsCommand(global(), o)));
  cmd.command('recipes').description('recipes').option('--json').action(act(async (o) => recipesCommand(global(), o)));
  cmd
    .command('jobs')
    .description('jobs, newest last')
    .addOption(new Option('--status <state>', 'only jobs in this state').choices([...JOB_STATES]))
    .option('--pattern <name>', 'only jobs of this pattern')
    .option('--limit <n>', 'only the newest N', positiveInt)
    .option('--all', 'also superseded jobs (a later success, rule or input version replaced them)')
    .option('--json')
    .action(act(async (o) => jobsCommand(global(), o)));
  const job = cmd.command('job').description('one job: show, logs, cancel, retry');
  job.command('show <id>').option('--json').action(act(async (id: string, o) => jobCommand(global(), 'show', id, o)));
  job
    .command('logs <id>')
    .addOption(new Option('--stream <name>', 'only one stream').choices(['stdout', 'stderr']))
    .action(act(async (id: string, o) => jobCommand(global(), 'logs', id, o)));
  job.command('cancel <id>').option('--json').action(act(async (id: string, o) => jobCommand(global(), 'cancel', id, o)));
  job.command('retry <id>').option('--json').action(act(async (id: string, o) => jobCommand(global(), 'retry', id, o)));
  cmd
    .command('trace <path>')
    .description('the lineage of a file: the jobs and inputs it came from (or, with --forward, what came from it)')
    .option('--forward', 'everything derived from the file')
    .option('--json')
    .action(act(async (path: string, o) => traceCommand(global(), path, o)));
  cmd
    .command('report [path]')
    .description('provenance of a file (or the whole workspace) as W3C PROV-JSON and an RO-Crate (Workflow Run Crate)')
    .option('--out <dir>', 'where to write prov.json and ro-crate-metadata.json (default: .meow/report)')
    .action(act(async (path: string | undefined, o) => reportCommand(global(), path, o)));
  cmd
    .command('graph')
    .description('the workflow that emerges from the definitions')
    .addOption(new Option('--format <format>', 'output format').choices(['text', 'mermaid', 'dot']).default('text'))
    .option('--runs', 'overlay job counts by state')
    .action(act(async (o) => graphCommand(global(), o)));
  cmd.command('plan').description('what the definitions on disk would trigger and cancel').option('--json').action(act(async (o) => planCommand(global(), o)));
  cmd.command('validate').description('check definitions; exit 2 on any error').option('--json').action(act(async (o) => validateCommand(global(), o)));
  cmd.command('tui').description('attach the terminal UI to the running engine').action(act(async () => tuiCommand(global())));
  const many = (v: string, prev: string[] = []) => [...prev, v];
  cmd
    .command('forward <dir>')
    .description('forward settled files from an instrument host into a workspace and announce them on the bus (docs/remote.md)')
    .option('--to <workspace>', "the engine's workspace: a path, or [user@]host:/path (rsync over ssh)")
    .option('--as <subdir>', 'the workspace subdirectory files land in (not with a shared filesystem)')
    .option('--status', 'print the outbox: backlog, sent, last error')
    .option('--json')
    .option('--state <file>', 'the outbox database (default: under ~/.local/state/meowflow)')
    .option('--server <url>', 'a NATS server URL (repeatable; default nats://127.0.0.1:4222)', many)
    .option('--stream <name>', 'the JetStream stream (default MEOW)')
    .option('--subject <prefix>', 'the subject prefix (default meow.files)')
    .option('--user <name>', 'bus user')
    .option('--password-env <var>', 'environment variable holding the bus password')
    .option('--password-file <file>', 'file holding the bus password')
    .option('--nkey-seed-file <file>', 'NKey seed file')
    .option('--creds-file <file>', 'NATS credentials file')
    .option('--tls-ca <file>', 'CA certificate the bus server must chain to')
    .option('--host <name>', 'origin host named in events (default: this host)')
    .option('--settle <duration>', 'quiet time before a file counts as written (default 250ms)')
    .option('--ignore <glob>', 'never forward these (repeatable)', many)
    .option('--sha256', "announce each file's SHA-256 (the engine checks it)")
    .option('--poll', 'poll instead of inotify')
    .option('--ssh-port <port>', 'ssh port for --to host:/path')
    .option('--identity <file>', 'ssh private key for --to host:/path')
    .option('--ssh-option <opt>', 'an ssh -o option for --to host:/path, e.g. UserKnownHostsFile=… (repeatable)', many)
    .action(act(async (dir: string, o) => forwardCommand(dir, o)));
  cmd.command('demo').description('run the flagship example in a fresh temporary workspace').option('--keep', 'keep the workspace').action(act(async (o) => demoCommand(o)));
  return cmd;
}

/** The command tree with every command and flag, not run: what the docs' flags are checked against. */
export function commandDefinitions(): Command {
  return program(() => undefined);
}

/**
 * A reader that went away (`meow run --until-idle | head -1`) is no reason
 * to stop: what the command does goes on, and its further output is dropped.
 */
function toleratePipeClosed(stream: NodeJS.WriteStream): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE' && err.code !== 'ERR_STREAM_DESTROYED') throw err;
  });
}

/** Runs the CLI; resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  toleratePipeClosed(process.stdout);
  toleratePipeClosed(process.stderr);
  let code: number = EXIT.ok;
  const cmd = program((c) => (code = c));
  const override = (c: Command): void => {
    c.exitOverride();
    for (const sub of c.commands) override(sub);
  };
  override(cmd);
  try {
    await cmd.parseAsync(argv);
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.version') return EXIT.ok;
      // 'commander.help' is help asked for (`meow help`, exit code 0) or shown for a missing command (`meow`, `meow job`).
      if (err.code === 'commander.help') return err.exitCode === 0 ? EXIT.ok : EXIT.usage;
      return EXIT.usage;
    }
    process.stderr.write(`meow: ${errorMessage(err)}\n`);
    return errorCode(err) === 'MEOW_USAGE' ? EXIT.usage : EXIT.failed;
  }
}
