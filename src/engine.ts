import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { hostname } from 'node:os';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ApiServer } from './api/server.js';
import { MeowError } from './core/errors.js';
import { parsePattern } from './core/pattern-schema.js';
import { parseRecipe } from './core/recipe-schema.js';
import { DefinitionsWatcher } from './monitor/definitions-watcher.js';
import { FileMonitor } from './monitor/file-monitor.js';
import { Settler } from './monitor/settler.js';
import { FileHasher } from './monitor/file-hasher.js';
import { OutputWindows, mtimeOf } from './monitor/output-windows.js';
import { LineageStore, type LineageRow } from './store/lineage-store.js';
import micromatch from 'micromatch';
import { errorMessage } from './core/errors.js';
import { newJobId, nowIso } from './core/ids.js';
import { readConfig, readDefinitions } from './monitor/definitions-reader.js';
import { scanTree, statFile } from './monitor/scanner.js';
import { jobKey } from './rules/job-key.js';
import { fanInOf } from './rules/collect-group.js';
import { setEvent, type FiredSet } from './rules/collect-set.js';
import { FanIn } from './runner/fan-in.js';
import { linkRules } from './rules/linker.js';
import { compileGlobs, compileRules, matchEvent, triggersRetroactively } from './rules/matcher.js';
import { planChange } from './rules/planner.js';
import { mergeRegistered } from './rules/registration.js';
import { watchScope } from './rules/scope.js';
import { expandSweep } from './rules/sweep.js';
import { diffTree } from './rules/tree-diff.js';
import { expandAll, resolveVariables } from './rules/variables.js';
import { createExecutors } from './runner/executors/index.js';
import { jobDirOf } from './runner/job-dir.js';
import { createBackends } from './runner/backends.js';
import { isDiskFull, spaceAvailable } from './runner/disk-space.js';
import { Scheduler } from './runner/scheduler.js';
import { recoverInterrupted } from './runner/recovery-jobs.js';
import { Store } from './store/store.js';
import type { EngineEvents } from './core/engine-events.js';
import type { DefinitionError, FileEvent, JobRecord, ParsedPattern, ParsedRecipe, Rule, Variables, WorkspaceConfig } from './core/types.js';
import type { RuleSet } from './rules/matcher.js';
import type { Plan } from './rules/planner.js';
import type { WatchScope } from './rules/scope.js';
import type { FileState } from './rules/tree-diff.js';
import type { Backend } from './runner/backend.js';

/** The database file of a workspace. */
export function statePath(root: string): string {
  return join(root, '.meow', 'state.db');
}

/** Definitions as the engine would register them, with the errors met reading them. */
export interface LoadedDefinitions {
  patterns: ParsedPattern[];
  recipes: ParsedRecipe[];
  errors: DefinitionError[];
}

/** A file event (or retroactive trigger) paired with the rules it triggers. */
interface Trigger {
  event: FileEvent;
  rules: Rule[];
  ino: number | null;
  /** Retroactive triggers do not change the files table. */
  record: boolean;
  /** The event is an undeclared output of its cause job. */
  inferred?: boolean;
}

/** A new queued job of `rule` for `event` (and a sweep point): its id, key, directory and resolved variables. */
export function newJobRecord(rule: Rule, event: FileEvent, sweepPoint: Variables | null, now: string, workspace: string): JobRecord {
  const id = newJobId();
  const jobDir = jobDirOf(id);
  const variables = resolveVariables({ rule, event, jobId: id, jobDir, workspace, sweepPoint });
  return {
    id,
    key: jobKey(rule.version, event.path, event.version, sweepPoint),
    pattern: rule.name,
    recipe: rule.recipe.name,
    ruleVersion: rule.version,
    status: 'queued',
    input: event.path,
    inputs: null,
    inputVersion: event.version,
    event: event.kind,
    oldPath: event.oldPath,
    variables,
    sweepPoint,
    attempt: 0,
    retries: rule.pattern.retries,
    timeoutMs: rule.pattern.timeoutMs,
    exitCode: null,
    error: null,
    result: null,
    backend: rule.pattern.backend,
    generation: event.generation,
    cause: event.cause,
    jobDir,
    pid: null,
    createdAt: now,
    startedAt: null,
    finishedAt: null,
  };
}

/**
 * Wires definitions → rules → jobs → runner → store. Owns the store, the
 * scheduler and the backends: call `close()`.
 */
