import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { MeowError } from '../core/errors.js';
import { packageRoot } from '../core/package-root.js';

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
}

/**
 * `meow init DIR`: a workspace with the flagship example, the steering loop —
 * its pattern and recipes, the simulated instrument and the first request.
 */
export async function initCommand(dir: string, options: InitOptions = {}): Promise<number> {
  const root = resolve(dir);
  await mkdir(root, { recursive: true });
  for (const sub of ['patterns', 'recipes']) {
    const target = join(root, sub);
    if (existsSync(target) && (await readdir(target)).length > 0) {
      throw new MeowError('MEOW_USAGE', `${target} already exists and is not empty; choose a new directory for \`meow init\``);
    }
  }
  const pkg = packageRoot();
  await cp(join(pkg, 'patterns'), join(root, 'patterns'), { recursive: true });
  await cp(join(pkg, 'recipes'), join(root, 'recipes'), { recursive: true });
  await cp(join(pkg, INSTRUMENT), join(root, 'instrument.mjs'));
  if (!existsSync(join(root, 'meow.yaml'))) await writeFile(join(root, 'meow.yaml'), CONFIG);
  // measurements/ exists from the start, so the engine watches it before the first measurement lands.
  for (const sub of ['requests', 'measurements']) await mkdir(join(root, sub), { recursive: true });
  await writeFile(join(root, 'requests', '000.json'), `${JSON.stringify(FIRST_REQUEST)}\n`);
  if (!options.quiet) {
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
