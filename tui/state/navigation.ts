import type { KeyPress } from './keys.js';

/** The views, in tab order; number keys 1–5 pick them. */
export const VIEWS = [
  { name: 'overview', title: 'Overview' },
  { name: 'patterns', title: 'Patterns' },
  { name: 'recipes', title: 'Recipes' },
  { name: 'jobs', title: 'Jobs' },
  { name: 'events', title: 'Events' },
] as const;
export type ViewName = (typeof VIEWS)[number]['name'];

/** Which view shows, whether the help overlay covers it, and whether views show history. */
export interface NavState {
  view: ViewName;
  help: boolean;
  /**
   * False: failures and cancellations that are superseded (a later job of the
   * same pattern on the same input succeeded, or the rule or input changed
   * since) are left out of counts and lists. True: every job.
   */
  history: boolean;
}

export const INITIAL_NAV: NavState = { view: 'overview', help: false, history: false };

/** What a global key did: the new state, whether to quit, whether the key was used. */
export interface NavResult {
  state: NavState;
  quit: boolean;
  handled: boolean;
}

function step(view: ViewName, by: number): ViewName {
  const i = VIEWS.findIndex((v) => v.name === view);
  return VIEWS[(i + by + VIEWS.length) % VIEWS.length].name;
}

/**
 * The keys every view shares: `1`–`5` and Tab/Shift-Tab switch views, `h`
 * toggles history (superseded failures shown), `?` opens help (any key
 * closes it), `q` and Ctrl-C quit.
 */
export function navigate(state: NavState, input: string, key: KeyPress): NavResult {
  const same = (handled: boolean): NavResult => ({ state, quit: false, handled });
  if (key.ctrl && input === 'c') return { state, quit: true, handled: true };
  if (state.help) return { state: { ...state, help: false }, quit: false, handled: true };
  if (input === 'q') return { state, quit: true, handled: true };
  if (input === 'h') return { state: { ...state, history: !state.history }, quit: false, handled: true };
  if (input === '?') return { state: { ...state, help: true }, quit: false, handled: true };
  if (key.tab) return { state: { ...state, view: step(state.view, key.shift ? -1 : 1) }, quit: false, handled: true };
  const n = Number.parseInt(input, 10);
  if (input.length === 1 && n >= 1 && n <= VIEWS.length) return { state: { ...state, view: VIEWS[n - 1].name }, quit: false, handled: true };
  return same(false);
}
