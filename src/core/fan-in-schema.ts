/**
 * The fan-in keys of a pattern file: `collect:`, `batch:` and `inputs:`
 * (DESIGN.md "Fan-in: batches and complete sets"). Read by pattern-schema.ts.
 */
import { joinKey, type Fields } from './definition-fields.js';
import { describe } from './durations.js';
import { findPlaceholders } from './placeholders.js';
import { closest } from './suggest.js';
import type { BatchSpec, CollectSpec, Completion } from './types.js';

export const COLLECT_KEYS = ['by', 'complete', 'timeout', 'on_timeout'] as const;
export const COMPLETE_KEYS = ['count', 'marker', 'quiet'] as const;
export const BATCH_KEYS = ['max_files', 'max_wait', 'by'] as const;
export const ON_TIMEOUT = ['run', 'fail'] as const;

/** Placeholders a group key or a marker may use: those of each member's path. */
export const MEMBER_PLACEHOLDERS = ['path', 'dir', 'name', 'stem', 'ext'] as const;

function memberTemplate(f: Fields, key: string, value: unknown, example: string): string | undefined {
  const s = f.string(key, value, `a template of file placeholders, e.g. "${example}"`);
  if (s === undefined) return undefined;
  if (s.trim() === '') return f.error(key, `expected a template of file placeholders, e.g. "${example}", got an empty string`);
  const known: readonly string[] = MEMBER_PLACEHOLDERS;
  for (const name of new Set(findPlaceholders(s))) {
    if (known.includes(name)) continue;
    const match = closest(name, [...known]);
    const hint = match === null ? '' : ` (did you mean {${match}}?)`;
    f.error(key, `unknown placeholder {${name}}${hint}; a group key is built from each file's own path: ${known.map((k) => `{${k}}`).join(', ')}`);
  }
  f.placeholderSyntax(key, s);
  return s;
}

function positiveDuration(f: Fields, key: string, value: unknown): number | undefined {
  const ms = f.duration(key, value);
  if (ms === 0) return f.error(key, 'a duration of 0 leaves no time to gather anything; give a positive duration like "30s"');
  return ms;
}

function readCompletion(f: Fields, value: unknown): Completion | undefined {
  const expected = 'one of {count: N}, {marker: "{dir}/scan.done"} or {quiet: 30s}';
  if (value === undefined) return f.error('collect.complete', `missing; say when a group is complete: ${expected}`);
  const m = f.mapping('collect.complete', value, expected);
  if (!m) return undefined;
  f.checkKeys('collect.complete', m, COMPLETE_KEYS, 'collect.complete');
  const given = COMPLETE_KEYS.filter((k) => m[k] !== undefined);
  if (given.length !== 1) {
    return f.error('collect.complete', `expected exactly one of count, marker or quiet, got ${given.length ? given.join(' and ') : 'none'}; keep one`);
  }
  switch (given[0]) {
    case 'count': {
      const count = f.int('collect.complete.count', m.count, 1);
      return count === undefined ? undefined : { kind: 'count', count };
    }
    case 'marker': {
      const marker = memberTemplate(f, 'collect.complete.marker', m.marker, '{dir}/scan.done');
      return marker === undefined ? undefined : { kind: 'marker', marker };
    }
    case 'quiet': {
      const quietMs = positiveDuration(f, 'collect.complete.quiet', m.quiet);
      return quietMs === undefined ? undefined : { kind: 'quiet', quietMs };
    }
    default:
      return undefined;
  }
}

/** `collect: {by, complete, timeout, on_timeout}`; undefined after recording errors. */
export function readCollect(f: Fields, value: unknown): CollectSpec | undefined {
  const m = f.mapping('collect', value, 'a mapping like {by: "{dir}", complete: {count: 180}}');
  if (!m) return undefined;
  f.checkKeys('collect', m, COLLECT_KEYS, 'collect');
  const by = m.by === undefined ? f.error('collect.by', 'missing; give the group key, built from placeholders of each file, e.g. "{dir}"') : memberTemplate(f, 'collect.by', m.by, '{dir}');
  const complete = readCompletion(f, m.complete);
  const timeoutMs = m.timeout === undefined || m.timeout === null ? null : positiveDuration(f, 'collect.timeout', m.timeout);
  const onTimeout = m.on_timeout === undefined ? 'run' : f.oneOf('collect.on_timeout', m.on_timeout, ON_TIMEOUT);
  if (m.on_timeout !== undefined && m.timeout === undefined) f.error('collect.on_timeout', 'has no effect without "collect.timeout"; add a timeout like "1h" or remove on_timeout');
  if (by === undefined || complete === undefined || timeoutMs === undefined || onTimeout === undefined) return undefined;
  return { by, complete, timeoutMs, onTimeout };
}

/** `batch: {max_files, max_wait, by}`; undefined after recording errors. */
export function readBatch(f: Fields, value: unknown): BatchSpec | undefined {
  const m = f.mapping('batch', value, 'a mapping like {max_files: 500, max_wait: 2s}');
  if (!m) return undefined;
  f.checkKeys('batch', m, BATCH_KEYS, 'batch');
  const maxFiles = m.max_files === undefined || m.max_files === null ? null : f.int('batch.max_files', m.max_files, 1);
  const maxWaitMs = m.max_wait === undefined || m.max_wait === null ? null : positiveDuration(f, 'batch.max_wait', m.max_wait);
  const by = m.by === undefined || m.by === null ? null : memberTemplate(f, 'batch.by', m.by, '{dir}');
  if (maxFiles === null && maxWaitMs === null) {
    return f.error('batch', `a batch needs max_files, max_wait or both to know when it closes, got ${describe(value)}; e.g. {max_files: 500, max_wait: 2s}`);
  }
  if (maxFiles === undefined || maxWaitMs === undefined || by === undefined) return undefined;
  return { maxFiles, maxWaitMs, by };
}

/** Checks that fit no single key: collect with batch, and event kinds a set cannot be made of. */
export function checkFanIn(f: Fields, collect: unknown, batch: unknown, events: readonly string[] | undefined): void {
  if (collect !== undefined && batch !== undefined) {
    f.error('batch', 'a pattern either collects complete groups or batches files, not both; remove "collect" or "batch"');
  }
  if ((collect !== undefined || batch !== undefined) && events?.includes('deleted')) {
    f.error(joinKey('trigger', 'events'), `a ${collect !== undefined ? 'collect' : 'batch'} pattern gathers files that exist, so "deleted" cannot trigger it; remove "deleted" from trigger.events`);
  }
}
