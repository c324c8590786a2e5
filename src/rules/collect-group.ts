/**
 * Fan-in groups as values: how files of a `collect` or `batch` pattern gather
 * into groups, and when a group fires. No clock: every function takes `now`
 * (milliseconds), so the engine owns the timers and tests own time.
 *
 * A group's life:
 *
 *   (first member) ──► open ──► fire ──► (collect) fired ──► open again when a
 *                        │                 member changes or a new one appears
 *                        │                (batch) the taken members leave; the
 *                        │                rest stay open as the next batch
 *                        └──► fail (collect timeout with on_timeout: fail)
 *
 * collect: open until complete — `count` members, the `marker` file present
 * (and the pattern's settle time past it, so members written before the
 * marker have been seen), or `quiet` with no new member — or until `timeout`
 * after its first member, when it runs anyway or fails (`on_timeout`).
 * batch: open until `max_files` members (it takes exactly that many) or
 * `max_wait` after it opened (it takes all).
 */
import { expandPlaceholders, fileValues } from '../core/placeholders.js';
import type { BatchSpec, CollectSpec, ParsedPattern } from '../core/types.js';

/** One file of a group, with the content version it had when it joined. */
export interface Member {
  path: string;
  version: string;
  generation: number;
  cause: string | null;
}

/** A group of one fan-in pattern, open or (collect only) fired. */
export interface Group {
  pattern: string;
  ruleVersion: string;
  key: string;
  state: 'open' | 'fired';
  /** In arrival order; a member that changes keeps its place. */
  members: Member[];
  /** The marker file this group waits for (collect with `complete: {marker}`). */
  marker: string | null;
  /** When the marker was seen, or null. */
  markerAt: number | null;
  /** When the group (or, for a batch, the current batch) opened. */
  firstAt: number;
  /** When the last member joined or changed. */
  lastAt: number;
}

/** Why a group fired. */
export type FireReason = 'count' | 'marker' | 'quiet' | 'timeout' | 'max_files' | 'max_wait' | 'existing';

/** What to do with a group now. */
export type GroupDecision =
  | { kind: 'wait'; dueAt: number | null }
  | { kind: 'fire'; reason: FireReason; take: number }
  | { kind: 'fail'; error: string };

/** The fan-in of a pattern: collect, batch, or neither. Old registered definitions lack the keys. */
export type FanIn = { kind: 'collect'; spec: CollectSpec } | { kind: 'batch'; spec: BatchSpec };

export function fanInOf(p: ParsedPattern): FanIn | null {
  if (p.collect) return { kind: 'collect', spec: p.collect };
  if (p.batch) return { kind: 'batch', spec: p.batch };
  return null;
}

/** The group key of a file: the `by` template expanded with the file's placeholders ('' for an unkeyed batch). */
export function groupKeyOf(fan: FanIn, path: string): string {
  const by = fan.spec.by;
  return by === null ? '' : expandPlaceholders(by, fileValues(path, ''));
}

