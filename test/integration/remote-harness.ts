/**
 * A three-host deployment in network namespaces for the remote tests:
 * instrument (meow forward), bus (nats-server) and engine (meow run), made by
 * scripts/netns.sh and scripts/start-nats.sh; processes are killed by pid and
 * everything is removed by `down()`.
 */
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MEOW, REPO, waitFor } from '../helpers/workspace.js';
import { track } from '../helpers/resources.js';

export const ENGINE_PASSWORD = 'engine-secret-7f3a9c';
export const INSTRUMENT_PASSWORD = 'instrument-secret-2b81d4';
export const BUS_FOR_ENGINE = 'nats://10.231.2.1:4222';
export const BUS_FOR_INSTRUMENT = 'nats://10.231.1.1:4222';

/** What the remote tests need, or why they cannot run here. */
export function missing(): string | null {
  if (process.getuid?.() !== 0) return 'network namespaces need root';
  for (const tool of ['ip', 'nats-server', 'rsync']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
    } catch {
      return `${tool} is not installed (apt-get install iproute2 nats-server rsync)`;
    }
  }
  return null;
}

/** A process in a namespace, killed with SIGKILL by the harness if still alive. */
export interface NsProcess {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
  kill(signal?: NodeJS.Signals): Promise<void>;
}

export class Deployment {
  readonly name = `mw${(process.pid % 100000).toString(36)}${Math.floor(Math.random() * 36).toString(36)}`;
  root = '';
  ws = '';
  instrument = '';
  outbox = '';
  natsDir = '';
  private procs = new Set<NsProcess>();
  private untrack: () => void = () => undefined;

  ns(host: 'inst' | 'bus' | 'eng'): string {
    return `${this.name}-${host}`;
  }

  async up(meowYaml: string, patterns: Record<string, string>, recipes: Record<string, string>): Promise<void> {
    this.root = await mkdtemp(join(tmpdir(), 'meow-remote-'));
    this.untrack = track(this, `deployment ${this.name}`, () => this.down());
    this.ws = join(this.root, 'ws');
    this.instrument = join(this.root, 'instrument');
    this.outbox = join(this.root, 'outbox.db');
    this.natsDir = join(this.root, 'nats');
    await mkdir(join(this.ws, 'patterns'), { recursive: true });
    await mkdir(join(this.ws, 'recipes'), { recursive: true });
    await mkdir(this.instrument, { recursive: true });
    await writeFile(join(this.ws, 'meow.yaml'), meowYaml);
    for (const [f, t] of Object.entries(patterns)) await writeFile(join(this.ws, 'patterns', f), t);
    for (const [f, t] of Object.entries(recipes)) await writeFile(join(this.ws, 'recipes', f), t);
    await run('bash', [join(REPO, 'scripts/netns.sh'), 'up', this.name]);
    await this.startBus();
  }

  async startBus(): Promise<void> {
    await run('bash', [join(REPO, 'scripts/start-nats.sh'), 'start', this.natsDir, '0.0.0.0:4222'], { NETNS: this.ns('bus'), ...secrets() });
  }

  /** Kills the bus outright (SIGKILL); its JetStream store stays on disk. */
  async killBus(): Promise<void> {
    const pid = Number.parseInt(await run('cat', [join(this.natsDir, 'nats.pid')]), 10);
    process.kill(pid, 'SIGKILL');
    await waitFor(() => {
      try {
        process.kill(pid, 0);
        return false;
      } catch {
        return true;
      }
    }, 'the bus to die', 30_000, 50);
  }

  async stopBus(): Promise<void> {
    await run('bash', [join(REPO, 'scripts/start-nats.sh'), 'stop', this.natsDir]);
  }

  cut(host: 'inst' | 'eng'): Promise<void> {
    return run('bash', [join(REPO, 'scripts/netns.sh'), 'cut', this.name, host]).then(() => undefined);
  }

  restore(host: 'inst' | 'eng'): Promise<void> {
    return run('bash', [join(REPO, 'scripts/netns.sh'), 'restore', this.name, host]).then(() => undefined);
  }

  /** `meow ARGS` inside a namespace, in the background. */
  spawn(host: 'inst' | 'eng', args: string[], env: Record<string, string> = {}): NsProcess {
    const child = spawn('ip', ['netns', 'exec', this.ns(host), process.execPath, MEOW, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
    let out = '';
    child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const p: NsProcess = {
      child,
      output: () => out,
      exited,
      kill: async (signal = 'SIGKILL') => {
        if (child.exitCode === null && child.signalCode === null) child.kill(signal);
        await exited;
        this.procs.delete(p);
      },
    };
    this.procs.add(p);
    return p;
  }

  /** The engine, live, in the engine namespace; resolves once its socket answers. */
  async engine(): Promise<NsProcess> {
    const p = this.spawn('eng', ['run', '--no-tui', '-w', this.ws], { MEOW_NATS_ENGINE_PASSWORD: ENGINE_PASSWORD });
    try {
      await waitFor(async () => {
        if (p.child.exitCode !== null) throw new Error(`engine exited ${p.child.exitCode}: ${p.output()}`);
        return existsSync(join(this.ws, '.meow', 'engine.sock')) && p.output().includes('connected to the bus');
      }, 'the engine and its source', 120_000, 50);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nengine output:\n${p.output().slice(-4000)}`);
    }
    return p;
  }

  /** `meow forward` in the instrument namespace. */
  forwarder(extra: string[] = []): NsProcess {
    return this.spawn('inst', ['forward', this.instrument, '--to', this.ws, '--as', 'incoming', '--state', this.outbox, '--server', BUS_FOR_INSTRUMENT, '--user', 'instrument', '--password-env', 'MEOW_NATS_INSTRUMENT_PASSWORD', '--host', 'instrument-host', '--settle', '50ms', ...extra], {
      MEOW_NATS_INSTRUMENT_PASSWORD: INSTRUMENT_PASSWORD,
    });
  }

  async down(): Promise<void> {
    this.untrack();
    for (const p of [...this.procs]) await p.kill('SIGKILL');
    if (this.natsDir) await this.stopBus().catch(() => undefined);
    await run('bash', [join(REPO, 'scripts/netns.sh'), 'down', this.name]).catch(() => undefined);
    if (this.root) await rm(this.root, { recursive: true, force: true });
  }
}

function secrets(): Record<string, string> {
  return { MEOW_NATS_ENGINE_PASSWORD: ENGINE_PASSWORD, MEOW_NATS_INSTRUMENT_PASSWORD: INSTRUMENT_PASSWORD };
}

/** Runs a command to its end; rejects with its output when it fails. */
export function run(file: string, args: string[], env: Record<string, string> = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { env: { ...process.env, ...env }, timeout: 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}
