import { rename, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { MeowError } from '../core/errors.js';
import { parsePattern } from '../core/pattern-schema.js';
import { parseRecipe } from '../core/recipe-schema.js';
import { readDefinitions } from '../monitor/definitions-reader.js';
import { linkRules } from '../rules/linker.js';
import { compileRules, type RuleSet } from '../rules/matcher.js';
import { planChange, type Plan } from '../rules/planner.js';
import { jobKey } from '../rules/job-key.js';
import { assignEpochs, mergeRegistered } from '../rules/registration.js';
import { RuleEpochs } from '../store/rule-epochs.js';
import type { DefinitionError, JobRecord, ParsedPattern, ParsedRecipe, Rule, WorkspaceConfig } from '../core/types.js';
import type { RuleLookup } from '../runner/scheduler.js';
import type { Store } from '../store/store.js';

/** Definitions as the engine would register them, with the errors met reading them. */
export interface LoadedDefinitions {
  patterns: ParsedPattern[];
  recipes: ParsedRecipe[];
  errors: DefinitionError[];
}

/**
 * True when `job` belongs to the registration `rule` (its registered rule of
 * the same version, if any) made: a job of an earlier registration of the same
 * version (A → B → A) has its successor already.
 */
export function isCurrentJob(rule: Rule | undefined, job: JobRecord): boolean {
  if (!rule) return false;
  return job.key === '' || job.key === jobKey(rule.version, job.input, job.inputVersion, job.sweepPoint, rule.epoch);
}

/** What the registered definitions are now. */
export interface RegisteredView {
  patterns: readonly ParsedPattern[];
  recipes: readonly ParsedRecipe[];
  /** Patterns registered whose recipe is missing. */
  waiting: readonly ParsedPattern[];
  errors: readonly DefinitionError[];
}

/**
 * The definitions: loaded from disk (a broken file keeps its registered
 * version), planned against what is registered, registered (saved and
 * compiled into the rule set that matching uses), and written. Creating and
 * cancelling the jobs a change implies is the engine's part.
 */
export class Definitions implements RuleLookup {
  private ruleSetNow: RuleSet = compileRules([]);
  private byVersion = new Map<string, Rule>();
  private view: RegisteredView = { patterns: [], recipes: [], waiting: [], errors: [] };
  private readonly epochs: RuleEpochs;

  constructor(
    private readonly config: WorkspaceConfig,
    private readonly store: Store,
  ) {
    this.epochs = new RuleEpochs(store.db);
  }

  /** The compiled rules that match events now. */
  get ruleSet(): RuleSet {
    return this.ruleSetNow;
  }

  get current(): RegisteredView {
    return this.view;
  }

  get rules(): Rule[] {
    return this.ruleSetNow.rules.map((c) => c.rule);
  }

  ruleFor(job: JobRecord): Rule | null {
    return this.byVersion.get(job.ruleVersion) ?? null;
  }

  isRegistered(version: string): boolean {
    return this.byVersion.has(version);
  }

  /**
   * True when `job` belongs to the current registration of its rule: its
   * version is registered and its key is the one that registration gives (a
   * job of an earlier registration of the same version, A → B → A, has its
   * successor already).
   */
  isCurrent(job: JobRecord): boolean {
    return isCurrentJob(this.byVersion.get(job.ruleVersion), job);
  }

  /** Reads the definitions on disk; a file broken now but registered before keeps its registered version. */
  async load(): Promise<LoadedDefinitions> {
    const disk = await readDefinitions(this.config.root, this.config);
    return { ...mergeRegistered(disk, disk.errors, this.store.registeredDefinitions()), errors: disk.errors };
  }

  /** The rules as last registered in the database. */
  registeredRules(): Rule[] {
    const reg = this.store.registeredDefinitions();
    const epochs = this.epochs.registered();
    return linkRules(reg.patterns, reg.recipes).rules.map((r) => ({ ...r, epoch: epochs.get(r.name)?.epoch ?? 0 }));
  }

  /** The rules these definitions link, with the registration epochs registering them would give. */
  registering(defs: LoadedDefinitions): Rule[] {
    return assignEpochs(this.epochs.registered(), linkRules(defs.patterns, defs.recipes).rules, this.epochs.last());
  }

  /** The plan that the given definitions make against what is registered (nothing changes). */
  plan(defs: LoadedDefinitions, files: Iterable<string>): Plan {
    return planChange(this.registeredRules(), this.registering(defs), [...files], this.store.activeJobs());
  }

  /** Names of the patterns these definitions link to a recipe. */
  linkedNames(defs: LoadedDefinitions): string[] {
    return linkRules(defs.patterns, defs.recipes).rules.map((r) => r.name);
  }

  /**
   * Compiles `defs` into the rules that match from now on, and returns the
   * write that saves them (definitions, rule versions, registration epochs):
   * the caller runs it in the transaction that records the change's
   * retroactive jobs, so a crash never keeps one without the other.
   */
  register(defs: LoadedDefinitions): () => void {
    const linked = { ...linkRules(defs.patterns, defs.recipes), rules: this.registering(defs) };
    const save = () => {
      this.store.saveDefinitions(defs.patterns, defs.recipes);
      this.store.saveRules(new Map(linked.rules.map((r) => [r.name, r.version])));
      this.epochs.save(linked.rules);
    };
    this.view = { patterns: defs.patterns, recipes: defs.recipes, waiting: linked.waiting, errors: defs.errors };
    this.ruleSetNow = compileRules(linked.rules);
    this.byVersion = new Map(linked.rules.map((r) => [r.version, r]));
    return save;
  }

  /**
   * The definitions that writing `content` to `file` (or deleting it, with
   * null) would give, or the errors that refuse it. Nothing is written.
   */
  async withChange(file: string, content: string | null): Promise<{ defs: LoadedDefinitions; errors: DefinitionError[] }> {
    const kind = /^patterns\/[^/]+$/.test(file) ? 'pattern' : /^recipes\/[^/]+$/.test(file) ? 'recipe' : null;
    if (!kind || file.includes('..') || basename(file).startsWith('.')) {
      throw new MeowError('MEOW_USAGE', `${file}: definitions live directly under patterns/ or recipes/`);
    }
    const disk = await this.load();
    const defs: LoadedDefinitions = { patterns: disk.patterns.filter((p) => p.file !== file), recipes: disk.recipes.filter((r) => r.file !== file), errors: [] };
    if (content !== null) {
      const parsed = kind === 'pattern' ? parsePattern(file, content, { maxSweep: this.config.maxSweep, backends: Object.keys(this.config.backends) }) : parseRecipe(file, content);
      if (parsed.errors.length) return { defs, errors: parsed.errors };
      if ('pattern' in parsed && parsed.pattern) defs.patterns.push(parsed.pattern);
      if ('recipe' in parsed && parsed.recipe) defs.recipes.push(parsed.recipe);
    }
    return { defs, errors: [] };
  }

  /** Writes (atomically) or, with null, deletes one definition file. */
  async write(file: string, content: string | null): Promise<void> {
    const abs = join(this.config.root, file);
    if (content === null) await rm(abs, { force: true });
    else {
      const tmp = join(dirname(abs), `.${basename(abs)}.${process.pid}.tmp`);
      await writeFile(tmp, content);
      await rename(tmp, abs);
    }
  }
}
