import { addMember, decide, describeProgress, fanInOf, fire, groupKeyOf, markerOf, openGroup, removeMember, type Group, type GroupDecision } from '../rules/collect-group.js';
import { groupExisting, type FiredSet, type KnownFile } from '../rules/collect-set.js';
import { GroupStore } from '../store/group-store.js';
import type Database from 'better-sqlite3';
import type { FileEvent, Rule } from '../core/types.js';

/** A pending group as `meow status --json` and `meow jobs` show it. */
export interface PendingSet {
  pattern: string;
  key: string;
  members: number;
  /** How far it is from complete, in words. */
  progress: string;
  first_at: string;
  /** When a timer fires it (quiet, marker, max_wait, timeout), or null when it waits for files. */
  due_at: string | null;
}

const idOf = (pattern: string, key: string) => `${pattern}\0${key}`;

/** How often a set that is complete but has members still settling looks again (their events also wake it). */
const HELD_RECHECK_MS = 50;

/** A marker or a quiet time completes a set only once no member is still being written. */
const waitsForSettling = (d: GroupDecision): boolean => d.kind === 'fire' && (d.reason === 'marker' || d.reason === 'quiet');

/**
 * The engine's fan-in: open groups in memory, mirrored in the database
 * (GroupStore) inside the caller's transaction, and one timer for the
 * earliest group due (quiet, marker grace, max_wait, timeout). Every method
 * that changes groups must run inside a store transaction; the sets it
 * returns become jobs in that same transaction.
 */
export class FanIn {
  private readonly groups: GroupStore;
  private readonly open = new Map<string, Group>();
  /** Open groups waiting for a marker, by marker path. */
  private readonly markers = new Map<string, Set<string>>();
  private timer: NodeJS.Timeout | null = null;
  private closed = false;

  constructor(
    db: Database.Database,
    private readonly ruleOf: (pattern: string) => Rule | null,
    private readonly onDue: () => void,
    /** True while files of the group are still settling (live engines; never in a batch run). */
    private readonly settling: (pattern: string, key: string) => boolean = () => false,
  ) {
    this.groups = new GroupStore(db);
  }

  /** Loads the open groups a previous run left (after the rules are registered). */
  load(): void {
    this.open.clear();
    this.markers.clear();
    for (const g of this.groups.openGroups()) this.track(g);
  }

  private track(g: Group): void {
    this.open.set(idOf(g.pattern, g.key), g);
    if (g.marker !== null && g.markerAt === null) {
      let set = this.markers.get(g.marker);
      if (!set) this.markers.set(g.marker, (set = new Set()));
      set.add(idOf(g.pattern, g.key));
    }
  }

  private untrack(g: Group): void {
    this.open.delete(idOf(g.pattern, g.key));
    if (g.marker !== null) this.markers.get(g.marker)?.delete(idOf(g.pattern, g.key));
  }

  /**
   * One settled event: a file of a fan-in rule joins its group (which may
   * fire), a marker completes the groups waiting for it, a deleted or moved
   * file leaves its groups. `known` says whether a path exists now (markers
   * written before the first member).
   */
  observe(event: FileEvent, rules: readonly Rule[], now: number, known: (path: string) => boolean): FiredSet[] {
    const fired: FiredSet[] = [];
    const gone = event.kind === 'deleted' ? event.path : event.kind === 'moved' ? event.oldPath : null;
    if (gone !== null) this.forget(gone);
    if (event.kind !== 'deleted') {
      const waiting = this.markers.get(event.path);
      if (waiting) {
        for (const id of waiting) {
          const g = this.open.get(id);
          if (!g) continue;
          g.markerAt = now;
          this.groups.saveGroup(g);
        }
        this.markers.delete(event.path);
        fired.push(...this.settle([...waiting], now));
      }
    }
    for (const rule of rules) {
      const fan = fanInOf(rule.pattern);
      if (!fan || event.kind === 'deleted') continue;
      const key = groupKeyOf(fan, event.path);
      const member = { path: event.path, version: event.version, generation: event.generation, cause: event.cause };
      const id = idOf(rule.name, key);
      let g = this.open.get(id) ?? this.groups.get(rule.name, key);
      // A duplicate event of a file a batch already took stays out of the next batch; so does any later
      // version of it when the pattern does not listen to `modified` (a rescan may have seen it half written).
      if (fan.kind === 'batch' && !g?.members.some((x) => x.path === event.path)) {
        const anyVersion = !rule.pattern.trigger.events.includes('modified');
        if (this.groups.taken(rule.name, rule.version, event.path, anyVersion ? null : event.version)) continue;
      }
      if (!g || g.ruleVersion !== rule.version) {
        const marker = markerOf(fan, event.path);
        g = openGroup(rule.name, rule.version, key, member, marker, now);
        if (marker !== null && known(marker)) g.markerAt = now;
        this.groups.replace(g);
      } else {
        const reopened = g.state === 'fired';
        if (!addMember(g, member, now)) continue;
        // A finished set re-runs once complete again: its marker, if still there, counts from now (members may still be settling).
        if (reopened && g.marker !== null) g.markerAt = known(g.marker) ? now : null;
        this.groups.saveGroup(g);
        this.groups.saveMember(g, member);
      }
      this.track(g);
      fired.push(...this.settle([id], now));
    }
    return fired;
  }

  /** A path is gone: it leaves every group. */
  private forget(path: string): void {
    for (const g of this.open.values()) {
      if (removeMember(g, path) && g.members.length === 0) {
        this.untrack(g);
        this.groups.removeGroup(g.pattern, g.key);
      }
    }
    this.groups.removePath(path);
  }

