import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { ApiServer } from './api/server.js';
import { MeowError, errorMessage } from './core/errors.js';
import { readConfig } from './monitor/definitions-reader.js';
import { diffKnown } from './rules/tree-diff.js';
import { collectAfterScan, keepYoungGenerationSmall } from './core/heap.js';
import { watchScope } from './rules/scope.js';
import { createExecutors } from './runner/executors/index.js';
import { createBackends } from './runner/backends/index.js';
import { Scheduler } from './runner/scheduler.js';
import { recoverInterrupted } from './runner/recovery-jobs.js';
import { STATE_DIR_MODES, statePath } from './store/open-db.js';
import { Store } from './store/store.js';
import { openWorkspaceState, type WorkspaceState } from './store/workspace-state.js';
import { JobTransitions, type EmitEvent } from './store/job-transitions.js';
import { Definitions, type LoadedDefinitions } from './engine/definitions.js';
import { EngineReads } from './engine/engine-reads.js';
import { DiskGate } from './engine/disk-gate.js';
import { Intake, type Trigger } from './engine/intake.js';
import { FanIn } from './runner/fan-in.js';
import type { FiredSet } from './rules/collect-set.js';
import { LiveWatch } from './engine/live-watch.js';
import { Outputs } from './engine/outputs.js';
import { Provenance } from './engine/provenance.js';
import { ENGINE_TIMINGS, type EngineTimings } from './engine/timings.js';
import { WorkspaceTree } from './engine/tree.js';
import type { EngineLifecycle, StatusJson } from './api/engine-api.js';
import type { DefinitionError, FileEvent, JobRecord, ParsedPattern, ParsedRecipe, Rule, WorkspaceConfig } from './core/types.js';
import type { RuleSet } from './rules/matcher.js';
import { changeReason, type Plan } from './rules/planner.js';
import type { FileState } from './rules/tree-diff.js';
import type { Backend } from './runner/backend.js';
import type { LineageStore } from './store/lineage-store.js';

export { newJobRecord } from './engine/job-record.js';
export { statePath } from './store/open-db.js';
export type { LoadedDefinitions };

/**
 * The engine's lifecycle: it opens the workspace's parts, starts them in
 * order, and closes them in the reverse order. Each concern has its owner
 * (docs/architecture.md): definitions, intake, outputs, provenance, the
 * disk-space gate, the live watcher, the scheduler (queue, capacity, attempt
 * runner) and the job transitions. The control socket and the CLI see it
 * only as an {@link EngineApi}. Owns everything it opens: call `close()`.
 */
export class Engine extends EngineReads implements EngineLifecycle {
  readonly store: Store;
  /** The queue and its running attempts. */
  readonly scheduler: Scheduler;
  readonly lineage: LineageStore;
  readonly configErrors: readonly DefinitionError[];
  private readonly backends: Map<string, Backend>;
  private readonly transitions: JobTransitions;
  private readonly definitions: Definitions;
  private readonly tree: WorkspaceTree;
  private readonly provenance: Provenance;
  private readonly outputs: Outputs;
  private readonly intake: Intake;
  private readonly disk: DiskGate;
  /** Open fan-in groups (collect, batch) and their timer. */
  readonly fanIn: FanIn;
  private readonly timings: EngineTimings;
  private live: LiveWatch | null = null;
  private api: ApiServer | null = null;
  /** Paused patterns: their jobs are created and kept queued, and start when the pattern resumes. */
  private readonly paused: Set<string>;
  private failed = 0;
  private closed = false;
  /** The live start-up in progress (or done): close() waits for it, so nothing it opens outlives the engine. */
  private starting: Promise<void> | null = null;

