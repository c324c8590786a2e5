/**
 * The benchmark's peers (bench/lib/peers.ts) for real: a private Watchman
 * daemon with a trigger, and inotifywait piped into the spawner. Each runs
 * the recipe once per file written, says when it is idle, counts failures,
 * and leaves nothing running once closed (the setup file checks for leaked
 * processes).
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect } from 'vitest';
import { peerMissing, peerThroughput, readStamp, startPeer, stampRecipe, wallNow, type PeerName } from '../../bench/lib/peers.js';
import { writeFiles } from '../../bench/lib/workspace.js';
import { requireComponent } from '../helpers/components.js';
import { scaled } from '../helpers/pace.js';

let tmp = '';
afterEach(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true, maxRetries: 5 });
  tmp = '';
});

async function setup(recipeText: (stamps: string) => string): Promise<{ base: string; recipe: string; stamps: string }> {
  tmp = await mkdtemp(join(tmpdir(), 'meow-peers-'));
  const stamps = join(tmp, 'stamps');
  await mkdir(stamps);
  const recipe = join(tmp, 'recipe.sh');
  await writeFile(recipe, recipeText(stamps));
  return { base: join(tmp, 'peer'), recipe, stamps };
}

for (const name of ['watchman', 'inotifywait'] as PeerName[]) {
  const peerTool = requireComponent(name, () => peerMissing(name));

  peerTool.describe(`benchmark peer: ${name}`, () => {
    peerTool.it('runs the recipe once per file written, file names with spaces and quotes included, and reports when idle', async () => {
      const { base, recipe, stamps } = await setup(stampRecipe);
      const peer = await startPeer(name, { base, recipe, concurrency: 2 });
      const t0 = wallNow();
      try {
        const names = ['a.txt', 'b c.txt', "it's.txt", 'd.txt', 'e.txt'];
        const r = await peerThroughput(peer, names, scaled(60_000), writeFiles);
        expect(r.perSecond).toBeGreaterThan(0);
        // Watchman may run a file twice (a change seen in two batches); each file ran at least once.
        expect(r.runs).toBeGreaterThanOrEqual(names.length);
        expect((await readdir(stamps)).sort()).toEqual([...names].sort());
        for (const n of names) expect(await readStamp(stamps, n, 1_000)).toBeGreaterThanOrEqual(t0 - 1_000);
        expect(peer.progress().failed).toBe(0);
      } finally {
        await peer.close();
      }
    });

    peerTool.it('counts the runs that fail and names the error', async () => {
      const { base, recipe } = await setup(() => '#!/usr/bin/env bash\necho "no such input: $input_file" >&2\nexit 3\n');
      const peer = await startPeer(name, { base, recipe, concurrency: 2 });
      try {
        await expect(peerThroughput(peer, ['x.txt', 'y.txt'], scaled(60_000), writeFiles)).rejects.toThrow(/2 run\(s\) of the recipe failed: .*no such input/s);
      } finally {
        await peer.close();
      }
    });
  });
}
