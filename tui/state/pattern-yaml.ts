import { Document, isMap, isSeq, parseDocument } from 'yaml';
import { EVENT_KINDS, type EventKind } from '../api/shapes.js';
import type { Variables } from './variables-text.js';
import { schemaModeline } from '../../src/cli/json-schema.js';

/** The parts of a pattern file the form edits. Everything else in the file is kept as written. */
export interface PatternFields {
  name: string;
  recipe: string;
  paths: string[];
  events: EventKind[];
  variables: Variables;
  /** As written (`250ms`), or '' for none. */
  settle: string;
  /** '' for the default (local). */
  backend: string;
}

export const DEFAULT_EVENTS: readonly EventKind[] = ['created', 'modified'];

/** The pattern name a file gives by default: its stem. */
export function stemOf(file: string): string {
  return (file.split('/').pop() ?? file).replace(/\.[^.]*$/, '');
}

function record(v: unknown): Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

function text(v: unknown): string {
  return typeof v === 'string' || typeof v === 'number' ? String(v) : '';
}

function list(v: unknown): string[] {
  if (typeof v === 'string') return [v];
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

/** Reads the form's fields from a pattern file (lenient: the engine validates). */
export function readPatternFields(file: string, source: string): PatternFields {
  const doc = record(parseDocument(source).toJS());
  const trigger = record(doc.trigger);
  const events = list(trigger.events).filter((e): e is EventKind => (EVENT_KINDS as readonly string[]).includes(e));
  return {
    name: text(doc.name) || stemOf(file),
    recipe: text(doc.recipe),
    paths: list(trigger.paths),
    events: trigger.events === undefined ? [...DEFAULT_EVENTS] : events,
    variables: record(doc.variables) as Variables,
    settle: text(trigger.settle),
    backend: text(doc.backend),
  };
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function flowList(doc: Document, items: readonly string[]) {
  const node = doc.createNode([...items]);
  if (isSeq(node)) node.flow = true;
  return node;
}

function pathsNode(doc: Document, paths: readonly string[]) {
  return paths.length === 1 ? paths[0] : flowList(doc, paths);
}

/** A new pattern file with the fields, in the documented key order, after the line that gives editors its schema. */
function newPatternYaml(f: PatternFields): string {
  const doc = new Document({});
  doc.set('recipe', f.recipe);
  const trigger = doc.createNode({});
  doc.set('trigger', trigger);
  doc.setIn(['trigger', 'paths'], pathsNode(doc, f.paths));
  if (!same([...f.events].sort(), [...DEFAULT_EVENTS].sort())) doc.setIn(['trigger', 'events'], flowList(doc, f.events));
  if (f.settle) doc.setIn(['trigger', 'settle'], f.settle);
  if (Object.keys(f.variables).length) doc.set('variables', doc.createNode(f.variables));
  if (f.backend) doc.set('backend', f.backend);
  return schemaModeline('pattern') + doc.toString();
}

/**
 * The pattern file for the fields. An edit changes only the keys whose value
 * changed, so comments, key order and every other key stay as written.
 */
export function writePatternYaml(f: PatternFields, original: { source: string; fields: PatternFields } | null): string {
  if (!original) return newPatternYaml(f);
  const o = original.fields;
  if (same(f, o)) return original.source;
  const doc = parseDocument(original.source);
  if (f.name !== o.name) doc.set('name', f.name);
  if (f.recipe !== o.recipe) doc.set('recipe', f.recipe);
  if (!isMap(doc.get('trigger'))) doc.set('trigger', doc.createNode({}));
  if (!same(f.paths, o.paths) || !doc.hasIn(['trigger', 'paths'])) doc.setIn(['trigger', 'paths'], pathsNode(doc, f.paths));
  if (!same(f.events, o.events)) doc.setIn(['trigger', 'events'], flowList(doc, f.events));
  if (f.settle !== o.settle) {
    if (f.settle) doc.setIn(['trigger', 'settle'], f.settle);
    else doc.deleteIn(['trigger', 'settle']);
  }
  if (!same(f.variables, o.variables)) {
    if (Object.keys(f.variables).length) doc.set('variables', doc.createNode(f.variables));
    else doc.delete('variables');
  }
  if (f.backend !== o.backend) {
    if (f.backend) doc.set('backend', f.backend);
    else doc.delete('backend');
  }
  return doc.toString();
}
