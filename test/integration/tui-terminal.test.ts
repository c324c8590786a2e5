import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { schemaModeline } from '../../src/cli/json-schema.js';
import { requireComponent } from '../helpers/components.js';
import { track } from '../helpers/resources.js';
import { MEOW, meow, meowJson, startEngineProcess, tempWorkspace, waitFor, type EngineProcess, type TempWorkspace } from '../helpers/workspace.js';

// `meow tui` in a real terminal: tmux gives it a pty of 80×24; keys go in
// with send-keys and the screen comes back with capture-pane.

const tmux = requireComponent('tmux', () => (spawnSync('tmux', ['-V']).status === 0 ? null : 'tmux is not installed (apt-get install tmux)'));

interface JobRow {
  id: string;
  pattern: string;
  status: string;
  input: string;
}

/** A tmux server of its own, holding one session that runs a command. */
class Terminal {
  private readonly socket = `meow-test-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
  private readonly untrack: () => void;

  constructor(command: string, columns = 80, rows = 24) {
    this.untrack = track(this, `tmux server ${this.socket}`, () => this.kill());
    this.tmux('new-session', '-d', '-s', 'tui', '-x', String(columns), '-y', String(rows), command);
  }

  private tmux(...args: string[]): string {
    const r = spawnSync('tmux', ['-L', this.socket, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
    return r.stdout;
  }

  screen(): string {
    return this.tmux('capture-pane', '-p', '-t', 'tui');
  }

  /** Named keys (Enter, Escape, Tab, Down…) or single characters, one at a time. */
  keys(...keys: string[]): void {
    for (const k of keys) this.tmux('send-keys', '-t', 'tui', k);
  }

  /** Literal text, as if typed. */
  type(text: string): void {
    this.tmux('send-keys', '-t', 'tui', '-l', text);
  }

  resize(columns: number, rows: number): void {
    this.tmux('resize-window', '-t', 'tui', '-x', String(columns), '-y', String(rows));
  }

  until(test: (screen: string) => boolean, what: string, timeoutMs = 15_000): Promise<string> {
    return waitFor(() => (test(this.screen()) ? this.screen() : null), `${what}; the screen was:\n${this.screenOrGone()}`, timeoutMs, 50);
  }

  private screenOrGone(): string {
    try {
      return this.screen();
    } catch (err) {
      return String(err);
    }
  }

  kill(): void {
    this.untrack();
    spawnSync('tmux', ['-L', this.socket, 'kill-server']);
  }
}

const shellQuote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('meow tui in a real terminal', () => {
  let ws: TempWorkspace;
  let engine: EngineProcess | null = null;
  let term: Terminal | null = null;
  afterEach(async () => {
    term?.kill();
    term = null;
    await engine?.stop();
    engine = null;
    await ws?.cleanup();
  });

  it('refuses to attach when no engine runs, and needs a terminal', async () => {
    ws = await tempWorkspace();
    const none = await meow(['tui', '-w', ws.root]);
    expect(none.code).toBe(1);
    expect(none.stderr).toContain('no engine is running');
    expect(none.stderr).toContain('meow run');
    engine = await startEngineProcess(ws.root);
    const piped = await meow(['tui', '-w', ws.root]);
    expect(piped.code).toBe(2);
    expect(piped.stderr).toContain('needs a terminal');
  });

  it('meow run with stdout not on a terminal prints plain log lines', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/hello.sh', 'echo hello\n');
    await ws.write('patterns/greet.yaml', 'recipe: hello\ntrigger: {paths: "data/*.txt"}\n');
    await ws.write('data/a.txt', 'a');
    const child = spawn(process.execPath, [MEOW, 'run', '-w', ws.root], { stdio: ['ignore', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
    const untrack = track(child, 'meow run', async () => {
      child.kill('SIGKILL');
      await exited;
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(() => /succeeded j-\S+ greet data\/a\.txt/.test(out), 'a plain log line for the job');
    expect(out).not.toContain('\x1b[');
    child.kill('SIGINT');
    expect(await exited).toBe(0);
    untrack();
  });

  tmux.it('switches views, creates a pattern through the form, confirms its plan, watches its jobs succeed, cancels a running job, follows a resize, quits', async () => {
    ws = await tempWorkspace();
    await ws.write('meow.yaml', 'cpus: 2\n');
    await ws.write('recipes/hello.sh', 'echo "hello $(basename "$input_file")"\n');
    await ws.write('recipes/slow.sh', 'echo started\nsleep 60\n');
    await ws.write('patterns/hold.yaml', 'recipe: slow\ntrigger: {paths: "data/*.hold"}\n');
    for (const f of ['a.csv', 'b.csv', 'c.csv', 'long.hold']) await ws.write(`data/${f}`, f);
    engine = await startEngineProcess(ws.root);
    await waitFor(async () => (await meowJson<JobRow[]>(['jobs', '--status', 'running', '-w', ws.root])).length === 1, 'the long job to run');

    term = new Terminal(`${shellQuote(process.execPath)} ${shellQuote(MEOW)} tui -w ${shellQuote(ws.root)}; echo "meow tui exited $?"; sleep 60`);
    const t = term;
    const overview = await t.until((s) => s.includes('Running (1)') && s.includes('data/long.hold'), 'the overview');
    expect(overview).toMatch(/queued 0 +running 1 +succeeded 0 +failed 0 +cancelled 0/);
    expect(overview).toMatch(/hold +data\/long\.hold +\d:\d\d +local/);
    const lines = overview.split('\n');
    for (const l of lines) expect(l.length).toBeLessThanOrEqual(80);

    t.keys('2');
    await t.until((s) => /hold +linked +slow +data\/\*\.hold/.test(s), 'the patterns view');
    t.keys('3');
    await t.until((s) => /hello +bash +recipes\/hello\.sh +no pattern/.test(s), 'the recipes view');
    t.keys('4');
    await t.until((s) => /hold +running +data\/long\.hold/.test(s), 'the jobs view');
    t.keys('5');
    await t.until((s) => s.includes('following'), 'the events view');
    t.keys('?');
    await t.until((s) => s.includes('Keys — any key closes this help'), 'the help');
    t.keys('Escape');
    await t.until((s) => s.includes('following'), 'help to close');

    // A new pattern through the form: match preview, validation, plan, confirm.
    t.keys('2');
    await t.until((s) => s.includes('[n] new'), 'the patterns view again');
    t.keys('n');
    await t.until((s) => s.includes('New pattern'), 'the form');
    t.type('tally');
    await t.until((s) => s.includes('New pattern → patterns/tally.yaml'), 'the name');
    t.keys('Enter');
    await t.until((s) => /› recipe +‹ hello ›/.test(s), 'the recipe picker');
    t.keys('Enter');
    t.type('data/*.csv');
    const preview = await t.until((s) => s.includes('3 existing files match') && s.includes('✓ valid: this edit triggers 3 jobs'), 'the match preview and the validation');
    expect(preview).toContain('data/a.csv');
    expect(existsSync(ws.path('patterns/tally.yaml'))).toBe(false);
    t.keys('Down', 'Down', 'Down', 'Down', 'Down');
    await t.until((s) => s.includes('› ▶ review the plan and apply'), 'the review row');
    t.keys('Enter');
    await t.until((s) => s.includes('Apply patterns/tally.yaml?') && s.includes('This edit triggers 3 jobs and cancels 0 queued or running.'), 'the plan');
    t.keys('y');
    await t.until((s) => s.includes('applied patterns/tally.yaml: 3 jobs triggered'), 'the applied message');
    expect(await readFile(ws.path('patterns/tally.yaml'), 'utf8')).toBe(`${schemaModeline('pattern')}recipe: hello\ntrigger:\n  paths: data/*.csv\n`);
    await waitFor(async () => (await meowJson<JobRow[]>(['jobs', '--pattern', 'tally', '--status', 'succeeded', '-w', ws.root])).length === 3, 'the three tally jobs');
    await t.until((s) => /tally +linked +hello +data\/\*\.csv +0 +0 +3 +0 +0/.test(s), 'the pattern table counting them');

    // Watch them in the Jobs view, then cancel the long-running job there.
    t.keys('4');
    const jobs = await t.until((s) => (s.match(/tally +succeeded +data\/[abc]\.csv/g) ?? []).length === 3, 'the tally jobs, succeeded');
    expect(jobs).toContain('1–4 of 4');
    t.keys('s', 's');
    await t.until((s) => s.includes('state running') && s.includes('1–1 of 1'), 'the running filter');
    t.keys('Enter');
    await t.until((s) => s.includes('hold ← data/long.hold') && s.includes('started'), 'the detail pane with its stdout');
    t.keys('c');
    await t.until((s) => /Cancel j-\S+ \(hold ← data\/long\.hold, running\)\? \[y\] yes {2}\[n\] no/.test(s), 'the question');
    t.keys('y');
    await t.until((s) => /hold ← data\/long\.hold +cancelled/.test(s), 'the job to show as cancelled');
    const cancelled = await meowJson<JobRow[]>(['jobs', '--status', 'cancelled', '-w', ws.root]);
    expect(cancelled.map((j) => j.input)).toEqual(['data/long.hold']);
    t.keys('Escape');
    await t.until((s) => s.includes('state running') && s.includes('no jobs match'), 'the list without it');

    // Follow a resize, then quit.
    t.keys('1');
    t.resize(100, 30);
    await t.until((s) => s.split('\n')[0].trimEnd().length > 90, 'the wider screen');
    t.resize(80, 24);
    await t.until((s) => s.split('\n').every((l) => l.length <= 80) && s.includes('Running (0)'), 'back to 80 columns');
    t.keys('q');
    await t.until((s) => s.includes('meow tui exited 0'), 'meow tui to exit 0');
  });

  tmux.it('Jobs: the selection stays on its job when a new job pushes the list down, and c asks before cancelling (no cancels nothing)', async () => {
    ws = await tempWorkspace();
    await ws.write('meow.yaml', 'cpus: 2\n');
    await ws.write('recipes/hello.sh', 'echo "hello $(basename "$input_file")"\n');
    await ws.write('recipes/slow.sh', 'echo started\nsleep 60\n');
    await ws.write('patterns/greet.yaml', 'recipe: hello\ntrigger: {paths: "data/*.txt"}\n');
    await ws.write('patterns/hold.yaml', 'recipe: slow\ntrigger: {paths: "data/*.hold"}\n');
    for (const f of ['a.txt', 'b.txt', 'long.hold']) await ws.write(`data/${f}`, f);
    engine = await startEngineProcess(ws.root);
    await waitFor(async () => {
      const jobs = await meowJson<JobRow[]>(['jobs', '-w', ws.root]);
      return jobs.filter((j) => j.status === 'succeeded').length === 2 && jobs.some((j) => j.status === 'running');
    }, 'two jobs done and the long one running');

    term = new Terminal(`${shellQuote(process.execPath)} ${shellQuote(MEOW)} tui -w ${shellQuote(ws.root)}; echo "meow tui exited $?"; sleep 60`);
    const t = term;
    t.keys('4');
    await t.until((s) => s.includes('1–3 of 3'), 'the jobs view');
    const selectedLine = (s: string) => s.split('\n').find((l) => l.startsWith('›')) ?? '';
    // Select the long-running job, wherever it is in the list.
    for (let i = 0; i < 3 && !selectedLine(t.screen()).includes('data/long.hold'); i++) {
      const before = selectedLine(t.screen());
      t.keys('j');
      await t.until((s) => selectedLine(s) !== before, 'the selection to move');
    }
    expect(selectedLine(t.screen())).toMatch(/hold +running +data\/long\.hold/);
    const row = t.screen().split('\n').findIndex((l) => l.startsWith('›'));

    // A new job arrives at the top and pushes the list down: the selection stays on the same job.
    await writeFile(ws.path('data/c.txt'), 'c');
    const pushed = await t.until((s) => s.includes('1–4 of 4') && s.includes('data/c.txt'), 'the new job in the list');
    expect(selectedLine(pushed)).toMatch(/hold +running +data\/long\.hold/);
    expect(pushed.split('\n').findIndex((l) => l.startsWith('›'))).toBe(row + 1);
    t.keys('Enter');
    await t.until((s) => /hold ← data\/long\.hold +running/.test(s) && s.includes('started'), 'the detail of the same job');

    // c asks, naming the job; n cancels nothing.
    t.keys('c');
    await t.until((s) => /Cancel j-\S+ \(hold ← data\/long\.hold, running\)\? \[y\] yes {2}\[n\] no/.test(s), 'the question');
    t.keys('n');
    await t.until((s) => s.includes('not cancelled') && !s.includes('[y] yes'), 'the answer no');
    const jobs = await meowJson<JobRow[]>(['jobs', '-w', ws.root]);
    expect(jobs.filter((j) => j.status === 'cancelled')).toEqual([]);
    expect(jobs.find((j) => j.input === 'data/long.hold')?.status).toBe('running');
    // Esc answers no as well; the list is back with the same job selected.
    t.keys('c');
    await t.until((s) => s.includes('[y] yes  [n] no'), 'the question again');
    t.keys('Escape');
    await t.until((s) => !s.includes('[y] yes') && /hold ← data\/long\.hold +running/.test(s), 'no again, with Esc');
    t.keys('Escape');
    await t.until((s) => /hold +running +data\/long\.hold/.test(selectedLine(s)), 'the list, the same job selected');
    expect((await meowJson<JobRow[]>(['jobs', '--status', 'cancelled', '-w', ws.root])).length).toBe(0);
    t.keys('q');
    await t.until((s) => s.includes('meow tui exited 0'), 'meow tui to exit 0');
    // A stopping engine lets running jobs finish: cancel the long one so the stop is quick.
    const long = (await meowJson<JobRow[]>(['jobs', '-w', ws.root])).find((j) => j.input === 'data/long.hold');
    expect((await meow(['job', 'cancel', long?.id ?? '', '-w', ws.root])).code).toBe(0);
  });
});
