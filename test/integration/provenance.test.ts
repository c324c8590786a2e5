import { rm } from 'node:fs/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { meow, meowJson, tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';

interface Step {
  path: string;
  job: string | null;
  pattern: string | null;
  recipe: string | null;
  inputs: string[];
  pattern_version: string | null;
  recipe_version: string | null;
  generation: number;
  input_hash: string | null;
  status: string | null;
}

const COPY = 'mkdir -p "$(dirname "$out")"; cat "$input_file" > "$out"; echo "$tag" >> "$out"\n';

async function chain(ws: TempWorkspace, tag: string): Promise<void> {
  await ws.write('patterns/step1.yaml', 'recipe: copy\ntrigger: {paths: "raw/*.txt"}\nvariables: {out: "stage1/{stem}.a", tag: s1}\noutputs: ["stage1/{stem}.a"]\n');
  await ws.write('patterns/step2.yaml', `recipe: copy\ntrigger: {paths: "stage1/*.a"}\nvariables: {out: "stage2/{stem}-${tag}.b", tag: ${tag}}\noutputs: ["stage2/{stem}-${tag}.b"]\n`);
  await ws.write('patterns/step3.yaml', 'recipe: copy\ntrigger: {paths: "stage2/*.b"}\nvariables: {out: "final/{stem}.c", tag: s3}\noutputs: ["final/{stem}.c"]\n');
}

