import type { EngineClient } from '../../src/api/client.js';
import { toStreamEvent } from './shapes.js';
import type { DefinitionError, DefinitionResult, JobJson, JobProgressJson, JobPage, JobStatus, MatchPreview, PatternJson, RecipeJson, StatusJson, StreamEvent, JobCounts } from './shapes.js';

/** A one-line message for anything thrown. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** A filter of the jobs list; `text` searches input paths. */
export interface JobFilter {
  status: JobStatus | null;
  pattern: string | null;
  text: string;
}

/**
 * What the TUI asks of the engine, typed. Every call goes through the
 * control-socket client; nothing here touches the engine's internals.
 */
export class TuiClient {
  constructor(private readonly api: EngineClient) {}

  /** Engine state and job counts: current ones, or with `all` superseded ones too. */
  status(all = false): Promise<StatusJson> {
    return this.api.get(all ? '/status?all=1' : '/status');
  }

  /** The definition files the engine left out because they are invalid (file, key, message). */
  invalidDefinitions(): Promise<DefinitionError[]> {
    return this.api.get('/definitions/invalid');
  }

  patterns(): Promise<PatternJson[]> {
    return this.api.get('/patterns');
  }

  recipes(): Promise<RecipeJson[]> {
    return this.api.get('/recipes');
  }

  /** Job counts by state per pattern (patterns without jobs are absent); `current` leaves out superseded failures. */
  patternStats(current = false): Promise<Record<string, JobCounts>> {
    return this.api.get(current ? '/stats/patterns?current=1' : '/stats/patterns');
  }

  /** A window of the jobs matching the filter, newest first; `current` leaves out superseded failures and cancellations. */
  jobs(filter: JobFilter, offset: number, limit: number, current = false): Promise<JobPage> {
    const q = new URLSearchParams({ offset: String(offset), limit: String(limit) });
    if (current) q.set('current', '1');
    if (filter.status) q.set('status', filter.status);
    if (filter.pattern) q.set('pattern', filter.pattern);
    if (filter.text) q.set('q', filter.text);
    return this.api.get(`/search/jobs?${q}`);
  }

  job(id: string): Promise<JobJson> {
    return this.api.get(`/jobs/${encodeURIComponent(id)}`);
  }

  /** The last `bytes` of a job's stdout or stderr. */
  async jobLog(id: string, stream: 'stdout' | 'stderr', bytes = 4096): Promise<string> {
    const r = await this.api.get<{ text: string }>(`/jobs/${encodeURIComponent(id)}/logs?stream=${stream}&tail=${bytes}`);
    return r.text;
  }

  /** Running jobs' progress: notebook cells done of total, and their latest log line. */
  progress(ids: readonly string[]): Promise<JobProgressJson[]> {
    if (ids.length === 0) return Promise.resolve([]);
    const q = new URLSearchParams();
    for (const id of ids) q.append('id', id);
    return this.api.get(`/progress?${q}`);
  }

  cancel(id: string): Promise<JobJson> {
    return this.api.post(`/jobs/${encodeURIComponent(id)}/cancel`);
  }

  retry(id: string): Promise<JobJson> {
    return this.api.post(`/jobs/${encodeURIComponent(id)}/retry`);
  }

  /** Pauses a pattern (its jobs wait, queued) or resumes it. */
  setPaused(name: string, paused: boolean): Promise<PatternJson> {
    return this.api.post(`/patterns/${encodeURIComponent(name)}/${paused ? 'pause' : 'resume'}`);
  }

  /** The text of a definition file (`patterns/x.yaml`). */
  async definition(file: string): Promise<string> {
    const r = await this.api.get<{ content: string }>(`/definitions?file=${encodeURIComponent(file)}`);
    return r.content;
  }

  /** Validates and plans (dryRun) or writes and applies a definition file; `content` null deletes it. */
  changeDefinition(file: string, content: string | null, dryRun: boolean): Promise<DefinitionResult> {
    return this.api.post('/definitions', { file, content, dry_run: dryRun });
  }

  /** How many known files the trigger globs match, with a few of them. */
  match(globs: readonly string[], ignore: readonly string[] = [], sample = 5): Promise<MatchPreview> {
    const q = new URLSearchParams({ sample: String(sample) });
    for (const g of globs) q.append('glob', g);
    for (const g of ignore) q.append('ignore', g);
    return this.api.get(`/match?${q}`);
  }

  /** Follows the engine's events; returns a function that stops. */
  follow(onEvent: (event: StreamEvent) => void, onEnd: (err: Error | null) => void): () => void {
    return this.api.stream((name, data) => {
      const event = toStreamEvent(name, data);
      if (event) onEvent(event);
    }, onEnd);
  }
}
