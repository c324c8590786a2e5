import { nowIso } from '../core/ids.js';
import { matchEvent, triggersRetroactively, type CompiledRule, type RuleSet } from '../rules/matcher.js';
import { expandSweep } from '../rules/sweep.js';
import { isDiskFull } from '../runner/disk-space.js';
import { newJobRecord } from './job-record.js';
import { fanInOf } from '../rules/collect-group.js';
import { setEvent, type FiredSet } from '../rules/collect-set.js';
import type { FanIn } from '../runner/fan-in.js';
import type { FileEvent, JobRecord, Rule, WorkspaceConfig } from '../core/types.js';
import type { FileState } from '../rules/tree-diff.js';
import type { EmitEvent, JobTransitions } from '../store/job-transitions.js';
import type { Store } from '../store/store.js';
import type { Outputs } from './outputs.js';
import type { Provenance } from './provenance.js';

/** A file event (or retroactive trigger) paired with the rules it triggers. */
export interface Trigger {
  event: FileEvent;
  rules: Rule[];
  ino: number | null;
  /** Retroactive triggers do not change the files table. */
  record: boolean;
  /** The event is an undeclared output of its cause job. */
  inferred?: boolean;
}

/** What one intake did: the jobs it created (queued, committed), or that the disk was full and nothing was recorded. */
export type IntakeResult = { created: JobRecord[]; diskFull: null } | { created: []; diskFull: unknown };

/**
 * Intake: file events (and retroactive triggers) become recorded events and
 * new jobs in one transaction. Events are emitted after the commit; the
 * caller queues the created jobs.
 */
export class Intake {
  constructor(
    private readonly config: WorkspaceConfig,
    private readonly store: Store,
    private readonly transitions: JobTransitions,
    private readonly provenance: Provenance,
    private readonly outputs: Outputs,
    private readonly fanIn: FanIn,
    private readonly emit: EmitEvent,
  ) {}

  /** Settled file events, attributed to the job that wrote them when it did, matched against the rules. */
  triggersOf(events: readonly FileEvent[], rules: RuleSet, states?: ReadonlyMap<string, FileState>, trigger = true): Trigger[] {
    return events.map((raw) => {
      // A file a job wrote without declaring it is its (inferred) output.
      const by = this.outputs.attribute(raw);
      const event = by ? { ...raw, cause: by.jobId, generation: by.generation } : raw;
      // What a job cancelled for a rule change wrote is recorded, and triggers nothing.
      const matched = trigger && this.outputs.cascades(event.cause) ? matchEvent(event, rules) : [];
      return { event, rules: matched, ino: states?.get(event.path)?.ino ?? null, record: true, inferred: by !== null };
    });
  }

  /** Retroactive triggers of new or changed rules on the files of the current tree (MEOW rule 4). */
  static retroactive(rules: readonly CompiledRule[], files: ReadonlyMap<string, FileState>): Trigger[] {
    const triggers: Trigger[] = [];
    for (const c of rules) {
      // A set pattern groups the files there instead (FanIn.retro).
      if (fanInOf(c.rule.pattern)) continue;
      for (const [path, st] of files) {
        if (!triggersRetroactively(c, path)) continue;
        const event: FileEvent = { kind: 'created', path, oldPath: null, version: st.version, generation: st.generation ?? 0, cause: st.cause ?? null };
        triggers.push({ event, rules: [c.rule], ino: st.ino, record: false });
      }
    }
    return triggers;
  }

  /**
   * Records triggers and creates their jobs in one transaction. `before`
   * runs first in the same transaction (a registration whose retroactive
   * jobs these are: a crash never keeps one without the other); `sets`
   * changes fan-in groups (registrations, timers) and returns the sets that
   * fire, whose jobs commit with it.
   */
  record(triggers: readonly Trigger[], opts: { before?: () => void; sets?: (nowMs: number) => FiredSet[] } = {}): IntakeResult {
    if (triggers.length === 0 && !opts.before && !opts.sets) return { created: [], diskFull: null };
    const created: JobRecord[] = [];
    try {
      this.transitions.batch(() => {
        opts.before?.();
        const nowMs = Date.now();
        this.recordAll(triggers, created, opts.sets?.(nowMs) ?? [], nowMs);
      });
    } catch (err) {
      // The groups in memory follow the database, which rolled back.
      this.fanIn.load();
      if (!isDiskFull(err)) throw err;
      // Nothing of the batch was recorded (the transaction rolled back), so the scan after space returns sees it all again.
      return { created: [], diskFull: err };
    }
    for (const job of created) this.provenance.hashInput(job);
    return { created, diskFull: null };
  }

  private recordAll(triggers: readonly Trigger[], created: JobRecord[], sets: FiredSet[], nowMs: number): void {
    const now = nowIso();
    const known = (p: string) => this.store.getFile(p) !== null;
    const max = this.config.maxGeneration;
    const { lineage } = this.provenance;
    for (const t of triggers) {
      if (t.record) {
        this.store.recordEvent(t.event, t.ino);
        this.transitions.afterCommit(() => this.emit('file:event', t.event));
        sets.push(...this.fanIn.observe(t.event, t.rules, nowMs, known));
      }
      if (t.record && t.event.cause && t.event.kind !== 'deleted') lineage.recordOutput(t.event.cause, t.event.path, t.event.version, t.inferred ?? false);
      const guard = t.rules.length && t.event.generation > max ? this.provenance.loopError(t.event, max) : null;
      for (const rule of t.rules) {
        if (fanInOf(rule.pattern)) continue;
        for (const point of expandSweep(rule.pattern.sweep)) {
          const job = newJobRecord(rule, t.event, Object.keys(point).length ? point : null, now, this.config.root);
          // Past max_generation the job is recorded as failed, never run: a runaway loop stops here.
          if (guard) Object.assign(job, { status: 'failed', error: guard, finishedAt: now });
          if (!this.transitions.create(job)) continue;
          if (job.status === 'failed') this.transitions.afterCommit(() => this.emit('log', 'error', `${job.pattern}: ${job.error}`));
          lineage.insert(this.provenance.rowOf(job, rule));
          if (job.status !== 'failed') created.push(job);
        }
      }
    }
    for (const set of sets) this.recordSet(set, created, now, max);
  }

  /** The jobs of one fired (or failed) set: one per sweep point, its members recorded in lineage. */
  private recordSet(set: FiredSet, created: JobRecord[], now: string, max: number): void {
    const event = setEvent(set);
    const guard = set.error ?? (event.generation > max ? this.provenance.loopError(event, max) : null);
    const list = set.members.map((m) => m.path);
    const { lineage } = this.provenance;
    for (const point of expandSweep(set.rule.pattern.sweep)) {
      const job = newJobRecord(set.rule, event, Object.keys(point).length ? point : null, now, this.config.root);
      job.inputs = list;
      job.variables[set.rule.pattern.input] = list;
      if (guard) Object.assign(job, { status: 'failed', error: guard, finishedAt: now });
      if (!this.transitions.create(job)) continue;
      if (job.status === 'failed') this.transitions.afterCommit(() => this.emit('log', 'error', `${job.pattern}: ${job.error}`));
      lineage.insert(this.provenance.rowOf(job, set.rule));
      for (const m of set.members) lineage.recordInput(job.id, m.path, m.version, false);
      if (job.status !== 'failed') created.push(job);
    }
  }
}
