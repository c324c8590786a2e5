/*
 * How a set job's list of files reaches each recipe kind: a Python list, a
 * JavaScript array, MEOW_INPUTS (NUL-separated) for bash, one argv element
 * per file for a command. Names full of shell syntax and a newline arrive
 * byte-exact and never run.
 */
import { readFile } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { meow, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';

const NAMES = ['plain.dat', 'with space.dat', '$(touch PWNED).dat', 'new\nline.dat', "quote'\".dat"];

describe('fan-in: the list variable in every recipe kind', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('hands every member to Python, JavaScript, bash and command recipes, byte-exact', async () => {
    ws = await tempWorkspace();
    await ws.write('meow.yaml', 'python: /usr/bin/python3\n');
    for (const n of NAMES) await ws.write(`in/${n}`, n);
    const pattern = (recipe: string) => `recipe: ${recipe}\ntrigger: {paths: "in/*.dat"}\ncollect: {by: "{dir}", complete: {count: ${NAMES.length}}}\n`;
    await ws.write('recipes/py.py', 'import json\ninput_files = []\njson.dump(sorted(input_files), open("out/py.json", "w"))\n');
    await ws.write('recipes/js.mjs', "import { writeFile } from 'node:fs/promises';\nexport default async (vars, ctx) => { await writeFile(ctx.workspace + '/out/js.json', JSON.stringify([...vars.input_files].sort())); };\n");
    await ws.write('recipes/sh.sh', 'set -eu\nmapfile -d \'\' files < "$MEOW_INPUTS"\nfor f in "${files[@]}"; do printf \'%s\\0\' "$f"; done > "$MEOW_WORKSPACE/out/sh.bin"\n');
    await ws.write('recipes/cmd.yaml', 'command: [/usr/bin/python3, -c, "import json, sys; json.dump(sorted(sys.argv[2:]), open(sys.argv[1], \'w\'))", out/cmd.json, "{input_files}"]\n');
    for (const r of ['py', 'js', 'sh', 'cmd']) await ws.write(`patterns/${r}.yaml`, pattern(r));
    await ws.write('out/.keep', '');
    const r = await meow(['run', '--until-idle', '--no-tui', '-w', ws.root], { timeoutMs: 200_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    const expected = NAMES.map((n) => ws.path(`in/${n}`)).sort();
    expect(JSON.parse(await readFile(ws.path('out/py.json'), 'utf8'))).toEqual(expected);
    expect(JSON.parse(await readFile(ws.path('out/js.json'), 'utf8'))).toEqual(expected);
    expect(JSON.parse(await readFile(ws.path('out/cmd.json'), 'utf8'))).toEqual(expected);
    const sh = (await readFile(ws.path('out/sh.bin'), 'utf8')).split('\0').slice(0, -1).sort();
    expect(sh).toEqual(expected);
    await expect(readFile(ws.path('PWNED'))).rejects.toThrow();
  }, 240_000);
});