/** The marker file a member's group waits for, or null. */
export function markerOf(fan: FanIn, path: string): string | null {
  if (fan.kind !== 'collect' || fan.spec.complete.kind !== 'marker') return null;
  return expandPlaceholders(fan.spec.complete.marker, fileValues(path, '')).replace(/^\.\//, '');
}

/** A new open group holding one member. */
export function openGroup(pattern: string, ruleVersion: string, key: string, member: Member, marker: string | null, now: number): Group {
  return { pattern, ruleVersion, key, state: 'open', members: [member], marker, markerAt: null, firstAt: now, lastAt: now };
}

/**
 * Adds a member (or its new version) to a group. A fired collect group opens
 * again: the set it made is re-run with the change. Returns false when the
 * member was already there with this version (a duplicate event).
 */
export function addMember(g: Group, m: Member, now: number): boolean {
  const i = g.members.findIndex((x) => x.path === m.path);
  if (i >= 0 && g.members[i].version === m.version) return false;
  if (i >= 0) g.members[i] = m;
  else g.members.push(m);
  if (g.state === 'fired') {
    g.state = 'open';
    g.firstAt = now;
  }
  g.lastAt = now;
  return true;
}

/** Removes a member (its file was deleted or moved away). True when it was there. */
export function removeMember(g: Group, path: string): boolean {
  const i = g.members.findIndex((x) => x.path === path);
  if (i < 0) return false;
  g.members.splice(i, 1);
  return true;
}

/** How long after the marker appears a group fires: members written before it must have settled. */
export function markerGraceMs(p: ParsedPattern): number {
  return p.trigger.settleMs + 50;
}

const min = (a: number | null, b: number | null): number | null => (a === null ? b : b === null ? a : Math.min(a, b));

/** What an open group should do at `now`. Fired groups always wait. */
export function decide(p: ParsedPattern, g: Group, now: number): GroupDecision {
  const fan = fanInOf(p);
  if (!fan || g.state !== 'open' || g.members.length === 0) return { kind: 'wait', dueAt: null };
  if (fan.kind === 'batch') {
    const { maxFiles, maxWaitMs } = fan.spec;
    if (maxFiles !== null && g.members.length >= maxFiles) return { kind: 'fire', reason: 'max_files', take: maxFiles };
    if (maxWaitMs === null) return { kind: 'wait', dueAt: null };
    const due = g.firstAt + maxWaitMs;
    return now >= due ? { kind: 'fire', reason: 'max_wait', take: g.members.length } : { kind: 'wait', dueAt: due };
  }
  const { complete, timeoutMs, onTimeout } = fan.spec;
  const all = g.members.length;
  let due: number | null = null;
  switch (complete.kind) {
    case 'count':
      if (all >= complete.count) return { kind: 'fire', reason: 'count', take: all };
      break;
    case 'marker':
      if (g.markerAt !== null) {
        const at = g.markerAt + markerGraceMs(p);
        if (now >= at) return { kind: 'fire', reason: 'marker', take: all };
        due = at;
      }
      break;
    case 'quiet': {
      const at = g.lastAt + complete.quietMs;
      if (now >= at) return { kind: 'fire', reason: 'quiet', take: all };
      due = at;
      break;
    }
    default: {
      const never: never = complete;
      throw new Error(`unknown completion ${JSON.stringify(never)}`);
    }
  }
  if (timeoutMs !== null) {
    const at = g.firstAt + timeoutMs;
    if (now >= at) {
      if (onTimeout === 'run') return { kind: 'fire', reason: 'timeout', take: all };
      return { kind: 'fail', error: `the group "${g.key}" was still incomplete ${describeProgress(p, g)} when collect.timeout ran out; on_timeout: fail` };
    }
    due = min(due, at);
  }
  return { kind: 'wait', dueAt: due };
}

/** How far an open group is from complete, in words: "12 of 180 files", "waiting for raw/s1/scan.done". */
export function describeProgress(p: ParsedPattern, g: Group): string {
  const fan = fanInOf(p);
  const n = g.members.length;
  const files = `${n} file${n === 1 ? '' : 's'}`;
  if (!fan) return files;
  if (fan.kind === 'batch') return fan.spec.maxFiles === null ? files : `${n} of ${fan.spec.maxFiles} files`;
  const c = fan.spec.complete;
  if (c.kind === 'count') return `${n} of ${c.count} files`;
  if (c.kind === 'marker') return `${files}, ${g.markerAt === null ? 'waiting for' : 'seen'} ${g.marker ?? 'its marker'}`;
  return `${files}, complete after ${c.quietMs} ms without a new one`;
}

/**
 * Fires a group: returns the members the job takes. A collect group becomes
 * `fired` and keeps its members (a later change re-runs the set); a batch
 * keeps only what it did not take, as the next batch opening now.
 */
export function fire(p: ParsedPattern, g: Group, take: number, now: number): Member[] {
  const fan = fanInOf(p);
  if (fan?.kind === 'batch') {
    const taken = g.members.splice(0, take);
    g.firstAt = now;
    return taken;
  }
  g.state = 'fired';
  return [...g.members];
}
