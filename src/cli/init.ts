import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { constants, existsSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { MeowError } from '../core/errors.js';
import { packageRoot } from '../core/package-root.js';
import { schemaModeline } from './json-schema.js';

/** Where the flagship example's simulated instrument lives in the package. */
export const INSTRUMENT = join('examples', 'steering', 'instrument.mjs');

/** The request that starts the loop: far from the optimum, so the search has work to do. */
export const FIRST_REQUEST = { focus: 9 };

const CONFIG = `# meowflow workspace configuration. Every key is optional.
# cpus: 4                 # job slots of the local backend (default: all cores)
# watch: ["data/**"]      # what the engine watches (default: the whole workspace)
# ignore: ["**/*.tmp"]    # never watched
# python: /usr/bin/python3
# max_generation: 100     # stops runaway cascades
`;

/** Options of `initCommand`. */
export interface InitOptions {
  /** Print nothing (`meow demo` prints its own story). @default false */
  quiet?: boolean;
  /** Write only the files that do not exist yet, keeping the others as they are. @default false */
  keepExisting?: boolean;
}

/** Every file `meow init` writes: workspace-relative path → where its content comes from (a package file, or text). */
async function scaffold(pkg: string): Promise<Map<string, { from: string } | { text: string }>> {
  const files = new Map<string, { from: string } | { text: string }>();
  for (const sub of ['patterns', 'recipes']) {
    const entries = await readdir(join(pkg, sub), { recursive: true, withFileTypes: true });
    for (const e of entries) {
      if (!e.isFile()) continue;
      const abs = join(e.parentPath, e.name);
      const rel = relative(pkg, abs).split(sep).join('/');
      // A pattern starts with the line that lets editors complete and check its keys.
      if (sub === 'patterns' && /\.ya?ml$/.test(e.name)) files.set(rel, { text: schemaModeline('pattern') + (await readFile(abs, 'utf8')) });
      else files.set(rel, { from: abs });
    }
  }
  files.set('instrument.mjs', { from: join(pkg, INSTRUMENT) });
  files.set('meow.yaml', { text: schemaModeline('config') + CONFIG });
  files.set('requests/000.json', { text: `${JSON.stringify(FIRST_REQUEST)}\n` });
  return files;
}

/**
 * `meow init DIR`: a workspace with the flagship example, the steering loop —
 * its pattern and recipes, the simulated instrument and the first request.
 * It never overwrites a file: when any of its files exists, it lists them and
 * changes nothing (exit 2), unless `keepExisting` asks for the missing ones only.
 */
export async function initCommand(dir: string, options: InitOptions = {}): Promise<number> {
  const root = resolve(dir);
  if (existsSync(root) && !statSync(root).isDirectory()) {
    throw new MeowError('MEOW_USAGE', `${root} exists and is not a directory; give \`meow init\` a directory`);
  }
  const files = await scaffold(packageRoot());
  const existing = [...files.keys()].filter((f) => existsSync(join(root, f)));
  if (existing.length > 0 && !options.keepExisting) {
    const list = existing.map((f) => `  ${f}`).join('\n');
    throw new MeowError(
      'MEOW_USAGE',
      `${root} already holds ${existing.length === 1 ? 'a file' : 'files'} that \`meow init\` would write, so nothing was changed:\n${list}\n` +
        'Choose a new directory, move these files away, or run `meow init --keep-existing` to write only the missing files.',
    );
  }
  await mkdir(root, { recursive: true });
  for (const [rel, source] of files) {
    if (existing.includes(rel)) continue;
    const target = join(root, rel);
    await mkdir(dirname(target), { recursive: true });
    // wx: a file that appeared since the check above is still never overwritten.
    if ('from' in source) await copyFile(source.from, target, constants.COPYFILE_EXCL);
    else await writeFile(target, source.text, { flag: 'wx' });
  }
  // measurements/ exists from the start, so the engine watches it before the first measurement lands.
  await mkdir(join(root, 'measurements'), { recursive: true });
  if (!options.quiet) {
    if (existing.length > 0) console.log(`kept as they were: ${existing.join(', ')}`);
    console.log(`created a workspace in ${root}
  patterns/steer.yaml  on each measurements/*.json: update the estimate, write the next requests/NNN.json or result.json
  recipes/steer.mjs    the analysis (a JavaScript function; the search and the plot are in recipes/lib/)
  instrument.mjs       a simulated instrument: answers requests/*.json with noisy measurements/*.json
  requests/000.json    the first request
next: cd ${dir} && meow run        (the engine, live)
      node instrument.mjs          (in a second terminal: the instrument; it stops when result.json appears)`);
  }
  return 0;
}
