/*
 * The examples in docs/ go through the real parsers, so the docs cannot rot.
 *
 * A fenced block right after `<!-- file: PATH -->` is a definition file:
 * `patterns/*.yaml` must parse with parsePattern, `recipes/*` with parseRecipe,
 * `meow.yaml` with parseConfig — all without errors. Patterns are parsed
 * against the nearest `meow.yaml` block above them in the same document (or
 * the defaults), so an example may name a backend that example defines.
 *
 * A block after `<!-- invalid: PATH -->` must fail, with exactly the errors
 * printed by the ```text block of `$ meow validate` that follows it.
 *
 * Every ```yaml block must carry one of the two markers; the sweep and
 * placeholder tables of patterns.md are checked against the code too.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/core/config-schema.js';
import { parsePattern } from '../../src/core/pattern-schema.js';
import { fileValues } from '../../src/core/placeholders.js';
import { parseRecipe } from '../../src/core/recipe-schema.js';
import { formatDefinitionError } from '../../src/monitor/definitions-reader.js';
import { rangeValues } from '../../src/rules/sweep.js';
import type { DefinitionError, RecipeKind, WorkspaceConfig } from '../../src/core/types.js';

const DOCS_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs');
const DOCS = ['patterns.md', 'recipes.md', 'configuration.md'] as const;
const ROOT = '/home/alice/beamline';
const CORES = 8;
/** The fence language each recipe kind is shown in. */
const FENCE_OF_KIND: Record<RecipeKind, string> = { notebook: 'json', python: 'python', bash: 'bash', javascript: 'js', command: 'yaml' };

interface Fence {
  /** 1-based line of the opening fence. */
  line: number;
  lang: string;
  text: string;
  /** The marker on the line just above the fence, if any. */
  marker: { kind: 'file' | 'invalid'; file: string } | null;
}

const MARKER_RE = /^<!-- (file|invalid): (\S+) -->$/;