describe('provenance', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('traces a 3-step chain back to its input, keeping each output its own pattern versions', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/copy.sh', COPY);
    await chain(ws, 'v1');
    await ws.write('raw/x.txt', 'x');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    const first = await meowJson<Step[]>(['trace', 'final/x-v1.c', '-w', ws.root]);
    expect(first.map((s) => [s.path, s.pattern])).toEqual([
      ['final/x-v1.c', 'step3'],
      ['stage2/x-v1.b', 'step2'],
      ['stage1/x.a', 'step1'],
      ['raw/x.txt', null],
    ]);
    expect(first.map((s) => s.generation)).toEqual([3, 2, 1, 0]);
    expect(first[2].input_hash).toMatch(/^[0-9a-f]{64}$/); // sha256 of raw/x.txt
    expect(first.slice(0, 3).every((s) => s.status === 'succeeded' && s.recipe === 'copy' && s.pattern_version && s.recipe_version)).toBe(true);

    await chain(ws, 'v2');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    const second = await meowJson<Step[]>(['trace', 'final/x-v2.c', '-w', ws.root]);
    const old = await meowJson<Step[]>(['trace', 'final/x-v1.c', '-w', ws.root]);
    expect(second[1].pattern).toBe('step2');
    expect(second[1].pattern_version).not.toBe(first[1].pattern_version);
    expect(old[1].pattern_version).toBe(first[1].pattern_version);
    expect(second[2].job).toBe(first[2].job); // step1 did not run again

    const text = await meow(['trace', 'final/x-v2.c', '-w', ws.root]);
    expect(text.stdout).toContain('raw/x.txt  (from outside)');
    const forward = await meowJson<{ derived: { pattern: string; outputs: { path: string; derived: unknown[] }[] }[] }>(['trace', '--forward', 'raw/x.txt', '-w', ws.root]);
    expect(forward.derived.map((n) => n.pattern)).toEqual(['step1']);
    expect(JSON.stringify(forward)).toContain('final/x-v2.c');
    expect(JSON.stringify(forward)).toContain('final/x-v1.c');

    // A deleted file keeps its history; a path the engine never knew is an error, not a file from outside.
    await rm(ws.path('raw/x.txt'));
    expect((await meowJson<Step[]>(['trace', 'raw/x.txt', '-w', ws.root]))[0]).toMatchObject({ path: 'raw/x.txt', job: null });
    for (const args of [['trace', 'raw/y.txt'], ['trace', '--forward', '--json', 'raw/y.txt']]) {
      const typo = await meow([...args, '-w', ws.root]);
      expect(typo.code).toBe(1);
      expect(typo.stderr).toContain('raw/y.txt: no such file in the workspace, and the engine has no record of one there');
    }
  });

  it('records undeclared files written under output directories as inferred outputs', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/two.sh', 'mkdir -p out; echo a > "out/$(basename "$input_file").main"; echo b > "out/$(basename "$input_file").extra"\n');
    await ws.write('patterns/two.yaml', 'recipe: two\ntrigger: {paths: "in/*"}\noutputs: ["out/{name}.main"]\n');
    await ws.write('in/f', 'f');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    const extra = await meowJson<(Step & { inferred: boolean })[]>(['trace', 'out/f.extra', '-w', ws.root]);
    expect(extra[0]).toMatchObject({ pattern: 'two', inferred: true, generation: 1 });
    const main = await meowJson<(Step & { inferred: boolean })[]>(['trace', 'out/f.main', '-w', ws.root]);
    expect(main[0]).toMatchObject({ pattern: 'two', inferred: false });
  });

  it('draws branches, joins and loops, marking the loop', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/r.sh', 'true\n');
    await ws.write('patterns/ingest.yaml', 'recipe: r\ntrigger: {paths: "raw/*.h5"}\noutputs: ["frames/{stem}.npy"]\n');
    await ws.write('patterns/denoise.yaml', 'recipe: r\ntrigger: {paths: "frames/*.npy"}\noutputs: ["clean/{stem}.npy"]\n');
    await ws.write('patterns/thumbs.yaml', 'recipe: r\ntrigger: {paths: "frames/*"}\noutputs: ["thumbs/{stem}.png"]\n');
    await ws.write('patterns/report.yaml', 'recipe: r\ntrigger: {paths: ["clean/*.npy", "thumbs/*.png"]}\noutputs: ["reports/{stem}.html"]\n');
    await ws.write('patterns/analyse.yaml', 'recipe: r\ntrigger: {paths: "measurements/*.json"}\noutputs: ["requests/{stem}-next.json"]\nloop: true\n');
    await ws.write('patterns/measure.yaml', 'recipe: missing\ntrigger: {paths: "requests/*.json"}\noutputs: ["measurements/{stem}.json"]\n');
    const m = await meow(['graph', '--format', 'mermaid', '-w', ws.root]);
    expect(m.code).toBe(0);
    const out = m.stdout;
    expect(out).toMatch(/^flowchart LR/);
    expect(out).toContain('p_ingest -- "frames/{stem}.npy" --> p_denoise');
    expect(out).toContain('p_ingest -- "frames/{stem}.npy" --> p_thumbs'); // a branch
    expect(out).toContain('p_denoise -- "clean/{stem}.npy" --> p_report'); // a join ...
    expect(out).toContain('p_thumbs -- "thumbs/{stem}.png" --> p_report'); // ... of two
    expect(out).toContain('p_analyse -. "loop: requests/{stem}-next.json" .-> p_measure');
    expect(out).toContain('p_measure -. "loop: measurements/{stem}.json" .-> p_analyse');
    expect(out).toMatch(/class (p_analyse,p_measure|p_measure,p_analyse) loop;/);
    expect(out).toContain('class p_measure waiting;');
    expect(out).toMatch(/in\d+\(\["raw\/\*\.h5"\]\) --> p_ingest/);
    const dot = await meow(['graph', '--format', 'dot', '-w', ws.root]);
    expect(dot.stdout).toContain('p_analyse -> p_measure [label="requests/{stem}-next.json", color=red, style=dashed];');
    const text = await meow(['graph', '-w', ws.root]);
    expect(text.stdout).toContain('loop: analyse → measure (intended: loop: true)');
  });

  it('stops an accidental loop at max_generation, after validate warned about it', async () => {
    ws = await tempWorkspace();
    await ws.write('meow.yaml', 'max_generation: 5\n');
    await ws.write('recipes/grow.sh', 'cp "$input_file" "$out"\n');
    await ws.write('patterns/grow.yaml', 'recipe: grow\ntrigger: {paths: "data/*.txt"}\nvariables: {out: "data/{stem}x.txt"}\noutputs: ["data/{stem}x.txt"]\n');
    await ws.write('data/a.txt', 'a');
    const v = await meow(['validate', '-w', ws.root]);
    expect(v.code).toBe(0);
    expect(v.stderr).toContain('warning: patterns/grow.yaml: outputs: pattern "grow" triggers itself');
    const run = await meow(['run', '--until-idle', '-w', ws.root]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain('stopped by max_generation 5');
    const jobs = await meowJson<{ status: string; generation: number; error: string | null }[]>(['jobs', '-w', ws.root]);
    expect(jobs.filter((j) => j.status === 'succeeded')).toHaveLength(6);
    const stopped = jobs.filter((j) => j.status === 'failed');
    expect(stopped).toHaveLength(1);
    expect(stopped[0].generation).toBe(6);
    expect(stopped[0].error).toContain('data/axxxxxx.txt is generation 6, produced by the chain grow → grow → grow → grow → grow → grow');
  });
});

/** Terms of the RO-Crate 1.1 JSON-LD context (schema.org and RO-Crate terms) used by the report. */
const RO_CRATE_TERMS = new Set([
  '@id', '@type', 'about', 'actionStatus', 'alternateName', 'conformsTo', 'contentSize', 'datePublished', 'description', 'encodingFormat', 'endTime',
  'error', 'hasPart', 'instrument', 'mainEntity', 'mentions', 'name', 'object', 'programmingLanguage', 'result', 'sha256', 'startTime', 'url', 'version',
]);
const RO_CRATE_TYPES = new Set(['CreativeWork', 'Dataset', 'File', 'SoftwareSourceCode', 'ComputationalWorkflow', 'ComputerLanguage', 'CreateAction']);