  private constructor(
    readonly config: WorkspaceConfig,
    configErrors: DefinitionError[],
    readonly: boolean,
    timings: Partial<EngineTimings>,
    /** The workspace lock and the state checks (null for a read-only engine). */
    readonly state: WorkspaceState | null = null,
  ) {
    super();
    this.configErrors = configErrors;
    this.timings = { ...ENGINE_TIMINGS, ...timings };
    const emit: EmitEvent = (name, ...args) => void (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args);
    const db = statePath(config.root);
    // A read-only engine (`meow plan`) never creates state: with no database yet it plans against an empty one.
    const memory = readonly && !existsSync(db);
    this.store = new Store(memory ? ':memory:' : db, { readonly: readonly && !memory, dirMode: STATE_DIR_MODES[config.stateAccess] });
    this.transitions = new JobTransitions(this.store, { emit });
    this.definitions = new Definitions(config, this.store);
    this.tree = new WorkspaceTree(config, watchScope(config), this.store, emit);
    this.provenance = new Provenance(this.store, config, emit);
    this.lineage = this.provenance.lineage;
    this.outputs = new Outputs(config.root, this.tree, this.store, this, this.provenance);
    this.fanIn = new FanIn(this.store.db, (name) => this.ruleSet.byName.get(name)?.rule ?? null, () => this.fireDueSets(), (p, k) => this.live?.holds(p, k) ?? false);
    this.intake = new Intake(config, this.store, this.transitions, this.provenance, this.outputs, this.fanIn, emit);
    this.disk = new DiskGate(config.root, this.timings.diskCheckIntervalMs, emit);
    this.backends = createBackends(config, (message) => this.emit('log', 'warn', message));
    this.paused = this.store.pausedPatterns();
    this.scheduler = new Scheduler({
      store: this.store, transitions: this.transitions, config, backends: this.backends, executors: createExecutors(),
      rules: this.definitions, paused: this.paused, space: this.disk, outputs: this.outputs, emit,
    });
    this.disk.on('full', () => this.scheduler.waitForSpace());
    this.disk.on('back', () => this.scheduler.spaceReturned());
    this.disk.on('back', () => void this.reconcileLive().catch((e: unknown) => this.emit('log', 'error', `scan after the disk filled: ${errorMessage(e)}`)));
    this.on('job:finished', (job) => {
      if (job.status === 'failed') this.failed++;
    });
  }

  /** Opens the engine of a workspace (reads meow.yaml; nothing runs yet). */
  static async open(root: string, options: { readonly?: boolean; rebuildState?: boolean; timings?: Partial<EngineTimings> } = {}): Promise<Engine> {
    const { config, errors } = await readConfig(root);
    if (options.readonly) return new Engine(config, errors, true, options.timings ?? {});
    keepYoungGenerationSmall();
    // One engine per workspace, and a lost state.db is refused: both before the database is opened (store/workspace-state.ts).
    const state = openWorkspaceState(config.root, { rebuild: options.rebuildState ?? false });
    let engine: Engine;
    try {
      engine = new Engine(config, errors, false, options.timings ?? {}, state);
      state.opened();
    } catch (err) {
      state.release();
      throw err;
    }
    if (state.opening === 'rebuild') {
      await engine.loadDefinitions().then((defs) => state.rebuild(engine.store, defs, engine.definitions.registering(defs))).catch(async (err: unknown) => {
        await engine.close();
        throw err;
      });
    }
    return engine;
  }

  get root(): string { return this.config.root; }
  // ---- definitions ----

  get rules(): Rule[] { return this.definitions.rules; }
  /** The compiled rules that match events now. */
  get ruleSet(): RuleSet { return this.definitions.ruleSet; }
  get patterns(): readonly ParsedPattern[] { return this.definitions.current.patterns; }
  get recipes(): readonly ParsedRecipe[] { return this.definitions.current.recipes; }
  /** Patterns registered whose recipe is missing. */
  get waiting(): readonly ParsedPattern[] { return this.definitions.current.waiting; }
  get definitionErrors(): readonly DefinitionError[] { return this.definitions.current.errors; }
  /** Reads the definitions on disk (a file broken now keeps its registered version). */
  loadDefinitions(): Promise<LoadedDefinitions> { return this.definitions.load(); }
  /** The plan that the given definitions make against what is registered (nothing changes). */
  plan(defs: LoadedDefinitions, files: Iterable<string>): Plan { return this.definitions.plan(defs, files); }
  /** Names of the patterns these definitions link to a recipe. */
  linkedNames(defs: LoadedDefinitions): string[] { return this.definitions.linkedNames(defs); }
  /** The rules as last registered in the database. */
  registeredRules(): Rule[] { return this.definitions.registeredRules(); }

  /**
   * Registers definitions (MEOW rules 3–6): cancels the jobs of removed and
   * changed rules, then triggers added and changed rules retroactively on the
   * files in `files` (the current tree).
   */
  applyDefinitions(defs: LoadedDefinitions, files: ReadonlyMap<string, FileState>): Plan {
    const plan = this.definitions.plan(defs, files.keys());
    const register = this.definitions.register(defs);
    for (const b of this.backends.values()) b.warm?.(this.rules);
    // Cancels, registration, retroactive jobs and fan-in groups commit in one transaction: a crash keeps all or none.
    const save = () => {
      for (const c of plan.changes) {
        const reason = changeReason(c, defs.patterns);
        for (const id of c.cancels) this.scheduler.cancel(id, reason, true);
      }
      register();
    };
    const fresh = plan.changes.filter((c) => c.after).flatMap((c) => this.ruleSet.byName.get(c.name) ?? []);
    const sets = plan.changes.length ? this.fanIn.regroup(plan.changes, fresh.map((c) => c.rule), files) : undefined;
    this.createJobs(Intake.retroactive(fresh, files), { before: save, sets });
    if (defs.errors.length) this.emit('definitions:invalid', defs.errors);
    if (plan.changes.length) this.emit('rules:changed', plan);
    return plan;
  }

