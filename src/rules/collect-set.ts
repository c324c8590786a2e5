/**
 * Set jobs as values: the idempotence key of a set (its members and their
 * content versions), and the sets that files already present make when a
 * fan-in pattern is registered (MEOW rule 4, grouped the same way as live
 * events).
 */
import { createHash } from 'node:crypto';
import { compileRule, triggersRetroactively } from './matcher.js';
import { decide, fanInOf, groupKeyOf, markerOf, openGroup, type FireReason, type Group, type Member } from './collect-group.js';
import type { FileEvent, Rule } from '../core/types.js';

/** A group that fires: one job (per sweep point) over these members. */
export interface FiredSet {
  rule: Rule;
  key: string;
  members: Member[];
  reason: FireReason;
  /** Set when the group failed instead (collect timeout with on_timeout: fail). */
  error: string | null;
}

/**
 * The content version of a set: a hash of its members' paths and versions,
 * so a changed or added member gives a new job key and a duplicate event the same one.
 */
export function setVersion(members: readonly Member[]): string {
  const h = createHash('sha256');
  for (const line of members.map((m) => `${m.path}\0${m.version}`).sort()) h.update(`${line}\n`);
  return `set:${members.length}:${h.digest('base64url').slice(0, 22)}`;
}

/** The `input` of a set job: the group key of a collect set, the first member of a batch. */
export function setInput(rule: Rule, key: string, members: readonly Member[]): string {
  return fanInOf(rule.pattern)?.kind === 'collect' ? key : (members[0]?.path ?? key);
}

/** A file the engine knows, as fan-in needs it. */
export interface KnownFile {
  version: string;
  generation?: number;
  cause?: string | null;
}

/** What files already present make of a fan-in rule: sets that fire now, groups left open. */
export interface ExistingSets {
  fire: FiredSet[];
  open: Group[];
  /** Files the rule covers. */
  files: number;
}

/**
 * Groups the files already present for a newly registered fan-in rule. A
 * collect group is complete now when it has its count or its marker exists;
 * a quiet group opens and fires after its quiet time; other incomplete groups
 * stay open. Existing files of a batch pattern fire at once, in batches of
 * at most max_files (in path order): nothing more is coming for them.
 */
export function groupExisting(rule: Rule, files: ReadonlyMap<string, KnownFile>, now: number): ExistingSets {
  const fan = fanInOf(rule.pattern);
  if (!fan) return { fire: [], open: [], files: 0 };
  const c = compileRule(rule);
  const byKey = new Map<string, Member[]>();
  let count = 0;
  for (const [path, st] of files) {
    if (!triggersRetroactively(c, path)) continue;
    count++;
    const key = groupKeyOf(fan, path);
    let list = byKey.get(key);
    if (!list) byKey.set(key, (list = []));
    list.push({ path, version: st.version, generation: st.generation ?? 0, cause: st.cause ?? null });
  }
  const out: ExistingSets = { fire: [], open: [], files: count };
  for (const key of [...byKey.keys()].sort()) {
    const members = (byKey.get(key) ?? []).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    if (fan.kind === 'batch') {
      const size = fan.spec.maxFiles ?? members.length;
      for (let i = 0; i < members.length; i += size) out.fire.push({ rule, key, members: members.slice(i, i + size), reason: 'existing', error: null });
      continue;
    }
    const marker = markerOf(fan, members[0].path);
    const g = openGroup(rule.name, rule.version, key, members[0], marker, now);
    g.members = members;
    if (marker !== null && files.has(marker)) g.markerAt = now - 1e9;
    const d = decide(rule.pattern, g, now);
    if (d.kind === 'fire') out.fire.push({ rule, key, members, reason: d.reason === 'marker' ? 'existing' : d.reason, error: null });
    else out.open.push(g);
  }
  return out;
}

/**
 * The event a set job is built from: its input (group key or first member),
 * the set's version, and the generation and cause of its newest member (the
 * deepest in a cascade), so max_generation and lineage see the set as one input.
 */
export function setEvent(set: FiredSet): FileEvent {
  let top: Member | null = null;
  for (const m of set.members) if (top === null || m.generation > top.generation) top = m;
  return {
    kind: 'created',
    path: setInput(set.rule, set.key, set.members),
    oldPath: null,
    version: setVersion(set.members),
    generation: top?.generation ?? 0,
    cause: top?.cause ?? null,
  };
}
