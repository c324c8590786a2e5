import { useEffect, useRef, useState } from 'react';
import { appendEvents, emptyLog, type EventLog } from '../state/event-log.js';
import { addCount, advance, emptySeries, type RateSeries } from '../state/rates.js';
import type { StreamEvent } from '../api/shapes.js';
import type { TuiClient } from '../api/tui-client.js';

/** What the engine's event stream has told the TUI so far. */
export interface EngineStream {
  log: EventLog;
  /** File events per bucket. */
  events: RateSeries;
  /** Jobs ended (succeeded, failed, cancelled) per bucket. */
  jobs: RateSeries;
  /** Bumped when jobs changed: views showing jobs reload. */
  jobsVersion: number;
  /** Bumped when definitions changed: patterns and recipes reload. */
  rulesVersion: number;
  /** Bumped when files changed: what the form's plan and match preview show may have changed. */
  filesVersion: number;
  connected: boolean;
}

function initial(now: number): EngineStream {
  return { log: emptyLog(), events: emptySeries(now), jobs: emptySeries(now), jobsVersion: 0, rulesVersion: 0, filesVersion: 0, connected: true };
}

/** Applies a batch of events to the stream's state (pure). */
export function applyBatch(s: EngineStream, batch: readonly StreamEvent[], now: number): EngineStream {
  let files = 0;
  let ended = 0;
  let jobs = false;
  let rules = false;
  for (const e of batch) {
    if (e.name === 'file:event') files++;
    else if (e.name === 'rules:changed' || e.name === 'definitions:invalid') rules = true;
    else if (e.name !== 'log') {
      jobs = true;
      if (e.name === 'job:finished' && e.data.status !== 'queued') ended++;
    }
  }
  return {
    ...s,
    log: appendEvents(s.log, batch, now),
    events: addCount(s.events, now, files),
    jobs: addCount(s.jobs, now, ended),
    jobsVersion: s.jobsVersion + (jobs || rules ? 1 : 0),
    rulesVersion: s.rulesVersion + (rules ? 1 : 0),
    filesVersion: s.filesVersion + (files ? 1 : 0),
  };
}

/**
 * Follows the engine's events. Frames are batched and applied every
 * `flushMs`, so a burst of thousands of events costs a few renders.
 */
export function useEngineStream(client: TuiClient, flushMs = 250): EngineStream {
  const [state, setState] = useState(() => initial(Date.now()));
  const pending = useRef<StreamEvent[]>([]);
  useEffect(() => {
    const stop = client.follow(
      (e) => void pending.current.push(e),
      () => setState((s) => ({ ...s, connected: false })),
    );
    const t = setInterval(() => {
      const batch = pending.current;
      pending.current = [];
      const now = Date.now();
      setState((s) => {
        if (batch.length) return applyBatch(s, batch, now);
        const events = advance(s.events, now);
        const jobs = advance(s.jobs, now);
        return events === s.events && jobs === s.jobs ? s : { ...s, events, jobs };
      });
    }, flushMs);
    return () => {
      clearInterval(t);
      stop();
    };
  }, [client, flushMs]);
  return state;
}
