import { useEffect, useRef, useState } from 'react';
import { messageOf } from '../api/tui-client.js';

/** The answer for the latest input, while it loads, or why it failed. */
export interface AsyncValue<T> {
  data: T | null;
  error: string | null;
  loading: boolean;
}

/**
 * Loads `load(input)` whenever `input` changes (compared as JSON); answers for
 * an input that has changed since are dropped. A null input loads nothing.
 */
export function useAsync<I, T>(input: I | null, load: (input: I) => Promise<T>): AsyncValue<T> {
  const [state, setState] = useState<AsyncValue<T>>({ data: null, error: null, loading: false });
  const seq = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;
  const key = input === null ? null : JSON.stringify(input);
  useEffect(() => {
    const mine = ++seq.current;
    if (input === null) {
      setState({ data: null, error: null, loading: false });
      return;
    }
    setState((s) => ({ ...s, loading: true }));
    loadRef.current(input).then(
      (data) => mine === seq.current && setState({ data, error: null, loading: false }),
      (err: unknown) => mine === seq.current && setState({ data: null, error: messageOf(err), loading: false }),
    );
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);
  useEffect(() => () => void (seq.current = -1), []);
  return state;
}