export class Engine extends EventEmitter<EngineEvents> {
  readonly store: Store;
  readonly scheduler: Scheduler;
  readonly backends: Map<string, Backend>;
  private ruleSet: RuleSet = compileRules([]);
  private rulesByVersion = new Map<string, Rule>();
  private scopeTest: WatchScope;
  /** Patterns registered whose recipe is missing. */
  waiting: ParsedPattern[] = [];
  patterns: ParsedPattern[] = [];
  recipes: ParsedRecipe[] = [];
  definitionErrors: DefinitionError[] = [];
  configErrors: DefinitionError[] = [];
  /** Jobs that ended `failed` since this engine started. */
  failedCount = 0;
  private closed = false;
  private settler: Settler | null = null;
  private monitor: FileMonitor | null = null;
  private defsWatcher: DefinitionsWatcher | null = null;
  private api: ApiServer | null = null;
  private scanTimer: NodeJS.Timeout | null = null;
  /** Declared outputs of running jobs: their file events wait for the job to report them. */
  private readonly claims = new Map<string, (path: string) => boolean>();
  private serial: Promise<unknown> = Promise.resolve();
  readonly lineage: LineageStore;
  private readonly hasher: FileHasher;
  private readonly windows = new OutputWindows();
  private readonly host = hostname();
  private readonly reported = new Set<string>();
  /** Resolves when the disk has room again; set while it is full. */
  private space: { promise: Promise<void>; timer: NodeJS.Timeout; resolve: () => void } | null = null;
  /** Paused patterns: their jobs are created and kept queued, and start when the pattern resumes. */
  private paused = new Set<string>();
  /** Open fan-in groups (collect, batch) and their timer. */
  readonly fanIn: FanIn;

  private constructor(
    readonly config: WorkspaceConfig,
    configErrors: DefinitionError[],
    readonly: boolean,
  ) {
    super();
    this.configErrors = configErrors;
    const db = statePath(config.root);
    // A read-only engine (`meow plan`) never creates state: with no database yet it plans against an empty one.
    const memory = readonly && !existsSync(db);
    this.store = new Store(memory ? ':memory:' : db, { readonly: readonly && !memory });
    this.scopeTest = watchScope(config);
    this.backends = createBackends(config, (message) => this.emit('log', 'warn', message));
    this.scheduler = new Scheduler({
      store: this.store,
      config,
      backends: this.backends,
      executors: createExecutors(),
      ruleFor: (job) => this.rulesByVersion.get(job.ruleVersion) ?? null,
      isPaused: (pattern) => this.paused.has(pattern),
      diskFull: (err) => this.onDiskFull(err),
      beforeAttempt: (job, rule, values) => (this.claimOutputs(job, rule, values), this.recordDeclaredInputs(job, rule, values)),
      afterAttempt: (job, rule, values) => this.collectOutputs(job, rule, values),
      emit: (name, ...args) => (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args),
    });
    this.on('job:finished', (job) => {
      if (job.status === 'failed') this.failedCount++;
    });
    this.lineage = new LineageStore(this.store.db);
    this.paused = this.store.pausedPatterns();
    this.fanIn = new FanIn(this.store.db, (name) => this.ruleSet.byName.get(name)?.rule ?? null, () => this.fireDueSets());
    this.hasher = new FileHasher((id, hash) => this.recordHash(id, hash));
  }

  /** Opens the engine of a workspace (reads meow.yaml; nothing runs yet). */
  static async open(root: string, options: { readonly?: boolean } = {}): Promise<Engine> {
    const { config, errors } = await readConfig(root);
    return new Engine(config, errors, options.readonly ?? false);
  }

  get rules(): Rule[] {
    return this.ruleSet.rules.map((c) => c.rule);
  }

  /**
   * Reads the definitions on disk. A file that is broken now but was
   * registered before keeps its registered version, so a bad edit never stops
   * a running workflow.
   */
  async loadDefinitions(): Promise<LoadedDefinitions> {
    const disk = await readDefinitions(this.config.root, this.config);
    return { ...mergeRegistered(disk, disk.errors, this.store.registeredDefinitions()), errors: disk.errors };
  }

  /** Scans the watched tree. */
  async scan(): Promise<Map<string, FileState>> {
    const { files, problems } = await scanTree(this.config.root, this.scopeTest);
    // Each problem is reported once, not at every periodic scan.
    for (const p of problems) {
      const key = `${p.path}\0${p.message}`;
      if (this.reported.has(key)) continue;
      this.reported.add(key);
      this.emit('log', 'warn', `scan: ${p.path}: ${p.message}`);
    }
    return files;
  }