  /** Fires or fails the given open groups when they are due. */
  private settle(ids: readonly string[], now: number): FiredSet[] {
    const out: FiredSet[] = [];
    for (const id of ids) {
      const g = this.open.get(id);
      const rule = g ? this.ruleOf(g.pattern) : null;
      if (!g || !rule) continue;
      for (;;) {
        const d = decide(rule.pattern, g, now);
        if (d.kind === 'wait' || (waitsForSettling(d) && this.settling(g.pattern, g.key))) break;
        if (d.kind === 'fail') {
          out.push({ rule, key: g.key, members: [...g.members], reason: 'timeout', error: d.error });
          this.untrack(g);
          this.groups.removeGroup(g.pattern, g.key);
          break;
        }
        const members = fire(rule.pattern, g, d.take, now);
        out.push({ rule, key: g.key, members, reason: d.reason, error: null });
        if (g.state === 'fired') {
          this.untrack(g);
          this.groups.saveGroup(g);
          break;
        }
        // A batch: the taken members leave; what remains is the next batch.
        for (const m of members) this.groups.removeMember(g, m.path);
        if (g.members.length === 0) {
          this.untrack(g);
          this.groups.removeGroup(g.pattern, g.key);
          break;
        }
        this.groups.saveGroup(g);
      }
    }
    return out;
  }

  /** Every group due by `now` (timers), fired or failed. */
  due(now: number): FiredSet[] {
    return this.settle([...this.open.keys()], now);
  }

  /**
   * Earliest time a timer must look at the groups, or null. Without
   * `timeouts`, collect.timeout is left out: `run --until-idle` waits for a
   * marker's settle time, quiet and max_wait, not for an hour-long timeout.
   */
  /**
   * For `run --until-idle`: waits until the next group on a short timer
   * (marker settle, quiet, max_wait; not `timeout`) is due. False when none is.
   */
  async untilDue(): Promise<boolean> {
    const due = this.nextDue(Date.now(), false);
    if (due === null) return false;
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 5));
    return true;
  }

  nextDue(now: number, timeouts = true): number | null {
    let next: number | null = null;
    for (const g of this.open.values()) {
      const rule = this.ruleOf(g.pattern);
      if (!rule) continue;
      const p = !timeouts && rule.pattern.collect ? { ...rule.pattern, collect: { ...rule.pattern.collect, timeoutMs: null } } : rule.pattern;
      const d = decide(p, g, now);
      const at = d.kind === 'wait' ? d.dueAt : waitsForSettling(d) && this.settling(g.pattern, g.key) ? now + HELD_RECHECK_MS : now;
      if (at !== null && (next === null || at < next)) next = at;
    }
    return next;
  }

  /** Sets the one timer for the earliest due group. */
  schedule(now = Date.now()): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.closed) return;
    const next = this.nextDue(now);
    if (next === null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.onDue();
    }, Math.max(0, next - now) + 1);
    this.timer.unref();
  }

  /**
   * For a definitions change: forgets the groups of removed and changed set
   * patterns and forms those of the fresh ones from the files there (MEOW
   * rule 4), inside the caller's transaction; returns the sets that fire.
   */
  regroup(changes: readonly { name: string; before: Rule | null }[], fresh: readonly Rule[], files: ReadonlyMap<string, KnownFile>): (nowMs: number) => FiredSet[] {
    return (nowMs) => {
      for (const c of changes) if (c.before && fanInOf(c.before.pattern)) this.dropPattern(c.name);
      return fresh.flatMap((rule) => (fanInOf(rule.pattern) ? this.retro(rule, files, nowMs) : []));
    };
  }

  /** A pattern was removed or changed: its groups are forgotten. */
  dropPattern(pattern: string): void {
    for (const g of [...this.open.values()]) if (g.pattern === pattern) this.untrack(g);
    this.groups.removePattern(pattern);
  }

  /** A fan-in rule was registered: the files already present are grouped (MEOW rule 4). */
  retro(rule: Rule, files: ReadonlyMap<string, KnownFile>, now: number): FiredSet[] {
    const found = groupExisting(rule, files, now);
    for (const g of found.open) {
      this.groups.replace(g);
      this.track(g);
    }
    const fan = fanInOf(rule.pattern);
    for (const s of found.fire) {
      if (fan?.kind !== 'collect') continue;
      const marker = markerOf(fan, s.members[0].path);
      const g: Group = { pattern: rule.name, ruleVersion: rule.version, key: s.key, state: 'fired', members: s.members, marker, markerAt: marker === null ? null : now, firstAt: now, lastAt: now };
      this.groups.replace(g);
    }
    return found.fire;
  }

  /** The open groups, for status and the job list. */
  pending(): PendingSet[] {
    const now = Date.now();
    const out: PendingSet[] = [];
    for (const g of this.open.values()) {
      const rule = this.ruleOf(g.pattern);
      if (!rule) continue;
      const d = decide(rule.pattern, g, now);
      const due = d.kind === 'wait' ? d.dueAt : now;
      out.push({
        pattern: g.pattern,
        key: g.key,
        members: g.members.length,
        progress: describeProgress(rule.pattern, g),
        first_at: new Date(g.firstAt).toISOString(),
        due_at: due === null ? null : new Date(due).toISOString(),
      });
    }
    return out.sort((a, b) => (a.pattern + a.key < b.pattern + b.key ? -1 : 1));
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
