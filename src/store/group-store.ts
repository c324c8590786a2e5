import type Database from 'better-sqlite3';
import type { Group, Member } from '../rules/collect-group.js';

interface GroupRow {
  pattern: string;
  key: string;
  rule_version: string;
  state: 'open' | 'fired';
  marker: string | null;
  marker_at: number | null;
  first_at: number;
  last_at: number;
}

interface MemberRow {
  pattern: string;
  key: string;
  path: string;
  version: string;
  generation: number;
  cause: string | null;
}

const toMember = (r: MemberRow): Member => ({ path: r.path, version: r.version, generation: r.generation, cause: r.cause });

/**
 * Fan-in groups in SQLite: open groups (so a half-written scan survives a
 * restart or a crash) and fired collect groups with their members (so a
 * later change re-runs the whole set). Every write belongs to the caller's
 * transaction, beside the events and jobs it goes with.
 */
export class GroupStore {
  private readonly s;

  constructor(private readonly db: Database.Database) {
    this.s = {
      upsertGroup: db.prepare(
        `INSERT INTO fanin_groups (pattern, key, rule_version, state, marker, marker_at, first_at, last_at)
         VALUES (@pattern, @key, @rule_version, @state, @marker, @marker_at, @first_at, @last_at)
         ON CONFLICT (pattern, key) DO UPDATE SET rule_version = excluded.rule_version, state = excluded.state, marker = excluded.marker,
           marker_at = excluded.marker_at, first_at = excluded.first_at, last_at = excluded.last_at`,
      ),
      upsertMember: db.prepare(
        `INSERT INTO fanin_members (pattern, key, path, version, generation, cause) VALUES (?, ?, ?, ?, ?, ?)
         ON CONFLICT (pattern, key, path) DO UPDATE SET version = excluded.version, generation = excluded.generation, cause = excluded.cause`,
      ),
      deleteMember: db.prepare('DELETE FROM fanin_members WHERE pattern = ? AND key = ? AND path = ?'),
      deleteMembersAt: db.prepare('DELETE FROM fanin_members WHERE path = ?'),
      deleteGroup: db.prepare('DELETE FROM fanin_groups WHERE pattern = ? AND key = ?'),
      deleteGroupMembers: db.prepare('DELETE FROM fanin_members WHERE pattern = ? AND key = ?'),
      deletePattern: db.prepare('DELETE FROM fanin_groups WHERE pattern = ?'),
      deletePatternMembers: db.prepare('DELETE FROM fanin_members WHERE pattern = ?'),
      taken: db.prepare(
        'SELECT 1 FROM job_inputs i JOIN jobs j ON j.id = i.job_id WHERE i.path = ? AND (? IS NULL OR i.version = ?) AND i.declared = 0 AND j.pattern = ? AND j.rule_version = ? AND j.key IS NOT NULL LIMIT 1',
      ),
      getGroup: db.prepare('SELECT * FROM fanin_groups WHERE pattern = ? AND key = ?'),
      membersOf: db.prepare('SELECT * FROM fanin_members WHERE pattern = ? AND key = ? ORDER BY rowid'),
      open: db.prepare("SELECT * FROM fanin_groups WHERE state = 'open' ORDER BY pattern, key"),
      openMembers: db.prepare(
        "SELECT m.* FROM fanin_members m JOIN fanin_groups g ON g.pattern = m.pattern AND g.key = m.key WHERE g.state = 'open' ORDER BY m.rowid",
      ),
    };
  }

  private toGroup(r: GroupRow, members: Member[]): Group {
    return { pattern: r.pattern, key: r.key, ruleVersion: r.rule_version, state: r.state, members, marker: r.marker, markerAt: r.marker_at, firstAt: r.first_at, lastAt: r.last_at };
  }

  /** Every open group with its members, in arrival order. */
  openGroups(): Group[] {
    const members = new Map<string, Member[]>();
    for (const r of this.s.openMembers.all() as MemberRow[]) {
      const id = `${r.pattern}\0${r.key}`;
      const list = members.get(id);
      if (list) list.push(toMember(r));
      else members.set(id, [toMember(r)]);
    }
    return (this.s.open.all() as GroupRow[]).map((r) => this.toGroup(r, members.get(`${r.pattern}\0${r.key}`) ?? []));
  }

  /** A group in any state, with its members. */
  get(pattern: string, key: string): Group | null {
    const r = this.s.getGroup.get(pattern, key) as GroupRow | undefined;
    if (!r) return null;
    return this.toGroup(r, (this.s.membersOf.all(pattern, key) as MemberRow[]).map(toMember));
  }

  /** True when a set job of this rule version already has the file (this version of it, unless null) as a member. */
  taken(pattern: string, ruleVersion: string, path: string, version: string | null): boolean {
    return this.s.taken.get(path, version, version, pattern, ruleVersion) !== undefined;
  }

  /** Writes the group's own row (state, marker, times). */
  saveGroup(g: Group): void {
    this.s.upsertGroup.run({ pattern: g.pattern, key: g.key, rule_version: g.ruleVersion, state: g.state, marker: g.marker, marker_at: g.markerAt, first_at: g.firstAt, last_at: g.lastAt });
  }

  saveMember(g: Group, m: Member): void {
    this.s.upsertMember.run(g.pattern, g.key, m.path, m.version, m.generation, m.cause);
  }

  /** Writes a whole group: its row and exactly these members. */
  replace(g: Group): void {
    this.saveGroup(g);
    this.s.deleteGroupMembers.run(g.pattern, g.key);
    for (const m of g.members) this.saveMember(g, m);
  }

  removeMember(g: Group, path: string): void {
    this.s.deleteMember.run(g.pattern, g.key, path);
  }

  /** Forgets a path in every group (its file is gone). */
  removePath(path: string): void {
    this.s.deleteMembersAt.run(path);
  }

  removeGroup(pattern: string, key: string): void {
    this.s.deleteGroup.run(pattern, key);
    this.s.deleteGroupMembers.run(pattern, key);
  }

  /** Forgets every group of a pattern (removed or changed: its files are grouped afresh). */
  removePattern(pattern: string): void {
    this.s.deletePattern.run(pattern);
    this.s.deletePatternMembers.run(pattern);
  }
}
