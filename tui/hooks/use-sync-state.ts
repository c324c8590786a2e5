import { useCallback, useRef, useState } from 'react';

/**
 * State whose latest value key handlers can read at once. ink may deliver
 * several keys before React renders again; a handler reading state from its
 * render would see the value from before the previous key.
 */
export function useSyncState<T>(initial: T): readonly [T, (next: T | ((prev: T) => T)) => void, () => T] {
  const [state, setState] = useState(initial);
  const ref = useRef(state);
  const set = useCallback((next: T | ((prev: T) => T)) => {
    ref.current = typeof next === 'function' ? (next as (prev: T) => T)(ref.current) : next;
    setState(ref.current);
  }, []);
  const get = useCallback(() => ref.current, []);
  return [state, set, get] as const;
}