  /** The plan that the given definitions make against what is registered (nothing changes). */
  plan(defs: LoadedDefinitions, files: Iterable<string>): Plan {
    const before = this.registeredRules();
    const after = linkRules(defs.patterns, defs.recipes).rules;
    return planChange(before, after, [...files], this.store.activeJobs());
  }

  /** Names of the patterns these definitions link to a recipe. */
  linkedNames(defs: LoadedDefinitions): string[] {
    return linkRules(defs.patterns, defs.recipes).rules.map((r) => r.name);
  }

  /** The rules as last registered in the database. */
  registeredRules(): Rule[] {
    const reg = this.store.registeredDefinitions();
    return linkRules(reg.patterns, reg.recipes).rules;
  }

  /**
   * Registers definitions (MEOW rules 3–6): cancels the jobs of removed and
   * changed rules, then triggers added and changed rules retroactively on the
   * files in `files` (the current tree).
   */
  applyDefinitions(defs: LoadedDefinitions, files: ReadonlyMap<string, FileState>): Plan {
    const plan = this.plan(defs, files.keys());
    const linked = linkRules(defs.patterns, defs.recipes);
    this.store.transaction(() => {
      this.store.saveDefinitions(defs.patterns, defs.recipes);
      this.store.saveRules(new Map(linked.rules.map((r) => [r.name, r.version])));
    });
    this.patterns = defs.patterns;
    this.recipes = defs.recipes;
    this.waiting = linked.waiting;
    this.definitionErrors = defs.errors;
    this.ruleSet = compileRules(linked.rules);
    this.rulesByVersion = new Map(linked.rules.map((r) => [r.version, r]));
    for (const change of plan.changes) {
      for (const id of change.cancels) this.scheduler.cancel(id, `pattern "${change.name}" was ${change.change}`, true);
    }
    const fresh = plan.changes.filter((c) => c.after).map((c) => this.ruleSet.byName.get(c.name));
    const triggers: Trigger[] = [];
    // Groups of removed and changed set patterns are forgotten, and new ones formed from the files there, with their jobs in one transaction.
    const regroup = (nowMs: number): FiredSet[] => {
      for (const change of plan.changes) if (change.before && fanInOf(change.before.pattern)) this.fanIn.dropPattern(change.name);
      return fresh.flatMap((c) => (c && fanInOf(c.rule.pattern) ? this.fanIn.retro(c.rule, files, nowMs) : []));
    };
    for (const c of fresh) {
      if (!c || fanInOf(c.rule.pattern)) continue;
      for (const [path, st] of files) {
        if (!triggersRetroactively(c, path)) continue;
        const event: FileEvent = { kind: 'created', path, oldPath: null, version: st.version, generation: st.generation ?? 0, cause: st.cause ?? null };
        triggers.push({ event, rules: [c.rule], ino: st.ino, record: false });
      }
    }
    this.createJobs(triggers, plan.changes.length ? regroup : null);
    this.fanIn.schedule();
    if (defs.errors.length) this.emit('definitions:invalid', defs.errors);
    if (plan.changes.length) this.emit('rules:changed', plan);
    return plan;
  }

  /** Known files with their last state, from the database. */
  knownFiles(): Map<string, FileState> {
    return new Map(this.store.allFiles().map((f) => [f.path, { version: f.version, ino: f.ino, generation: f.generation, cause: f.cause }]));
  }

  /**
   * Starts the engine: re-queues attempts a crash left running, registers the
   * definitions on disk (retroactive triggers, cancels), catches up on what
   * changed in the tree while it was down, and starts queued jobs.
   */
  async start(): Promise<Plan> {
    this.recoverInterrupted();
    this.fanIn.load();
    const [defs, tree] = await Promise.all([this.loadDefinitions(), this.scan()]);
    // Rules see the current tree; the files table catches up from the same scan.
    const known = this.knownFiles();
    const plan = this.applyDefinitions(defs, this.withKnownLineage(tree, known));
    this.handleEvents(diffTree(known, tree), tree);
    for (const job of this.store.listJobs({ status: 'queued' })) this.scheduler.enqueue(job);
    // Queued jobs start only now, after attempts re-attached by recoverInterrupted took back their resources.
    this.scheduler.release();
    return plan;
  }

