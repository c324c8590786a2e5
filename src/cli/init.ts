import { cp, mkdir, readdir, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MeowError } from '../core/errors.js';

/** The package root (holding patterns/ and recipes/ of the flagship example). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error('cannot find the meowflow package root');
    dir = up;
  }
  return dir;
}

const CONFIG = `# meowflow workspace configuration. Every key is optional.
# cpus: 4                 # job slots of the local backend (default: all cores)
# watch: ["data/**"]      # what the engine watches (default: the whole workspace)
# ignore: ["**/*.tmp"]    # never watched
# python: /usr/bin/python3
# max_generation: 100     # stops runaway cascades
`;

/** Sample detector tables: deterministic, so every new workspace behaves the same. */
function sampleCsv(seed: number): string {
  const rows = ['time,intensity'];
  let x = seed;
  for (let i = 0; i < 20; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    rows.push(`${i * 0.5},${(100 + seed * 10 + (x / 2 ** 31) * 5).toFixed(3)}`);
  }
  return `${rows.join('\n')}\n`;
}

/** `meow init DIR`: a workspace with the flagship example's patterns, recipes and sample data. */
export async function initCommand(dir: string): Promise<number> {
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
  if (!existsSync(join(root, 'meow.yaml'))) await writeFile(join(root, 'meow.yaml'), CONFIG);
  await mkdir(join(root, 'data', 'raw'), { recursive: true });
  for (let i = 1; i <= 3; i++) await writeFile(join(root, 'data', 'raw', `sample-${i}.csv`), sampleCsv(i));
  console.log(`created a workspace in ${root}
  patterns/  reduce (data/raw/*.csv → data/reduced/) and report (data/reduced/*.json → data/reports/)
  recipes/   reduce.py, report.sh
  data/raw/  3 sample tables
next: cd ${dir} && meow run --until-idle`);
  return 0;
}
