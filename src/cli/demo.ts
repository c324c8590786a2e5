import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Engine } from '../engine.js';
import { initCommand } from './init.js';
import { attachLogger } from './run.js';

/** `meow demo`: the flagship example end to end in a fresh temporary workspace. */
export async function demoCommand(o: { keep?: boolean }): Promise<number> {
  const root = await mkdtemp(join(tmpdir(), 'meow-demo-'));
  try {
    await initCommand(root);
    const engine = await Engine.open(root);
    attachLogger(engine, false);
    try {
      await engine.runUntilIdle();
      const counts = engine.store.countJobs();
      console.log(`\n${counts.succeeded} jobs succeeded, ${counts.failed} failed`);
      const reports = join(root, 'data', 'reports');
      for (const f of (await readdir(reports).catch(() => [])).sort()) process.stdout.write(await readFile(join(reports, f), 'utf8'));
      return engine.failedCount > 0 ? 1 : 0;
    } finally {
      await engine.close();
    }
  } finally {
    if (o.keep) console.log(`workspace kept in ${root}`);
    else await rm(root, { recursive: true, force: true });
  }
}