  /** Keeps generation and cause of files already known (outputs of jobs). */
  private withKnownLineage(tree: Map<string, FileState>, known: ReadonlyMap<string, FileState>): Map<string, FileState> {
    for (const [path, st] of tree) {
      const k = known.get(path);
      if (k && k.version === st.version) (st.generation = k.generation), (st.cause = k.cause);
    }
    return tree;
  }

  /**
   * Attempts a crash left `running` are re-attached (the scheduler holds new
   * work until `release()`), or queued again as a new attempt; orphaned
   * processes are killed. See runner/recovery-jobs.ts.
   */
  private recoverInterrupted(): void {
    const rules = new Map(this.registeredRules().map((r) => [r.version, r]));
    recoverInterrupted({ store: this.store, config: this.config, backends: this.backends, scheduler: this.scheduler, rules, emit: (name, ...args) => (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args) });
  }

  /** Rescans the tree and handles what changed. Returns the number of jobs created. */
  async reconcile(): Promise<number> {
    const tree = await this.scan();
    return this.handleEvents(diffTree(this.knownFiles(), tree), tree);
  }

  /**
   * Records settled file events and creates the jobs they trigger, in one
   * transaction; queues the jobs after the commit. Returns the jobs created.
   */
  handleEvents(events: readonly FileEvent[], states?: ReadonlyMap<string, FileState>): number {
    const triggers: Trigger[] = events.map((raw) => {
      // A file a job wrote without declaring it is its (inferred) output.
      const by = this.windows.attribute(raw);
      const event = by ? { ...raw, cause: by.jobId, generation: by.generation } : raw;
      return { event, rules: matchEvent(event, this.ruleSet), ino: states?.get(event.path)?.ino ?? null, record: true, inferred: by !== null };
    });
    return this.createJobs(triggers);
  }

  /**
   * `fanIn` runs inside the transaction, before the events: it changes groups
   * (timers, registrations) and returns the sets that fire, whose jobs commit with it.
   */
  private createJobs(triggers: readonly Trigger[], fanIn: ((nowMs: number) => FiredSet[]) | null = null): number {
    if (triggers.length === 0 && fanIn === null) return 0;
    const created: JobRecord[] = [];
    const now = nowIso();
    const max = this.config.maxGeneration;
    const stopped: JobRecord[] = [];
    try {
      this.recordTriggers(triggers, created, stopped, now, max, fanIn);
    } catch (err) {
      // The groups in memory follow the database, which rolled back.
      this.fanIn.load();
      if (!isDiskFull(err)) throw err;
      // Nothing of the batch was recorded (the transaction rolled back), so the scan after space returns sees it all again.
      void this.onDiskFull(err);
      return 0;
    }
    for (const t of triggers) if (t.record) this.emit('file:event', t.event);
    for (const job of stopped) {
      this.emit('log', 'error', `${job.pattern}: ${job.error}`);
      this.emit('job:finished', job);
    }
    for (const job of created) {
      this.emit('job:queued', job);
      this.scheduler.enqueue(job);
      if (this.config.hash === 'sha256' && job.event !== 'deleted' && job.inputs === null) {
        this.hasher.add({ jobId: job.id, abs: join(this.config.root, job.input), version: job.inputVersion });
      }
    }
    this.fanIn.schedule();
    return created.length;
  }

  /** Fires the fan-in groups whose time has come (quiet, marker, max_wait, timeout). */
  private fireDueSets(): void {
    if (this.closed) return;
    try {
      this.createJobs([], (nowMs) => this.fanIn.due(nowMs));
    } catch (err) {
      this.emit('log', 'error', `fan-in timer: ${errorMessage(err)}`);
      setTimeout(() => this.fanIn.schedule(), 1000).unref();
    }
  }

  /** Records events and their jobs in one transaction. */
  private recordTriggers(triggers: readonly Trigger[], created: JobRecord[], stopped: JobRecord[], now: string, max: number, fanIn: ((nowMs: number) => FiredSet[]) | null): void {
    this.store.transaction(() => {
      const nowMs = Date.now();
      const sets = fanIn ? fanIn(nowMs) : [];
      const known = (p: string) => this.store.getFile(p) !== null;
      for (const t of triggers) {
        if (t.record) this.store.recordEvent(t.event, t.ino);
        if (t.record) sets.push(...this.fanIn.observe(t.event, t.rules, nowMs, known));
        if (t.record && t.event.cause && t.event.kind !== 'deleted') this.lineage.recordOutput(t.event.cause, t.event.path, t.event.version, t.inferred ?? false);
        const guard = t.rules.length && t.event.generation > max ? this.loopError(t.event, max) : null;
        for (const rule of t.rules) {
          if (fanInOf(rule.pattern)) continue;
          for (const point of expandSweep(rule.pattern.sweep)) {
            const job = newJobRecord(rule, t.event, Object.keys(point).length ? point : null, now, this.config.root);
            // Past max_generation the job is recorded as failed, never run: a runaway loop stops here.
            if (guard) Object.assign(job, { status: 'failed', error: guard, finishedAt: now });
            if (!this.store.insertJob(job)) continue;
            this.lineage.insert(this.lineageOf(job, rule));
            (guard ? stopped : created).push(job);
          }
        }
      }
      for (const set of sets) this.recordSet(set, created, stopped, now, max);
    });
  }

