/*
 * The JSON Schemas editors use for patterns/*.yaml and meow.yaml: the
 * committed files under schema/ are exactly what the parsers' key lists
 * generate, every example that ships (examples/, patterns/, the docs'
 * definition blocks) passes them, and a typo'd key or a wrong value fails.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import Ajv from 'ajv';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { SCHEMA_FILES, definitionSchema, schemaModeline, schemaText, type SchemaKind } from '../../src/cli/json-schema.js';
import { REPO, meow, tempWorkspace } from '../helpers/workspace.js';

function validator(kind: SchemaKind): (doc: unknown) => string[] {
  const ajv = new Ajv({ allErrors: true });
  const validate = ajv.compile(definitionSchema(kind));
  return (doc) => (validate(doc) ? [] : (validate.errors ?? []).map((e) => `${e.dataPath} ${e.message ?? ''} ${JSON.stringify(e.params)}`));
}

/** Every pattern file and meow.yaml that ships: in examples/, patterns/, and the docs' `<!-- file: … -->` blocks. */
function shippedDefinitions(): { where: string; kind: SchemaKind; text: string }[] {
  const out: { where: string; kind: SchemaKind; text: string }[] = [];
  const add = (rel: string) => {
    const kind: SchemaKind = rel.endsWith('meow.yaml') ? 'config' : 'pattern';
    out.push({ where: rel, kind, text: readFileSync(join(REPO, rel), 'utf8') });
  };
  for (const f of readdirSync(join(REPO, 'patterns'))) add(`patterns/${f}`);
  for (const ex of readdirSync(join(REPO, 'examples'))) {
    const dir = join(REPO, 'examples', ex);
    if (readdirSync(dir).includes('meow.yaml')) add(`examples/${ex}/meow.yaml`);
    if (readdirSync(dir).includes('patterns')) for (const f of readdirSync(join(dir, 'patterns'))) add(`examples/${ex}/patterns/${f}`);
  }
  for (const doc of readdirSync(join(REPO, 'docs')).filter((f) => f.endsWith('.md'))) {
    const lines = readFileSync(join(REPO, 'docs', doc), 'utf8').split('\n');
    lines.forEach((l, i) => {
      const m = /^<!-- file: (patterns\/\S+\.ya?ml|meow\.yaml) -->$/.exec(l);
      if (!m || !/^```yaml$/.test(lines[i + 1] ?? '')) return;
      const end = lines.indexOf('```', i + 2);
      out.push({ where: `docs/${doc}:${i + 2} (${m[1]})`, kind: m[1] === 'meow.yaml' ? 'config' : 'pattern', text: lines.slice(i + 2, end).join('\n') });
    });
  }
  return out;
}

describe('JSON Schemas of definition files', () => {
  it.each(Object.entries(SCHEMA_FILES))('schema/%s… is what the parsers generate (npm run schema rewrites it)', (kind, file) => {
    expect(readFileSync(join(REPO, 'schema', file), 'utf8')).toBe(schemaText(kind as SchemaKind));
  });

  const shipped = shippedDefinitions();
  it('checks examples of both kinds', () => {
    expect(shipped.filter((d) => d.kind === 'pattern').length).toBeGreaterThan(10);
    expect(shipped.filter((d) => d.kind === 'config').length).toBeGreaterThan(3);
  });

  it.each(shipped.map((d) => [d.where, d] as const))('accepts %s', (_where, d) => {
    expect(validator(d.kind)(parse(d.text))).toEqual([]);
  });

  it("rejects a typo'd key, a wrong value and a missing trigger in a pattern", () => {
    const check = validator('pattern');
    expect(check(parse('recipe: fit\ntrigger: {paths: "data/*.txt"}\n'))).toEqual([]);
    expect(check(parse('recipe: fit\ntriger: {paths: "data/*.txt"}\n')).join('\n')).toMatch(/additionalProperty":"triger"/);
    expect(check(parse('recipe: fit\ntrigger: {paths: "data/*.txt", event: created}\n')).join('\n')).toMatch(/additionalProperty":"event"/);
    expect(check(parse('recipe: fit\ntrigger: {paths: "data/*.txt", events: [made]}\n'))).not.toEqual([]);
    expect(check(parse('recipe: fit\ntrigger: {paths: "data/*.txt"}\ntimeout: 10 minutes\n'))).not.toEqual([]);
    expect(check(parse('recipe: fit\ntrigger: {paths: "data/*.txt"}\nresources: {memory: 2 gigs}\n'))).not.toEqual([]);
  });

  it("rejects a typo'd key and a wrong value in meow.yaml, and accepts an empty one", () => {
    const check = validator('config');
    expect(check(parse('# nothing set\n'))).toEqual([]);
    expect(check(parse('cpu: 4\n')).join('\n')).toMatch(/additionalProperty":"cpu"/);
    expect(check(parse('watch_mode: polling\n'))).not.toEqual([]);
    expect(check(parse('backends: {hpc: {type: slurm, partiton: gpu}}\n'))).not.toEqual([]);
    expect(check(parse('backends: {box: {type: ssh, user: alice}}\n'))).not.toEqual([]);
    expect(check(parse('backends: {box: {type: ssh, host: gpu01, workdir: /scratch}}\n'))).toEqual([]);
  });

  it('names the shipped schema file in the line meow writes atop definition files', () => {
    expect(schemaModeline('pattern')).toBe(`# yaml-language-server: $schema=${join(REPO, 'schema', 'pattern.schema.json')}\n`);
  });

  it('starts the meow.yaml and patterns that meow init writes with that line, and they still validate', async () => {
    const ws = await tempWorkspace('meow-schema-');
    try {
      expect((await meow(['init', ws.path('lab')])).code).toBe(0);
      const config = await readFile(ws.path('lab/meow.yaml'), 'utf8');
      const steer = await readFile(ws.path('lab/patterns/steer.yaml'), 'utf8');
      expect(config.split('\n')[0]).toBe(schemaModeline('config').trimEnd());
      expect(steer.split('\n')[0]).toBe(schemaModeline('pattern').trimEnd());
      expect(validator('pattern')(parse(steer))).toEqual([]);
      const validate = await meow(['validate', '-w', ws.path('lab')]);
      expect(validate.code, validate.stderr).toBe(0);
    } finally {
      await ws.cleanup();
    }
  }, 120_000);
});