  /** Re-reads the definitions and applies the change (MEOW rules 3–6). */
  reloadDefinitions(): Promise<Plan> {
    const apply = async () => this.applyDefinitions(await this.definitions.load(), this.knownFiles());
    return this.live ? this.live.serialize(apply) : apply();
  }

  /** The plan the definitions on disk would make now. */
  async planFromDisk(): Promise<Plan> {
    return this.plan(await this.loadDefinitions(), this.knownFiles().keys());
  }

  async changeDefinition(file: string, content: string | null, dryRun: boolean): Promise<{ plan: Plan; errors: DefinitionError[]; applied: boolean }> {
    const { defs, errors } = await this.definitions.withChange(file, content);
    if (errors.length) return { plan: { changes: [], unchanged: [] }, errors, applied: false };
    if (dryRun) return { plan: this.plan(defs, this.knownFiles().keys()), errors: [], applied: false };
    await this.definitions.write(file, content);
    return { plan: await this.reloadDefinitions(), errors: [], applied: true };
  }

  // ---- the tree and intake ----

  /** Scans the watched tree. */
  scan(): Promise<Map<string, FileState>> { return this.tree.scan(); }
  /** Known files with their last state, from the database. */
  knownFiles(): Map<string, FileState> { return this.tree.known(); }
  knownPaths(): Iterable<string> { return this.knownFiles().keys(); }

  /**
   * Records settled file events and creates the jobs they trigger, in one
   * transaction; queues the jobs after the commit. Returns the jobs created.
   */
  handleEvents(events: readonly FileEvent[], states?: ReadonlyMap<string, FileState>, trigger = true): number {
    return this.createJobs(this.intake.triggersOf(events, this.ruleSet, states, trigger));
  }

  private createJobs(triggers: readonly Trigger[], opts: { before?: () => void; sets?: (nowMs: number) => FiredSet[] } = {}): number {
    const r = this.intake.record(triggers, opts);
    if (r.diskFull !== null) void this.disk.full(r.diskFull);
    for (const job of r.created) this.scheduler.enqueue(job);
    this.fanIn.schedule();
    return r.created.length;
  }

  /** Fires the fan-in groups whose time has come (quiet, marker, max_wait, timeout). */
  private fireDueSets(): void {
    if (this.closed) return;
    try {
      this.createJobs([], { sets: (nowMs) => this.fanIn.due(nowMs) });
    } catch (err) {
      this.emit('log', 'error', `fan-in timer: ${errorMessage(err)}`);
      setTimeout(() => this.fanIn.schedule(), 1000).unref();
    }
  }

  /** Rescans the tree and handles what changed. Returns the number of jobs created. */
  async reconcile(): Promise<number> {
    const lost = this.state?.check();
    if (lost) throw new MeowError('MEOW_STATE_LOST', lost);
    const tree = await this.scan();
    return this.handleEvents(diffKnown(this.tree.knownRows(), tree), tree);
  }

  /** A reconcile scan while live (serialized with definition changes); a plain one otherwise. */
  reconcileLive(): Promise<number> {
    if (this.state?.check()) return Promise.resolve(0);
    return this.live ? this.live.reconcile() : this.reconcile();
  }

  /** Something happened at a path (the control socket's injected events). */
  observe(path: string): void {
    if (!this.live?.observe(path)) void this.reconcile();
  }

  /** The live watcher's hook: the definitions on disk changed. */
  definitionsChanged(): void {
    void this.reloadDefinitions();
  }

  // ---- lifecycle ----

  /**
   * Starts the engine: re-queues attempts a crash left running, registers the
   * definitions on disk (retroactive triggers, cancels), catches up on what
   * changed in the tree while it was down, and starts queued jobs.
   */
  async start(): Promise<Plan> {
    recoverInterrupted({
      store: this.store,
      config: this.config,
      backends: this.backends,
      scheduler: this.scheduler,
      rules: new Map(this.registeredRules().map((r) => [r.version, r])),
      emit: (name, ...args) => (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args),
    });
    this.fanIn.load();
    const [defs, tree] = await Promise.all([this.loadDefinitions(), this.scan()]);
    // Stopped while scanning: nothing is registered or started; the next start does it.
    if (this.closed) return { changes: [], unchanged: [] };
    // Rules see the current tree; the files table catches up from the same scan.
    // The files table is read row by row (twice), never held whole beside the scan.
    const plan = this.applyDefinitions(defs, WorkspaceTree.withKnownLineage(tree, this.tree.knownRows()));
    this.handleEvents(diffKnown(this.tree.knownRows(), tree), tree);
    collectAfterScan(tree.size);
    for (const job of this.store.listJobs({ status: 'queued' })) this.scheduler.enqueue(job);
    // Queued jobs start only now, after attempts re-attached by recovery took back their resources.
    this.scheduler.release();
    return plan;
  }

