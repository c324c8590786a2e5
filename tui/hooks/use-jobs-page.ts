import { useEffect, useRef, useState } from 'react';
import { pageWanted } from '../state/jobs-query.js';
import { messageOf, type JobFilter, type TuiClient } from '../api/tui-client.js';
import type { JobPage } from '../api/shapes.js';
import type { ListCursor } from '../state/list-window.js';

/** The loaded window of the jobs list, and how long the last load took. */
export interface LoadedJobs {
  page: JobPage | null;
  error: string | null;
  loadMs: number | null;
}

/** The loaded jobs, and the page as of now for key handlers (it may be newer than the last render). */
export interface JobsPage extends LoadedJobs {
  latest(filter: JobFilter): JobPage | null;
}

/**
 * Keeps the jobs on screen loaded, and only those (plus a screen either
 * side): the engine filters and counts, the TUI never holds the whole list.
 * Reloads when the filter changes, the window leaves the loaded page, or
 * `version` says jobs changed. `onReload` sees the page before and after;
 * `latest()` answers the page `onReload` saw at once, before React renders
 * it, so a key handler pairs the cursor with the page it was set for.
 */
export function useJobsPage(
  client: TuiClient,
  filter: JobFilter,
  cursor: ListCursor,
  height: number,
  version: number,
  active: boolean,
  currentOnly: boolean,
  onReload: (before: JobPage | null, after: JobPage) => void,
): JobsPage {
  const [state, setState] = useState<LoadedJobs & { key: string | null }>({ page: null, error: null, loadMs: null, key: null });
  const filterKey = JSON.stringify({ ...filter, currentOnly });
  const current = state.key === filterKey ? state.page : null;
  // The window to load: a new one when the rows on screen are not loaded, else the loaded one (reloaded when `version` moves).
  const target = pageWanted(cursor, height, current) ?? { offset: current?.offset ?? 0, limit: Math.max(current?.jobs.length ?? 0, Math.min(1000, height * 3)) };
  const targetKey = `${target.offset}:${target.limit}`;
  const seq = useRef(0);
  const latest = useRef(current);
  const fresh = useRef<{ key: string; page: JobPage } | null>(null);
  latest.current = current;
  const onReloadRef = useRef(onReload);
  onReloadRef.current = onReload;
  useEffect(() => {
    if (!active) return;
    const before = latest.current;
    const mine = ++seq.current;
    const t0 = performance.now();
    client.jobs(filter, target.offset, target.limit, currentOnly).then(
      (page) => {
        if (mine !== seq.current) return;
        fresh.current = { key: filterKey, page };
        setState({ page, error: null, loadMs: Math.round(performance.now() - t0), key: filterKey });
        onReloadRef.current(before, page);
      },
      (err: unknown) => mine === seq.current && setState((s) => ({ ...s, error: messageOf(err) })),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [client, filterKey, targetKey, version, active]);
  useEffect(() => () => void (seq.current = -1), []);
  const latestPage = (f: JobFilter) => (fresh.current?.key === JSON.stringify({ ...f, currentOnly }) ? fresh.current.page : null);
  return { page: current, error: state.error, loadMs: state.loadMs, latest: latestPage };
}