  /** The jobs of one fired (or failed) set: one per sweep point, its members recorded in lineage. */
  private recordSet(set: FiredSet, created: JobRecord[], stopped: JobRecord[], now: string, max: number): void {
    const event = setEvent(set);
    const guard = set.error ?? (event.generation > max ? this.loopError(event, max) : null);
    const list = set.members.map((m) => m.path);
    for (const point of expandSweep(set.rule.pattern.sweep)) {
      const job = newJobRecord(set.rule, event, Object.keys(point).length ? point : null, now, this.config.root);
      job.inputs = list;
      job.variables[set.rule.pattern.input] = list;
      if (guard) Object.assign(job, { status: 'failed', error: guard, finishedAt: now });
      if (!this.store.insertJob(job)) continue;
      this.lineage.insert(this.lineageOf(job, set.rule));
      for (const m of set.members) this.lineage.recordInput(job.id, m.path, m.version, false);
      (guard ? stopped : created).push(job);
    }
  }

  /** Input hashes found since the last flush: written in one transaction, not one commit each. */
  private hashes: [string, string][] = [];

  private recordHash(jobId: string, hash: string): void {
    if (this.hashes.push([jobId, hash]) > 1) return;
    setImmediate(() => {
      const batch = this.hashes;
      this.hashes = [];
      if (this.closed) return;
      try {
        this.store.transaction(() => {
          for (const [id, h] of batch) this.lineage.setInputHash(id, h);
        });
      } catch (err) {
        // A lost hash leaves the lineage without it, nothing more.
        this.emit('log', 'warn', `recording input hashes: ${errorMessage(err)}`);
      }
    });
  }

  /** The message of a job stopped by max_generation, naming the chain of patterns that led to it. */
  private loopError(event: FileEvent, max: number): string {
    const chain: string[] = [];
    let cause = event.cause;
    while (cause && chain.length < 12) {
      const j = this.store.getJob(cause);
      if (!j) break;
      chain.unshift(j.pattern);
      cause = j.cause;
    }
    const shown = `${cause ? '… → ' : ''}${chain.join(' → ')}`;
    return `stopped by max_generation ${max}: ${event.path} is generation ${event.generation}, produced by the chain ${shown}; a loop that should run longer needs a higher max_generation in meow.yaml`;
  }

  private lineageOf(job: JobRecord, rule: Rule): LineageRow {
    const mtime = mtimeOf(job.inputVersion);
    const size = Number.parseInt(job.inputVersion, 10);
    const backend = this.config.backends[job.backend];
    const host = !backend || backend.type === 'local' ? this.host : String(backend.options.host ?? backend.name);
    return {
      job_id: job.id,
      input_size: Number.isFinite(size) && job.event !== 'deleted' ? size : null,
      input_mtime: mtime === null ? null : new Date(Number(mtime / 1_000_000n)).toISOString(),
      input_hash: null,
      pattern_hash: rule.pattern.hash,
      recipe_hash: rule.recipe.hash,
      host,
    };
  }

  /**
   * After an attempt: the declared outputs that now exist become file events
   * caused by the job (generation + 1), so cascades follow at once.
   */
  private async collectOutputs(job: JobRecord, rule: Rule, values: Record<string, string>): Promise<void> {
    if (rule.pattern.outputs.length === 0) return;
    const globs = this.outputGlobs(rule, values);
    const found = new Map<string, FileState>();
    for (const g of globs) {
      const scan = micromatch.scan(g);
      if (!scan.isGlob) {
        const st = await statFile(join(this.config.root, g));
        if (st && this.scopeTest.includes(g)) found.set(g, st);
        continue;
      }
      const isMatch = micromatch.matcher(g);
      const { files } = await scanTree(this.config.root, this.scopeTest, scan.base);
      for (const [p, st] of files) if (isMatch(p)) found.set(p, st);
    }
    const events: FileEvent[] = [];
    for (const [path, st] of found) {
      const known = this.store.getFile(path);
      if (known && known.version === st.version) continue;
      events.push({ kind: known ? 'modified' : 'created', path, oldPath: null, version: st.version, generation: job.generation + 1, cause: job.id });
    }
    this.handleEvents(events, found);
    this.claims.delete(job.id);
    this.windows.close(job.id);
  }