function fences(doc: string): Fence[] {
  const lines = readFileSync(path.join(DOCS_DIR, doc), 'utf8').split('\n');
  const out: Fence[] = [];
  for (let i = 0; i < lines.length; i++) {
    const m = /^```(\S*)$/.exec(lines[i]);
    if (!m) continue;
    const end = lines.indexOf('```', i + 1);
    if (end === -1) throw new Error(`docs/${doc}:${i + 1}: a fence that is never closed`);
    const above = i > 0 ? MARKER_RE.exec(lines[i - 1]) : null;
    out.push({
      line: i + 1,
      lang: m[1],
      text: lines.slice(i + 1, end).join('\n') + '\n',
      marker: above ? { kind: above[1] as 'file' | 'invalid', file: above[2] } : null,
    });
    i = end;
  }
  // A marker that is not right above a fence would silently check nothing.
  lines.forEach((l, i) => {
    if (l.startsWith('<!-- file:') || l.startsWith('<!-- invalid:')) {
      if (!MARKER_RE.test(l) || !/^```/.test(lines[i + 1] ?? '')) throw new Error(`docs/${doc}:${i + 1}: a marker must be "<!-- file: PATH -->" right above a fence`);
    }
  });
  return out;
}

/** Parses one definition file the way the engine would. */
function parse(file: string, text: string, config: WorkspaceConfig): { errors: DefinitionError[]; kind?: RecipeKind } {
  if (file === 'meow.yaml') return parseConfig(ROOT, text, CORES);
  if (/^patterns\/[^/]+\.ya?ml$/.test(file)) return parsePattern(file, text, { maxSweep: config.maxSweep, backends: Object.keys(config.backends) });
  if (/^recipes\/[^/]+$/.test(file)) {
    const { recipe, errors } = parseRecipe(file, text);
    return { errors, kind: recipe?.kind };
  }
  throw new Error(`${file}: not a definition file (patterns/*.yaml, recipes/*, meow.yaml)`);
}

interface Example {
  doc: string;
  fence: Fence;
  /** The config the example is parsed against. */
  config: WorkspaceConfig;
  /** For invalid examples: the `$ meow validate` output that follows. */
  output: Fence | null;
}

function examples(): Example[] {
  const out: Example[] = [];
  for (const doc of DOCS) {
    let config = parseConfig(ROOT, null, CORES).config;
    const all = fences(doc);
    all.forEach((fence, i) => {
      if (!fence.marker) return;
      const output = fence.marker.kind === 'invalid' ? (all[i + 1] ?? null) : null;
      out.push({ doc, fence, config, output });
      if (fence.marker.kind === 'file' && fence.marker.file === 'meow.yaml') config = parseConfig(ROOT, fence.text, CORES).config;
    });
  }
  return out;
}

const EXAMPLES = examples();
const VALID = EXAMPLES.filter((e) => e.fence.marker?.kind === 'file');
const INVALID = EXAMPLES.filter((e) => e.fence.marker?.kind === 'invalid');
const title = (e: Example) => `docs/${e.doc}:${e.fence.line} ${e.fence.marker?.file}`;

describe('docs examples', () => {
  it('finds the examples of every document', () => {
    const count = (doc: string, prefix: string) => VALID.filter((e) => e.doc === doc && e.fence.marker?.file.startsWith(prefix)).length;
    expect(count('patterns.md', 'patterns/')).toBeGreaterThanOrEqual(10);
    expect(count('patterns.md', 'meow.yaml')).toBeGreaterThanOrEqual(1);
    expect(count('recipes.md', 'recipes/')).toBeGreaterThanOrEqual(7);
    expect(count('configuration.md', 'meow.yaml')).toBeGreaterThanOrEqual(4);
    expect(INVALID.length).toBeGreaterThanOrEqual(2);
  });

  it('marks every YAML block as a definition file', () => {
    const unmarked = DOCS.flatMap((doc) => fences(doc).filter((f) => f.lang === 'yaml' && !f.marker).map((f) => `docs/${doc}:${f.line}`));
    expect(unmarked).toEqual([]);
  });

  it.each(VALID.map((e) => [title(e), e] as const))('%s parses with no errors', (_, e) => {
    const file = e.fence.marker?.file ?? '';
    const { errors, kind } = parse(file, e.fence.text, e.config);
    expect(errors.map(formatDefinitionError)).toEqual([]);
    if (kind) expect(e.fence.lang).toBe(FENCE_OF_KIND[kind]);
    else expect(e.fence.lang).toBe('yaml');
  });

  it.each(INVALID.map((e) => [title(e), e] as const))('%s fails exactly as documented', (_, e) => {
    const file = e.fence.marker?.file ?? '';
    const { errors } = parse(file, e.fence.text, e.config);
    const shown = e.output?.lang === 'text' ? e.output.text.split('\n').filter((l) => l !== '') : [];
    expect(shown[0]).toBe('$ meow validate');
    const n = errors.length;
    expect(shown.slice(1)).toEqual([...errors.map(formatDefinitionError), `${n} error${n > 1 ? 's' : ''} (0 patterns, 0 recipes valid)`]);
  });
});

describe('the tables of docs/patterns.md', () => {
  const text = readFileSync(path.join(DOCS_DIR, 'patterns.md'), 'utf8');

  it('lists the values sweep ranges really give', () => {
    const rows = [...text.matchAll(/^\| `\{start: ([^,]+), stop: ([^,]+), step: ([^}]+)\}` \| `([^`]+)` \|$/gm)];
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const [, start, stop, step, values] of rows) {
      const got = rangeValues({ start: Number(start), stop: Number(stop), step: Number(step) });
      expect(got, `{start: ${start}, stop: ${stop}, step: ${step}}`).toEqual(values.split(', ').map(Number));
    }
  });

  it('lists what the file placeholders expand to', () => {
    const header = /^\| placeholder \| is \| for `([^`]+)` in `([^`]+)` \|$/m.exec(text);
    expect(header).not.toBeNull();
    const [, file, root] = header ?? [];
    const values = fileValues(file, root);
    const rows = new Map([...text.matchAll(/^\| `\{(\w+)\}` \| [^|]+ \| `([^`]*)` \|$/gm)].map((m) => [m[1], m[2]]));
    for (const name of ['path', 'abspath', 'dir', 'name', 'stem', 'ext'] as const) expect(rows.get(name), `{${name}}`).toBe(values[name]);
    expect(rows.get('workspace')).toBe(root);
  });
});
