/**
 * The engine's remote event sources, started from the `sources:` section of
 * meow.yaml. The engine hands over one narrow sink (observe a path, read a
 * committed version, log) and gets back one thing to close.
 */
import { errorMessage } from '../core/errors.js';
import { NatsSource, type SourceSink } from './nats-source.js';
import { OriginStore } from './origin-store.js';
import type { WorkspaceConfig } from '../core/types.js';

/** What the engine gives its sources. */
export type EngineSink = Omit<SourceSink, 'origin'>;

/** Running sources; `close()` stops them (unacknowledged events go to the next engine). */
export interface Sources {
  close(): Promise<void>;
}

/** Starts every configured source (none: nothing is opened). */
export function startSources(config: WorkspaceConfig, sink: EngineSink): Sources {
  const configs = config.sources ?? [];
  if (configs.length === 0) return { close: async () => undefined };
  const origins = new OriginStore(config.root);
  const origin = (path: string, version: string, host: string, source: string): void => {
    try {
      origins.record(path, version, host, source);
    } catch (err) {
      sink.log('warn', `recording the origin of ${path}: ${errorMessage(err)}`);
    }
  };
  const running = configs.map((c) => new NatsSource(c, { ...sink, origin }));
  for (const s of running) s.start();
  return {
    close: async () => {
      await Promise.all(running.map((s) => s.close()));
      origins.close();
    },
  };
}
