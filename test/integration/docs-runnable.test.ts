import { spawnSync } from 'node:child_process';
import { chmodSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { runnableBlocks } from '../helpers/runnable-blocks.js';
import { MEOW, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';
import { scaled } from '../helpers/pace.js';

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
