/*
 * `meow run --until-idle` on a terminal shows a progress line (files, jobs
 * done of all, rate, time left) redrawn in place on stderr, and clears it;
 * into a pipe it writes none. The terminal is a real pseudo-terminal (script(1)).
 */
import { execFile, spawnSync } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import { progressText } from '../../src/cli/progress-line.js';
import { requireComponent } from '../helpers/components.js';
import { scaled } from '../helpers/pace.js';
import { MEOW, meow, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';

const ESC = '\x1b';
const CLEAR = `\r${ESC}[2K`;
const script = requireComponent('script(1) from util-linux', () => (spawnSync('script', ['--version']).status === 0 ? null : 'install util-linux (script)'));

/** What a terminal shows at the end: each line as left after its last carriage return. */
function screen(raw: string): string[] {
  return raw
    .replace(/\r\n/g, '\n')
    .split('\n')
    .map((l) => l.slice(l.lastIndexOf('\r') + 1).split(`${ESC}[2K`).join(''));
}

async function workload(ws: TempWorkspace): Promise<void> {
  await ws.write('recipes/count.sh', 'wc -c < "$input_file"\n');
  await ws.write('patterns/count.yaml', 'recipe: count\ntrigger: {paths: "data/*.txt"}\n');
  for (let i = 0; i < 6; i++) await ws.write(`data/f${i}.txt`, `${i}\n`);
}

describe('the progress line of meow run --until-idle', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('says files, jobs done of all, the rate and the time left', () => {
    expect(progressText({ files: 1204, done: 0, total: 200, elapsedMs: 0 })).toBe('files 1,204 · jobs 0 of 200 done');
    expect(progressText({ files: 1204, done: 50, total: 200, elapsedMs: 10_000 })).toBe('files 1,204 · jobs 50 of 200 done · 5.0 jobs/s · about 30.0s left');
    expect(progressText({ files: 3, done: 200, total: 200, elapsedMs: 10_000 })).toBe('files 3 · jobs 200 of 200 done · 20 jobs/s');
  });

  script.it('draws it in place on a terminal and leaves nothing of it on the screen', async () => {
    ws = await tempWorkspace();
    await workload(ws);
    const command = `'${process.execPath}' '${MEOW}' run --until-idle -w '${ws.root}'`;
    const raw = await new Promise<string>((resolve, reject) => {
      execFile('script', ['-q', '-e', '-c', command, '/dev/null'], { env: { ...process.env, TERM: 'xterm' }, timeout: scaled(120_000), maxBuffer: 16 * 1024 * 1024 }, (err, stdout) =>
        err ? reject(new Error(`${err.message}\n${stdout}`)) : resolve(stdout),
      );
    });
    expect(raw).toContain(`${CLEAR}files `);
    expect(raw).toMatch(/jobs \d+ of \d+ done/);
    const shown = screen(raw);
    expect(shown.filter((l) => /jobs \d+ of \d+ done/.test(l))).toEqual([]);
    expect(shown.some((l) => l.startsWith('idle: 6 succeeded'))).toBe(true);
    expect(shown.filter((l) => /succeeded +j-/.test(l))).toHaveLength(6);
  }, scaled(150_000));

  it('writes none into a pipe', async () => {
    ws = await tempWorkspace();
    await workload(ws);
    const r = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(r.code, r.stderr).toBe(0);
    const all = `${r.stdout}${r.stderr}`;
    expect(all.includes(ESC) || all.includes('\r')).toBe(false);
    expect(all).not.toMatch(/jobs \d+ of \d+ done/);
    expect(r.stdout).toContain('idle: 6 succeeded');
  });
});
