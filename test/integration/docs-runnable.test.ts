import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MEOW, REPO, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';
import { scaled } from '../helpers/pace.js';

/** Shell blocks marked `<!-- runnable -->` in the README and docs/: each is executed, so the docs cannot rot. */
function runnableBlocks(): { file: string; line: number; code: string }[] {
  const files = ['README.md', ...readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];
  const out: { file: string; line: number; code: string }[] = [];
  for (const file of files) {
    const lines = readFileSync(join(REPO, file), 'utf8').split('\n');
    lines.forEach((l, i) => {
      if (l.trim() !== '<!-- runnable -->') return;
      const fence = lines[i + 1] ?? '';
      if (!/^```(sh|bash)\s*$/.test(fence)) throw new Error(`${file}:${i + 1}: <!-- runnable --> must stand right before a \`\`\`sh block`);
      const end = lines.indexOf('```', i + 2);
      out.push({ file, line: i + 1, code: lines.slice(i + 2, end).join('\n') });
    });
  }
  return out;
}

const BLOCKS = runnableBlocks();

describe('runnable examples in the docs', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('has some', () => expect(BLOCKS.length).toBeGreaterThan(0));

  it.each(BLOCKS.map((b) => [`${b.file}:${b.line}`, b] as const))('%s runs', async (_where, block) => {
    ws = await tempWorkspace('meow-docs-');
    // `meow` and `npx meow` are this checkout's CLI.
    const shim = ws.path('bin/meow');
    await ws.write('bin/meow', `#!/bin/sh\nexec "${process.execPath}" "${MEOW}" "$@"\n`);
    chmodSync(shim, 0o755);
    const script = ws.path('bin/block.sh');
    writeFileSync(script, `set -euo pipefail\ncd "${ws.path('')}"\n${block.code.replace(/\bnpx meow\b/g, 'meow')}\n`);
    const r = spawnSync('bash', [script], { env: { ...process.env, PATH: `${ws.path('bin')}:${process.env.PATH}` }, encoding: 'utf8', timeout: 180_000 });
    expect(r.status, `${block.file}:${block.line}\n${r.stdout}\n${r.stderr}`).toBe(0);
  }, scaled(200_000));
});
