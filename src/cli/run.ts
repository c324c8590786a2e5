import { escapeControl } from '../core/safe-text.js';
import { Engine } from '../engine.js';
import { formatDefinitionError } from '../monitor/definitions-reader.js';
import { onTerminal } from './tui.js';
import { workspaceRoot, type GlobalOptions } from './workspace.js';
import type { JobRecord } from '../core/types.js';
import type { RunOptions } from './live.js';
import type { EngineApi, EngineLifecycle } from '../api/engine-api.js';

export type { RunOptions } from './live.js';

function clock(): string {
  return new Date().toISOString().slice(11, 23);
}

/** Prints engine events as plain log lines (or JSON lines). */
export function attachLogger(engine: EngineApi, json: boolean): void {
  const out = (kind: string, fields: Record<string, unknown>, text: string) => {
    if (json) process.stdout.write(`${JSON.stringify({ at: new Date().toISOString(), kind, ...fields })}\n`);
    // A file name may hold a newline: escaped, it can never split or forge a log line.
    else process.stdout.write(`${clock()} ${escapeControl(text)}\n`);
  };
  const jobLine = (j: JobRecord) => `${j.id} ${j.pattern} ${j.input}`;
  engine.on('job:started', (j) => out('job:started', { id: j.id, pattern: j.pattern, input: j.input, attempt: j.attempt }, `started   ${jobLine(j)}${j.attempt > 1 ? ` (attempt ${j.attempt})` : ''}`));
  engine.on('job:finished', (j) =>
    out('job:finished', { id: j.id, pattern: j.pattern, input: j.input, status: j.status, error: j.error }, `${j.status.padEnd(9)} ${jobLine(j)}${j.error ? ` — ${j.error.split('\n')[0]}` : ''}`),
  );
  engine.on('rules:changed', (plan) => {
    for (const c of plan.changes) out('rule:changed', { pattern: c.name, change: c.change, triggers: c.triggers, cancels: c.cancels.length }, `pattern ${c.name} ${c.change}: ${c.triggers} triggered, ${c.cancels.length} cancelled`);
  });
  engine.on('definitions:invalid', (errors) => {
    for (const e of errors) process.stderr.write(`${formatDefinitionError(e)}\n`);
  });
  engine.on('log', (level, message) => process.stderr.write(`${clock()} ${level}: ${escapeControl(message)}\n`));
}

/** `meow run`: the engine. `--until-idle` exits once nothing is pending. */
export async function runCommand(g: GlobalOptions, o: RunOptions): Promise<number> {
  const root = workspaceRoot(g);
  const engine: EngineLifecycle = await Engine.open(root);
  for (const e of engine.configErrors) process.stderr.write(`${formatDefinitionError(e)}\n`);
  // On a terminal the live engine shows the TUI instead of log lines.
  const tui = !o.untilIdle && o.tui !== false && !o.json && onTerminal();
  if (!tui) attachLogger(engine, o.json ?? false);
  if (o.untilIdle) {
    try {
      await engine.runUntilIdle();
      const c = engine.statusJson().jobs;
      if (!o.json) console.log(`idle: ${c.succeeded} succeeded, ${c.failed} failed, ${c.cancelled} cancelled in total; ${engine.failedCount} failed in this run`);
      return engine.failedCount > 0 ? 1 : 0;
    } finally {
      await engine.close();
    }
  }
  const { runLive } = await import('./live.js');
  return runLive(engine, { ...o, tui });
}
