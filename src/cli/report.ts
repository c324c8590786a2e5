import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { MeowError } from '../core/errors.js';
import { provJson, reportJobs, roCrate } from '../store/report.js';
import { workspacePath } from './trace.js';
import { readWorkspace, withStore, workspaceRoot, type GlobalOptions } from './workspace.js';

/** `meow report [PATH] [--out DIR]`: PROV-JSON and an RO-Crate of a file's lineage or the whole workspace. */
export async function reportCommand(g: GlobalOptions, path: string | undefined, o: { out?: string }): Promise<number> {
  const root = workspaceRoot(g);
  const ws = await readWorkspace(root);
  const out = resolve(o.out ?? join(root, '.meow', 'report'));
  const rel = path === undefined ? null : workspacePath(root, g.workspace ? resolve(root, path) : path);
  const { crate, prov, count } = await withStore(root, (store) => {
    if (!store) throw new MeowError('MEOW_NOT_FOUND', `no engine state in ${root}; run \`meow run\` first`);
    const jobs = reportJobs(store, rel);
    const name = rel ? `lineage of ${rel}` : basename(root);
    return { crate: roCrate(store, jobs, ws, name), prov: provJson(store, jobs), count: jobs.length };
  });
  await mkdir(out, { recursive: true });
  await writeFile(join(out, 'ro-crate-metadata.json'), `${JSON.stringify(crate, null, 2)}\n`);
  await writeFile(join(out, 'prov.json'), `${JSON.stringify(prov, null, 2)}\n`);
  console.log(`${count} jobs → ${join(out, 'ro-crate-metadata.json')} and ${join(out, 'prov.json')}`);
  return 0;
}