  /** A rule's declared outputs for one job, as workspace-relative globs. */
  private outputGlobs(rule: Rule, values: Record<string, string>): string[] {
    const prefix = `${this.config.root}/`;
    return expandAll(rule.pattern.outputs, values).map((g) => (g.startsWith(prefix) ? g.slice(prefix.length) : g));
  }

  /** The files matching a pattern's declared `inputs:` as the attempt starts, recorded in lineage. */
  private recordDeclaredInputs(job: JobRecord, rule: Rule, values: Record<string, string>): void {
    const globs = rule.pattern.inputs ?? [];
    if (globs.length === 0) return;
    const prefix = `${this.config.root}/`;
    try {
      const found = new Map<string, string>();
      for (const g of expandAll(globs, values).map((x) => (x.startsWith(prefix) ? x.slice(prefix.length) : x))) {
        const scan = micromatch.scan(g);
        if (!scan.isGlob) {
          const f = this.store.getFile(g);
          if (f) found.set(f.path, f.version);
          continue;
        }
        const isMatch = micromatch.matcher(g);
        const paths = scan.base ? this.store.filesUnder(scan.base) : this.store.allFiles().map((f) => f.path);
        for (const p of paths) if (isMatch(p)) found.set(p, this.store.getFile(p)?.version ?? '');
      }
      this.store.transaction(() => {
        for (const [p, v] of [...found].sort()) this.lineage.recordInput(job.id, p, v || null, true);
      });
    } catch (err) {
      this.emit('log', 'warn', `${job.id}: recording declared inputs: ${errorMessage(err)}`);
    }
  }

  private claimOutputs(job: JobRecord, rule: Rule, values: Record<string, string>): void {
    if (rule.pattern.outputs.length === 0) return;
    const globs = this.outputGlobs(rule, values);
    this.windows.open(job.id, job.generation, globs);
    if (this.settler) this.claims.set(job.id, compileGlobs(globs));
  }


  // ---- the live engine ----

  /**
   * Runs live: the control socket first (refusing a second engine), then
   * start-up catch-up, then the file and definitions watchers, then a scan for
   * what changed while the watchers attached, and a periodic reconcile scan.
   */
  async startLive(): Promise<void> {
    const { root } = this.config;
    await Promise.all(['patterns', 'recipes'].map((d) => mkdir(join(root, d), { recursive: true })));
    this.api = new ApiServer(this);
    await this.api.listen();
    this.settler = new Settler({
      settleFor: (path) => {
        let ms = 0;
        for (const c of this.ruleSet.rules) if (c.rule.pattern.trigger.settleMs > ms && c.covers(path)) ms = c.rule.pattern.trigger.settleMs;
        return ms;
      },
      known: (path) => this.store.getFile(path),
      stat: (path) => statFile(join(root, path)),
      claimed: (path) => {
        for (const test of this.claims.values()) if (test(path)) return true;
        return false;
      },
      onEvents: (events, states) => this.handleEvents(events, states),
      moveWindowMs: 100,
    });
    await this.start();
    this.monitor = new FileMonitor(
      { root, scope: this.scopeTest, poll: this.config.watchMode === 'poll', pollIntervalMs: this.config.pollIntervalMs },
      {
        file: (path) => this.settler?.observe(path),
        dirGone: (dir) => {
          for (const path of this.store.filesUnder(dir)) this.settler?.observe(path);
        },
        dirAdded: (dir) => {
          // Now, and once more shortly after: a file renamed in while the
          // directory's watch was being set up is seen by one of the two.
          void this.observeTree(dir);
          setTimeout(() => void this.observeTree(dir), 250).unref();
        },
        error: (message) => {
          this.emit('log', 'warn', `watcher: ${message}; rescanning`);
          void this.reconcileLive();
        },
      },
    );
    await this.monitor.start();
    this.defsWatcher = new DefinitionsWatcher(root, () => void this.reloadDefinitions(), {
      poll: this.config.watchMode === 'poll',
      pollIntervalMs: this.config.pollIntervalMs,
      debounceMs: 100,
    });
    await this.defsWatcher.start();
    await this.reconcileLive();
    if (this.config.scanIntervalMs > 0) {
      this.scanTimer = setInterval(() => void this.reconcileLive(), this.config.scanIntervalMs);
      this.scanTimer.unref();
    }
  }

