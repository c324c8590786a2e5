import { escapeControl } from '../core/safe-text.js';
import { Engine } from '../engine.js';
import { errorCode, errorMessage } from '../core/errors.js';
import { untilIdleAsClient } from './run-client.js';
import { describeCascade, estimateCascade } from '../rules/cascade.js';
import { removedRecipe } from '../rules/planner.js';
import { idleRecord } from '../api/until-idle.js';
import { ProgressLine } from './progress-line.js';
import { formatDefinitionError } from '../monitor/definitions-reader.js';
import { onTerminal } from './tui.js';
import { workspaceRoot, type GlobalOptions } from './workspace.js';
import type { JobRecord } from '../core/types.js';
import type { RunOptions } from './live.js';
import type { EngineApi } from '../api/engine-api.js';

export type { RunOptions } from './live.js';

function clock(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Prints engine events as plain log lines (or JSON lines). */
export function attachLogger(engine: EngineApi, json: boolean, beforeLine: () => void = () => undefined): void {
  const out = (kind: string, fields: Record<string, unknown>, text: string) => {
    beforeLine();
    if (json) process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), kind, ...fields })}\n`);
    // A file name may hold a newline: escaped, it can never split or forge a log line.
    else process.stdout.write(`${clock()} ${escapeControl(text)}\n`);
  };
  const jobLine = (j: JobRecord) => `${j.id} ${j.pattern} ${j.input}`;
  engine.on('job:started', (j) => out('job:started', { id: j.id, pattern: j.pattern, input: j.input, attempt: j.attempt }, `started   ${jobLine(j)}${j.attempt > 1 ? ` (attempt ${j.attempt})` : ''}`));
  // A job going back to the queue (a retry, a shutdown, an attempt that did not count) is a transition the log shows;
  // a new job's creation is not (a burst would print a line per file twice).
  engine.on('job:queued', (j) => {
    if (j.error === null) return;
    out('job:queued', { id: j.id, pattern: j.pattern, input: j.input, attempt: j.attempt, error: j.error }, `queued    ${jobLine(j)} — ${j.error.split('\n')[0]}`);
  });
  engine.on('job:finished', (j) =>
    out('job:finished', { id: j.id, pattern: j.pattern, input: j.input, status: j.status, error: j.error }, `${j.status.padEnd(9)} ${jobLine(j)}${j.error ? ` — ${j.error.split('\n')[0]}` : ''}`),
  );
  engine.on('rules:changed', (plan) => {
    for (const c of plan.changes) {
      // Each change's own downstream estimate, through the patterns now in force.
      const cascade = estimateCascade({ changes: [c], unchanged: [] }, engine.patterns);
      const downstream = describeCascade(cascade);
      const recipe = removedRecipe(c, engine.patterns);
      out(
        'rule:changed',
        { pattern: c.name, change: c.change, triggers: c.triggers, cancels: c.cancels.length, cascade },
        `${recipe !== null ? `pattern ${c.name} unlinked, its recipe ${recipe} removed` : `pattern ${c.name} ${c.change}`}: ${c.triggers} job${c.triggers === 1 ? '' : 's'} triggered, ${c.cancels.length} cancelled${downstream ? `; ${downstream}` : ''}`,
      );
    }
  });
  engine.on('definitions:invalid', (errors) => {
    beforeLine();
    for (const e of errors) process.stderr.write(`${formatDefinitionError(e)}\n`);
  });
  engine.on('log', (level, message) => {
    beforeLine();
    process.stderr.write(`${clock()} ${level}: ${escapeControl(message)}\n`);
  });
}

/** `meow run`: the engine. `--until-idle` exits once nothing is pending. */
export async function runCommand(g: GlobalOptions, o: RunOptions): Promise<number> {
  const root = workspaceRoot(g);
  const opened = await openOrJoin(root, o);
  if (typeof opened === 'number') return opened;
  const engine = opened;
  if (engine.state?.rebuilt) {
    const r = engine.state.rebuilt;
    process.stderr.write(`rebuilt .meow/state.db from ${r.imported} job record(s): ${r.done} input(s) count as done; ${r.unreadable} job director${r.unreadable === 1 ? 'y' : 'ies'} without a record\n`);
  }
  for (const e of engine.configErrors) process.stderr.write(`${formatDefinitionError(e)}\n`);
  // On a terminal the live engine shows the TUI instead of log lines.
  const tui = !o.untilIdle && o.tui !== false && !o.json && onTerminal();
  // --until-idle on a terminal: a progress line on stderr, never in a pipe or a log.
  const progress = o.untilIdle && !o.json && process.stderr.isTTY ? new ProgressLine(engine, process.stderr) : null;
  if (!tui) attachLogger(engine, o.json ?? false, () => progress?.clear());
  if (o.untilIdle) {
    try {
      const count = (jobs: Record<string, number>) => Object.values(jobs).reduce((a, b) => a + b, 0);
      const before = count(engine.statusJson().jobs);
      progress?.start();
      await engine.runUntilIdle();
      progress?.stop();
      const c = engine.statusJson().jobs;
      if (o.json) process.stdout.write(idleRecord({ failed: engine.failedCount, created: count(c) - before, jobs: c }));
      else console.log(`idle: ${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled in total; ${engine.failedCount} failed in this run`);
      return engine.failedCount > 0 ? 1 : 0;
    } finally {
      progress?.stop();
      await engine.close();
    }
  }
  const { runLive } = await import('./live.js');
  return runLive(engine, { ...o, tui });
}

/**
 * Opens the workspace's engine. Another engine holding the workspace makes
 * `--until-idle` its client (cli/run-client.ts) and anything else exit 2
 * naming it; a lost state.db exits 2 saying how to recover. Returns the exit
 * code when no engine is opened here.
 */
async function openOrJoin(root: string, o: RunOptions): Promise<Engine | number> {
  for (;;) {
    try {
      return await Engine.open(root, { rebuildState: o.rebuildState ?? false });
    } catch (err) {
      const code = errorCode(err);
      if (code === 'MEOW_STATE_LOST' || (code === 'MEOW_ENGINE_RUNNING' && !o.untilIdle)) {
        process.stderr.write(`meow: ${errorMessage(err)}\n`);
        return 2;
      }
      if (code !== 'MEOW_ENGINE_RUNNING') throw err;
    }
    const outcome = await untilIdleAsClient(root, o.json ?? false);
    if ('code' in outcome) return outcome.code;
    // The live engine stopped before answering: this process runs the workspace itself.
  }
}
