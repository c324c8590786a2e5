/** What the engine and its spawn supervisor (spawn-supervisor.ts) say to each other. */

/** One process to start: detached (its own process group), logs appended to files. */
export interface SpawnTask {
  id: number;
  file: string;
  args: string[];
  cwd: string;
  /** The environment as differences from the one the supervisor was started with. */
  env: EnvDelta;
  stdout: string;
  stderr: string;
}

/** Variables set (or changed) and variables removed, relative to a base environment. */
export interface EnvDelta {
  set: Record<string, string>;
  unset: string[];
}

/** What the supervisor reports about a task, in this order: started (or error), then exit. */
export type SpawnReply =
  | { id: number; type: 'started'; pid: number; start: string | null }
  | { id: number; type: 'exit'; code: number | null; signal: string | null }
  | { id: number; type: 'error'; message: string };

/** `base` with `delta` applied: the environment a task's process gets. */
export function applyEnv(base: Readonly<Record<string, string | undefined>>, delta: EnvDelta): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(base)) if (v !== undefined) env[k] = v;
  for (const k of delta.unset) delete env[k];
  return Object.assign(env, delta.set);
}

