import { JOB_STATES } from '../api/shapes.js';
import { clampCursor, moveCursor, START, type ListCursor } from './list-window.js';
import { typedText, type KeyPress } from './keys.js';
import { truncate } from './format.js';
import type { JobFilter } from '../api/tui-client.js';
import type { JobPage } from '../api/shapes.js';

/** A job named in the question "cancel it?": what would stop. */
export interface CancelQuestion {
  id: string;
  pattern: string;
  input: string;
  status: string;
}

/** The Jobs view: its filter, the selection, the search being typed, the open job, the cancel question. */
export interface JobsState {
  filter: JobFilter;
  cursor: ListCursor;
  /** The search text while `/` is being typed; null otherwise. */
  draft: string | null;
  /** The job whose detail pane is open. */
  detail: string | null;
  stream: 'stdout' | 'stderr';
  /** Set while the view asks whether to cancel this job: only `y` cancels it. */
  confirm: CancelQuestion | null;
}

export const INITIAL_JOBS: JobsState = { filter: { status: null, pattern: null, text: '' }, cursor: START, draft: null, detail: null, stream: 'stdout', confirm: null };

/**
 * Something the view must do: open, ask to cancel, retry the selected (or
 * open) job; `confirmed` cancels the job of the question, `declined` drops it.
 */
export type JobsCommand = 'open' | 'cancel' | 'retry' | 'confirmed' | 'declined' | null;

export interface JobsResult {
  state: JobsState;
  command: JobsCommand;
  /** False when the key meant nothing here (the app may use it). */
  handled: boolean;
}

function cycle<T>(list: readonly T[], current: T | null): T | null {
  const i = current === null ? -1 : list.indexOf(current);
  return i + 1 >= list.length ? null : list[i + 1];
}

/**
 * The Jobs view's keys. List: arrows/j/k/PgUp/PgDn/g/G move, `s` cycles the
 * state filter, `p` the pattern filter, `/` searches input paths, `x` clears
 * filters, Enter opens the detail pane, `c` asks to cancel, `r` retries.
 * Detail: Esc/Enter closes, `l` switches stdout/stderr, `c`/`r` as in the
 * list. While the cancel question shows, `y` cancels, `n`/Esc answer no, and
 * every other key is swallowed (nothing moves under the question).
 */
export function jobsKey(s: JobsState, input: string, key: KeyPress, ctx: { patterns: readonly string[]; total: number; height: number }): JobsResult {
  const done = (state: JobsState, command: JobsCommand = null): JobsResult => ({ state, command, handled: true });
  if (s.confirm !== null) {
    if (input === 'y' || input === 'Y') return done({ ...s, confirm: null }, 'confirmed');
    if (input === 'n' || input === 'N' || key.escape) return done({ ...s, confirm: null }, 'declined');
    return done(s);
  }
  const refilter = (filter: JobFilter) => done({ ...s, filter, cursor: START });
  if (s.draft !== null) {
    if (key.return) return done({ ...s, filter: { ...s.filter, text: s.draft.trim() }, cursor: START, draft: null });
    if (key.escape) return done({ ...s, draft: null });
    if (key.backspace || key.delete) return done({ ...s, draft: s.draft.slice(0, -1) });
    if (key.ctrl && input === 'u') return done({ ...s, draft: '' });
    const text = typedText(input, key);
    return text ? done({ ...s, draft: s.draft + text }) : done(s);
  }
  if (s.detail !== null) {
    if (key.escape || key.return || key.leftArrow || key.backspace) return done({ ...s, detail: null });
    if (input === 'l') return done({ ...s, stream: s.stream === 'stdout' ? 'stderr' : 'stdout' });
    if (input === 'c') return done(s, 'cancel');
    if (input === 'r') return done(s, 'retry');
    return { state: s, command: null, handled: false };
  }
  const moved = moveCursor(s.cursor, input, key, ctx.total, ctx.height);
  if (moved) return done({ ...s, cursor: moved });
  if (input === 's') return refilter({ ...s.filter, status: cycle(JOB_STATES, s.filter.status) });
  if (input === 'p') return refilter({ ...s.filter, pattern: cycle(ctx.patterns, s.filter.pattern) });
  if (input === '/') return done({ ...s, draft: s.filter.text });
  if (input === 'x') return refilter({ status: null, pattern: null, text: '' });
  if (key.return && ctx.total > 0) return done(s, 'open');
  if (input === 'c' && ctx.total > 0) return done(s, 'cancel');
  if (input === 'r' && ctx.total > 0) return done(s, 'retry');
  return { state: s, command: null, handled: false };
}

/**
 * The window of jobs to fetch so that the rows on screen are loaded, or null
 * when the loaded page already covers them. Fetches a screen above and below.
 */
export function pageWanted(cursor: ListCursor, height: number, page: JobPage | null): { offset: number; limit: number } | null {
  const h = Math.max(1, height);
  if (page) {
    const loadedEnd = page.offset + page.jobs.length;
    const visibleEnd = Math.min(cursor.top + h, page.total);
    if (cursor.top >= page.offset && visibleEnd <= loadedEnd) return null;
  }
  return { offset: Math.max(0, cursor.top - h), limit: Math.min(1000, h * 3) };
}

/**
 * Keeps the selection on the same job (by id) when the list reloads and new
 * jobs push it down (newest first): Enter, `c` and `r` then act on the job
 * the user chose, never on whatever job took its row. With the window at the
 * top of the list the new jobs show above the selection; further down the
 * window moves with it. A job no longer in the list leaves the row selected.
 */
export function anchorCursor(cursor: ListCursor, before: JobPage | null, after: JobPage, height: number): ListCursor {
  if (!before) return clampCursor(cursor, after.total, height);
  const id = before.jobs[cursor.selected - before.offset]?.id;
  const i = id ? after.jobs.findIndex((j) => j.id === id) : -1;
  if (i < 0) return clampCursor(cursor, after.total, height);
  const selected = after.offset + i;
  const top = cursor.top === 0 ? 0 : cursor.top + selected - cursor.selected;
  return clampCursor({ selected, top }, after.total, height);
}

/**
 * The question `c` asks, in `width` columns: `Cancel j-… (tick ← data/a.tick,
 * running)? [y] yes  [n] no`. The job's description is cut, never the keys.
 */
export function cancelQuestion(q: CancelQuestion, width: number): string {
  const tail = '? [y] yes  [n] no';
  return `Cancel ${truncate(`${q.id} (${q.pattern} ← ${q.input}, ${q.status})`, Math.max(1, width - 7 - tail.length))}${tail}`;
}