  /** Runs `fn` after every earlier definition change or scan (they must not interleave). */
  private serialize<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.serial.then(fn, fn);
    this.serial = next.catch(() => undefined);
    return next;
  }

  /**
   * A reconcile scan while live: catches whatever the OS did not report
   * (overflow, a watcher attached late). Paths still settling are left to the settler.
   */
  reconcileLive(): Promise<number> {
    return this.serialize(async () => {
      if (this.closed) return 0;
      const tree = await this.scan();
      const busy = (p: string | null) => p !== null && (this.settler?.isPending(p) ?? false);
      const events = diffTree(this.knownFiles(), tree).filter((e) => !busy(e.path) && !busy(e.oldPath));
      if (events.length) this.emit('log', 'info', `reconcile scan: ${events.length} change(s) the watcher had not reported`);
      return this.handleEvents(events, tree);
    });
  }

  /** Hands every file under a directory to the settler (which ignores what did not change). */
  private async observeTree(dir: string): Promise<void> {
    if (this.closed || !this.settler) return;
    const { files } = await scanTree(this.config.root, this.scopeTest, dir);
    for (const path of files.keys()) this.settler?.observe(path);
  }

  /** Something happened at a path (the control socket's injected events). */
  observe(path: string): void {
    if (this.settler) this.settler.observe(path);
    else void this.reconcile();
  }

  /** Re-reads the definitions and applies the change (MEOW rules 3–6). */
  reloadDefinitions(): Promise<Plan> {
    return this.serialize(async () => {
      const defs = await this.loadDefinitions();
      return this.applyDefinitions(defs, this.knownFiles());
    });
  }

  /** The plan the definitions on disk would make now. */
  async planFromDisk(): Promise<Plan> {
    return this.plan(await this.loadDefinitions(), this.knownFiles().keys());
  }

  /**
   * Writes (or with `content` null, deletes) one definition file and applies
   * it — or, with `dryRun`, only says what it would do. Invalid content is
   * refused with its errors and nothing is written.
   */
  async changeDefinition(file: string, content: string | null, dryRun: boolean): Promise<{ plan: Plan; errors: DefinitionError[]; applied: boolean }> {
    const kind = /^patterns\/[^/]+$/.test(file) ? 'pattern' : /^recipes\/[^/]+$/.test(file) ? 'recipe' : null;
    if (!kind || file.includes('..') || basename(file).startsWith('.')) {
      throw new MeowError('MEOW_USAGE', `${file}: definitions live directly under patterns/ or recipes/`);
    }
    const disk = await this.loadDefinitions();
    const defs: LoadedDefinitions = { patterns: disk.patterns.filter((p) => p.file !== file), recipes: disk.recipes.filter((r) => r.file !== file), errors: [] };
    if (content !== null) {
      const parsed = kind === 'pattern' ? parsePattern(file, content, { maxSweep: this.config.maxSweep, backends: Object.keys(this.config.backends) }) : parseRecipe(file, content);
      if (parsed.errors.length) return { plan: { changes: [], unchanged: [] }, errors: parsed.errors, applied: false };
      if ('pattern' in parsed && parsed.pattern) defs.patterns.push(parsed.pattern);
      if ('recipe' in parsed && parsed.recipe) defs.recipes.push(parsed.recipe);
    }
    if (dryRun) return { plan: this.plan(defs, this.knownFiles().keys()), errors: [], applied: false };
    const abs = join(this.config.root, file);
    if (content === null) await rm(abs, { force: true });
    else {
      const tmp = join(dirname(abs), `.${basename(abs)}.${process.pid}.tmp`);
      await writeFile(tmp, content);
      await rename(tmp, abs);
    }
    return { plan: await this.reloadDefinitions(), errors: [], applied: true };
  }

  /** True while new work waits for disk space. */
  get waitingForSpace(): boolean {
    return this.space !== null;
  }

  /**
   * The disk is full: new attempts wait (queued, not failed), events that
   * could not be recorded are caught by a scan once space returns, and the
   * free space is checked every 2 s. Resolves when there is room again.
   */
  onDiskFull(err: unknown): Promise<void> {
    if (this.space) return this.space.promise;
    let resolve: () => void = () => undefined;
    const promise = new Promise<void>((r) => (resolve = r));
    this.scheduler.waitForSpace();
    this.emit('log', 'error', `disk full in ${this.config.root} (${errorMessage(err)}): new jobs wait until space returns; free some space — the engine resumes by itself`);
    const check = async () => {
      if (this.closed || !(await spaceAvailable(join(this.config.root, '.meow')))) return;
      const s = this.space;
      if (!s) return;
      clearInterval(s.timer);
      this.space = null;
      this.emit('log', 'info', 'disk space is back: resuming');
      this.scheduler.spaceReturned();
      s.resolve();
      void this.reconcileLive().catch((e: unknown) => this.emit('log', 'error', `scan after the disk filled: ${errorMessage(e)}`));
    };
    const timer = setInterval(() => void check(), 2000);
    timer.unref();
    this.space = { promise, timer, resolve };
    return promise;
  }

  /** Names of paused patterns. */
  get pausedPatterns(): ReadonlySet<string> {
    return this.paused;
  }

  /**
   * Pauses or resumes a pattern. A paused pattern keeps matching files — its
   * jobs are recorded and stay queued — but none starts until it resumes;
   * running jobs finish. Remembered across restarts.
   */
  setPaused(name: string, paused: boolean): void {
    if (!this.patterns.some((p) => p.name === name)) {
      throw new MeowError('MEOW_NOT_FOUND', `no pattern "${name}"; \`meow patterns\` lists them`);
    }
    this.store.setPaused(name, paused);
    if (paused) {
      this.paused.add(name);
      this.scheduler.park(name);
    } else {
      this.paused.delete(name);
      this.scheduler.unpark(name);
    }
    this.emit('log', 'info', `pattern ${name} ${paused ? 'paused' : 'resumed'}`);
  }

  /** Queues a failed or cancelled job again as a new attempt. Null when it is in another state. */
  retryJob(id: string): JobRecord | null {
    const job = this.store.getJob(id);
    if (!job) return null;
    if (!this.rulesByVersion.has(job.ruleVersion)) {
      throw new MeowError('MEOW_CONFLICT', `job ${id} belongs to a version of pattern "${job.pattern}" that is no longer registered; the current version triggers on its own`);
    }
    const ok = this.store.transition(id, ['failed', 'cancelled'], 'queued', { finishedAt: null, error: null, exitCode: null }, 'retried by the user');
    if (!ok) return null;
    const queued = this.store.getJob(id);
    if (queued) {
      this.emit('job:queued', queued);
      this.scheduler.enqueue(queued);
    }
    return queued;
  }

  /** `meow status --json` of a running engine. */
  statusJson() {
    return { engine: 'running' as const, jobs: this.store.countJobs(), patterns: this.patterns.length, recipes: this.recipes.length, pending_sets: this.fanIn.pending() };
  }

  /** Settling paths, held deletions and queued or running jobs. */
  get busy(): number {
    return (this.settler?.pending ?? 0) + this.scheduler.pending;
  }

  /**
   * Runs until nothing is pending: jobs run, cascades follow, and a final scan
   * catches files that jobs wrote without declaring them.
   */
  async runUntilIdle(): Promise<void> {
    await this.start();
    for (;;) {
      await this.scheduler.whenIdle();
      const created = await this.reconcile();
      if (created === 0 && this.scheduler.pending === 0) {
        // Groups on a short timer (marker settle, quiet, max_wait) fire without new files: wait for them.
        const due = this.fanIn.nextDue(Date.now(), false);
        if (due === null) break;
        await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now()) + 5));
        this.fireDueSets();
      }
    }
    await this.hasher.idle();
  }

  /** Stops: running jobs finish (or are cancelled), then everything is released. */
  async close(options: { cancelRunning?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.scanTimer) clearInterval(this.scanTimer);
    if (this.space) clearInterval(this.space.timer);
    this.fanIn.close();
    this.hasher.close();
    await this.defsWatcher?.close();
    await this.monitor?.close();
    this.settler?.close();
    await this.serial;
    try {
      await this.scheduler.stop(options.cancelRunning ?? false);
    } catch (err) {
      this.emit('log', 'error', `stopping the scheduler: ${errorMessage(err)}`);
    }
    await this.api?.close();
    await Promise.all([...this.backends.values()].map((b) => b.close()));
    this.store.close();
  }
}
