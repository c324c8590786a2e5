import { useCallback, useEffect, useRef, useState } from 'react';
import { messageOf } from '../api/tui-client.js';

/** The latest answer of a polled request, its error, and a way to ask again now. */
export interface Polled<T> {
  data: T | null;
  error: string | null;
  refresh(): void;
}

/**
 * Calls `load` at once, every `intervalMs` while `active`, and whenever a
 * value in `deps` changes. A call never overlaps the previous one; answers
 * arriving after unmount are dropped.
 */
export function usePoll<T>(load: () => Promise<T>, intervalMs: number, deps: readonly unknown[], active = true): Polled<T> {
  const [state, setState] = useState<{ data: T | null; error: string | null }>({ data: null, error: null });
  const loadRef = useRef(load);
  loadRef.current = load;
  const busy = useRef(false);
  const again = useRef(false);
  const alive = useRef(true);
  const run = useCallback(() => {
    if (busy.current) {
      again.current = true;
      return;
    }
    busy.current = true;
    loadRef
      .current()
      .then(
        (data) => alive.current && setState({ data, error: null }),
        (err: unknown) => alive.current && setState((s) => ({ data: s.data, error: messageOf(err) })),
      )
      .finally(() => {
        busy.current = false;
        if (again.current && alive.current) {
          again.current = false;
          run();
        }
      });
  }, []);
  useEffect(() => {
    alive.current = true;
    return () => void (alive.current = false);
  }, []);
  useEffect(() => {
    if (!active) return;
    run();
    if (intervalMs <= 0) return;
    const t = setInterval(run, intervalMs);
    return () => clearInterval(t);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [active, intervalMs, run, ...deps]);
  return { ...state, refresh: run };
}