  /**
   * Runs live: the control socket first (refusing a second engine), then
   * start-up catch-up, then the file and definitions watchers, then a scan for
   * what changed while the watchers attached, and a periodic reconcile scan.
   */
  startLive(): Promise<void> {
    this.starting ??= this.startLiveSteps();
    return this.starting;
  }

  /** The steps of startLive: each await is a point where a close() meanwhile stops it. */
  private async startLiveSteps(): Promise<void> {
    const { root } = this.config;
    await Promise.all(['patterns', 'recipes'].map((d) => mkdir(join(root, d), { recursive: true })));
    if (this.closed) return;
    this.api = new ApiServer(this);
    await this.api.listen();
    if (this.closed) return;
    // A database or socket removed or replaced under the engine stops it (store/state-check.ts).
    this.state?.watch(root, Math.min(this.timings.stateCheckIntervalMs, this.config.scanIntervalMs || this.timings.stateCheckIntervalMs), (message) => {
      this.emit('log', 'error', message);
      this.emit('state:lost', message);
    });
    this.live = new LiveWatch(this.config, this.store, this.tree, this.outputs, this, this.timings, (name, ...args) => (this.emit as (n: string, ...a: unknown[]) => boolean)(name, ...args));
    this.live.prepare();
    await this.start();
    if (this.closed) return;
    await this.live.start();
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
      if (created > 0 || this.scheduler.pending > 0) continue;
      // Groups on a short timer (marker settle, quiet, max_wait) fire without new files: wait for them.
      if (!(await this.fanIn.untilDue())) break;
      this.fireDueSets();
    }
    await this.provenance.idle();
  }

  /** Stops: running jobs finish (or are cancelled), then everything is released. */
  async close(options: { cancelRunning?: boolean } = {}): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // A signal during start-up: let it reach a step boundary, so no watcher or socket opens after this.
    await this.starting?.catch(() => undefined);
    this.state?.unwatch();
    this.disk.close();
    this.fanIn.close();
    this.provenance.close();
    await this.live?.close();
    try {
      await this.scheduler.stop(options.cancelRunning ?? false);
    } catch (err) {
      this.emit('log', 'error', `stopping the scheduler: ${errorMessage(err)}`);
    }
    await this.api?.close();
    await Promise.all([...this.backends.values()].map((b) => b.close()));
    this.store.close();
    this.state?.release();
  }

  /** A second signal while closing: running attempts are stopped now, and queued again for the next start. */
  stopNow(): void {
    this.scheduler.interruptAll();
  }

  // ---- the API's reads and commands ----

  /** True while new work waits for disk space. */
  get waitingForSpace(): boolean { return this.disk.waiting; }
  /** The disk is full: new work waits; resolves when there is room again. */
  onDiskFull(err: unknown): Promise<void> { return this.disk.full(err); }
  /** Names of paused patterns. */
  get pausedPatterns(): ReadonlySet<string> { return this.paused; }

  /**
   * Pauses or resumes a pattern. A paused pattern keeps matching files — its
   * jobs are recorded and stay queued — but none starts until it resumes;
   * running jobs finish. Remembered across restarts.
   */
  setPaused(name: string, paused: boolean): void {
    if (!this.patterns.some((p) => p.name === name)) {
      throw new MeowError('MEOW_NOT_FOUND', `no pattern "${name}"; \`meow patterns\` lists them`);
    }
    this.scheduler.setPaused(name, paused);
    this.emit('log', 'info', `pattern ${name} ${paused ? 'paused' : 'resumed'}`);
  }

  cancelJob(id: string, note: string): JobRecord | null { return this.scheduler.cancel(id, note); }
  /** Queues a failed or cancelled job again as a new attempt. Null when it is in another state. */
  retryJob(id: string): JobRecord | null {
    const queued = this.transitions.retry(id, (job) => this.definitions.isCurrent(job));
    if (queued) this.scheduler.enqueue(queued);
    return queued;
  }

  statusJson(options: { all?: boolean } = {}): StatusJson {
    return { engine: 'running', jobs: this.store.countJobs({ current: !options.all }), patterns: this.patterns.length, recipes: this.recipes.length, pending_sets: this.fanIn.pending() };
  }

  /** Jobs that ended `failed` since this engine started. */
  get failedCount(): number { return this.failed; }
  /** Resolves when no job is queued or running. */
  whenIdle(): Promise<void> { return this.scheduler.whenIdle(); }
  /** Settling paths, held deletions and queued or running jobs. */
  get busy(): number { return (this.live?.pending ?? 0) + this.scheduler.pending; }
}