describe('meow report', () => {
  let ws: TempWorkspace;
  afterEach(async () => ws?.cleanup());

  it('exports a valid Workflow Run RO-Crate and PROV-JSON linking every output to its job and inputs', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/copy.sh', COPY);
    await chain(ws, 'v1');
    await ws.write('raw/x.txt', 'x');
    await ws.write('raw/y.txt', 'y');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    const r = await meow(['report', '-w', ws.root]);
    expect(r.code, r.stderr).toBe(0);
    const { readFile } = await import('node:fs/promises');
    const crate = JSON.parse(await readFile(ws.path('.meow/report/ro-crate-metadata.json'), 'utf8')) as { '@context': string; '@graph': Record<string, unknown>[] };
    expect(crate['@context']).toBe('https://w3id.org/ro/crate/1.1/context');
    const byId = new Map(crate['@graph'].map((e) => [e['@id'] as string, e]));
    // Every key and type is a term of the context; every reference resolves.
    const refs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') {
        const o = v as Record<string, unknown>;
        if (Object.keys(o).length === 1 && typeof o['@id'] === 'string') refs.push(o['@id']);
        else for (const [k, x] of Object.entries(o)) {
          expect(RO_CRATE_TERMS.has(k), `term ${k}`).toBe(true);
          walk(x);
        }
      }
    };
    for (const e of crate['@graph']) {
      walk(e);
      for (const t of [e['@type']].flat()) expect(RO_CRATE_TYPES.has(t as string), `type ${String(t)}`).toBe(true);
    }
    for (const id of refs) expect(byId.has(id) || /^https?:\/\//.test(id), `reference ${id}`).toBe(true);
    // The entities the Workflow Run Crate profile requires.
    expect(byId.get('ro-crate-metadata.json')).toMatchObject({ about: { '@id': './' } });
    expect(byId.get('./')).toMatchObject({ '@type': 'Dataset', mainEntity: { '@id': 'patterns/' } });
    expect(byId.get('patterns/')?.['@type']).toEqual(['Dataset', 'SoftwareSourceCode', 'ComputationalWorkflow']);
    expect(byId.get('#run')).toMatchObject({ '@type': 'CreateAction', instrument: { '@id': 'patterns/' } });
    const actions = crate['@graph'].filter((e) => e['@type'] === 'CreateAction' && e['@id'] !== '#run');
    expect(actions).toHaveLength(6);
    expect((byId.get('#run')?.object as { '@id': string }[]).map((o) => o['@id']).sort()).toEqual(['raw/x.txt', 'raw/y.txt']);

    const prov = JSON.parse(await readFile(ws.path('.meow/report/prov.json'), 'utf8')) as Record<string, Record<string, Record<string, string>>>;
    const gens = Object.values(prov.wasGeneratedBy);
    const uses = Object.values(prov.used);
    expect(gens).toHaveLength(6);
    for (const g of gens) {
      expect(prov.entity[g['prov:entity']]).toBeDefined();
      expect(prov.activity[g['prov:activity']]).toBeDefined();
      expect(uses.some((u) => u['prov:activity'] === g['prov:activity'] && prov.entity[u['prov:entity']])).toBe(true);
    }
    const finalX = Object.entries(prov.entity).find(([, e]) => e['prov:label'] === 'final/x-v1.c');
    expect(finalX).toBeDefined();

    const lineage = await meow(['report', 'final/x-v1.c', '--out', ws.path('.meow/one'), '-w', ws.root]);
    expect(lineage.stdout).toMatch(/^3 jobs/);
  });
  it('escapes control characters of names in its text output', async () => {
    ws = await tempWorkspace();
    await ws.write('recipes/copy.sh', 'cp "$input_file" "$out"\n');
    await ws.write('patterns/copy.yaml', 'recipe: copy\ntrigger: {paths: "in/*"}\nvariables: {out: "out/{name}"}\noutputs: ["out/{name}"]\n');
    await ws.write('out/.keep', '');
    await ws.write('in/new\nline\x1b[2J.txt', 'x');
    expect((await meow(['run', '--until-idle', '-w', ws.root])).code).toBe(0);
    for (const args of [['trace', 'out/new\nline\x1b[2J.txt'], ['trace', '--forward', 'in/new\nline\x1b[2J.txt']]) {
      const r = await meow([...args, '-w', ws.root]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain('new\\nline\\x1b[2J.txt');
      expect(r.stdout).not.toContain('\x1b');
    }
  });
});
