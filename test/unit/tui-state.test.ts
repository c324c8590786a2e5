import { describe, expect, it } from 'vitest';
import { appendEvents, describeEvent, emptyLog, filterEntries } from '../../tui/state/event-log.js';
import { ago, clockDuration, compactCount, tailLines, truncate, truncateStart } from '../../tui/state/format.js';
import { anchorCursor, cancelQuestion, INITIAL_JOBS, jobsKey, pageWanted, type JobsState } from '../../tui/state/jobs-query.js';
import { keyOf, splitChunk, typedText } from '../../tui/state/keys.js';
import { clampCursor, moveCursor } from '../../tui/state/list-window.js';
import { INITIAL_NAV, navigate } from '../../tui/state/navigation.js';
import { planSentence } from '../../tui/state/plan-summary.js';
import { addCount, advance, emptySeries, perSecond, sparkline } from '../../tui/state/rates.js';
import { makeTheme, noColorRequested, stateTone } from '../../tui/theme.js';
import type { JobJson, JobPage, StreamEvent } from '../../tui/api/shapes.js';

function job(id: string, over: Partial<JobJson> = {}): JobJson {
  return {
    id,
    pattern: 'p',
    recipe: 'r',
    status: 'succeeded',
    input: `data/${id}.txt`,
    event: 'created',
    variables: {},
    attempt: 1,
    exit_code: 0,
    error: null,
    backend: 'local',
    generation: 0,
    job_dir: `.meow/jobs/${id}`,
    created_at: '2026-01-01T00:00:00.000Z',
    started_at: null,
    finished_at: null,
    old_path: null,
    sweep_point: null,
    retries: 0,
    cause: null,
    result: null,
    ...over,
  } as JobJson;
}

describe('navigation keys', () => {
  it('switches views by number, Tab and Shift-Tab, wrapping around', () => {
    expect(navigate(INITIAL_NAV, '4', keyOf()).state.view).toBe('jobs');
    expect(navigate(INITIAL_NAV, '', keyOf({ tab: true })).state.view).toBe('patterns');
    expect(navigate(INITIAL_NAV, '', keyOf({ tab: true, shift: true })).state.view).toBe('events');
    expect(navigate({ view: 'events', help: false, history: false }, '', keyOf({ tab: true })).state.view).toBe('overview');
    expect(navigate(INITIAL_NAV, '9', keyOf()).handled).toBe(false);
  });

  it('opens help with ?, closes it with any key, quits with q or Ctrl-C', () => {
    const help = navigate(INITIAL_NAV, '?', keyOf()).state;
    expect(help.help).toBe(true);
    const closed = navigate(help, 'q', keyOf());
    expect(closed).toMatchObject({ quit: false, handled: true, state: { help: false } });
    expect(navigate(INITIAL_NAV, 'q', keyOf()).quit).toBe(true);
    expect(navigate(help, 'c', keyOf({ ctrl: true })).quit).toBe(true);
    expect(navigate(INITIAL_NAV, 'x', keyOf()).handled).toBe(false);
  });

  it('toggles history (superseded failures shown) with h, starting with current jobs only', () => {
    expect(INITIAL_NAV.history).toBe(false);
    const on = navigate(INITIAL_NAV, 'h', keyOf());
    expect(on).toMatchObject({ handled: true, quit: false, state: { history: true, view: 'overview' } });
    expect(navigate(on.state, 'h', keyOf()).state.history).toBe(false);
  });
});

describe('keys that arrive together', () => {
  it('splits a read into runs of text and single control keys', () => {
    expect(splitChunk('ab\rc\t\x7f\x15')).toEqual([
      { input: 'ab', key: keyOf() },
      { input: '', key: keyOf({ return: true }) },
      { input: 'c', key: keyOf() },
      { input: '', key: keyOf({ tab: true }) },
      { input: '', key: keyOf({ backspace: true }) },
      { input: 'u', key: keyOf({ ctrl: true }) },
    ]);
    expect(typedText('a\u0007b', keyOf())).toBe('ab');
    expect(typedText('x', keyOf({ ctrl: true }))).toBe('');
  });
});

describe('list windows', () => {
  it('keeps the selection inside the list and on screen', () => {
    expect(clampCursor({ selected: 50, top: 0 }, 20, 5)).toEqual({ selected: 19, top: 15 });
    expect(clampCursor({ selected: 3, top: 10 }, 20, 5)).toEqual({ selected: 3, top: 3 });
    expect(clampCursor({ selected: 4, top: 0 }, 0, 5)).toEqual({ selected: 0, top: 0 });
  });

  it('moves by line, page, start and end', () => {
    const c = { selected: 0, top: 0 };
    expect(moveCursor(c, '', keyOf({ downArrow: true }), 100, 10)).toEqual({ selected: 1, top: 0 });
    expect(moveCursor(c, 'j', keyOf(), 100, 10)).toEqual({ selected: 1, top: 0 });
    expect(moveCursor(c, '', keyOf({ pageDown: true }), 100, 10)).toEqual({ selected: 9, top: 0 });
    expect(moveCursor(c, 'G', keyOf(), 100, 10)).toEqual({ selected: 99, top: 90 });
    expect(moveCursor({ selected: 99, top: 90 }, 'g', keyOf(), 100, 10)).toEqual({ selected: 0, top: 0 });
    expect(moveCursor(c, 'x', keyOf(), 100, 10)).toBeNull();
  });
});

describe('rates and sparklines', () => {
  it('counts per bucket, shifting old buckets out', () => {
    let s = emptySeries(0, 3, 1000);
    s = addCount(s, 100, 2);
    s = addCount(s, 1500, 1);
    expect(s.counts).toEqual([0, 2, 1]);
    s = advance(s, 3500);
    expect(s.counts).toEqual([1, 0, 0]);
    expect(advance(s, 10_000).counts).toEqual([0, 0, 0]);
    expect(addCount(s, -5000, 4).counts).toEqual([1, 0, 0]); // older than the window: dropped
  });

  it('reports events per second since counting began', () => {
    let s = emptySeries(0, 30, 10_000);
    s = addCount(s, 5000, 50);
    expect(perSecond(s, 10_000)).toBeCloseTo(5);
    expect(perSecond(emptySeries(0), 0)).toBe(0);
  });

  it('draws the highest bucket as a full bar and empty ones blank', () => {
    expect(sparkline([0, 1, 4, 8], 4)).toBe(' ▁▄█');
    expect(sparkline([8, 8], 4)).toBe('  ██');
    expect(sparkline([1, 2, 3], 2)).toBe('▆█');
  });
});

describe('the event log', () => {
  const finished: StreamEvent = { name: 'job:finished', data: job('j-1', { status: 'failed', error: '\nTraceback\nboom' }) };
  it('describes every kind of engine event in one line each', () => {
    expect(describeEvent({ name: 'file:event', data: { kind: 'moved', path: 'b', oldPath: 'a', version: 'v', generation: 2, cause: null } })).toEqual([
      { kind: 'file', level: 'info', text: 'moved     b (from a) gen 2' },
    ]);
    expect(describeEvent(finished)).toEqual([{ kind: 'job', level: 'error', text: 'failed    p data/j-1.txt j-1 — Traceback' }]);
    const plan = { changes: [{ pattern: 'x', change: 'added' as const, recipe: 'r', files: 3, triggers: 3, cancels: 0, sets: null, cancelled_jobs: [] }], unchanged: [] };
    expect(describeEvent({ name: 'rules:changed', data: plan })[0].text).toBe('pattern x added: 3 jobs triggered, 0 cancelled');
    expect(describeEvent({ name: 'definitions:invalid', data: [{ file: 'patterns/x.yaml', key: 'trigger', message: 'bad', code: 'C' }] })[0]).toMatchObject({ level: 'error', text: 'patterns/x.yaml: trigger: bad' });
    expect(describeEvent({ name: 'log', data: { level: 'warn', message: 'hm' } })[0]).toMatchObject({ kind: 'log', level: 'warn' });
  });

  it('keeps the newest entries up to its cap, numbered', () => {
    let log = emptyLog(3);
    for (let i = 0; i < 5; i++) log = appendEvents(log, [{ name: 'log', data: { level: 'info', message: `m${i}` } }], i);
    expect(log.entries.map((e) => e.text)).toEqual(['m2', 'm3', 'm4']);
    expect(log.next).toBe(6);
    expect(filterEntries(log.entries, 'job')).toEqual([]);
    expect(appendEvents(log, [], 9)).toBe(log);
  });
});

describe('the jobs view keys', () => {
  const ctx = { patterns: ['a', 'b'], total: 100, height: 10 };
  const press = (s: JobsState, input: string, flags = {}) => jobsKey(s, input, keyOf(flags), ctx);

  it('cycles the state and pattern filters back to all, and resets the selection', () => {
    let s: JobsState = { ...INITIAL_JOBS, cursor: { selected: 5, top: 0 } };
    s = press(s, 's').state;
    expect(s.filter.status).toBe('queued');
    expect(s.cursor.selected).toBe(0);
    for (let i = 0; i < 5; i++) s = press(s, 's').state;
    expect(s.filter.status).toBeNull();
    s = press(press(s, 'p').state, 'p').state;
    expect(s.filter.pattern).toBe('b');
    expect(press(s, 'p').state.filter.pattern).toBeNull();
    expect(press(s, 'x').state.filter).toEqual({ status: null, pattern: null, text: '' });
  });

  it('types a search, applies it with Enter and drops it with Esc', () => {
    let s = press(INITIAL_JOBS, '/').state;
    expect(s.draft).toBe('');
    s = press(press(s, 'ab').state, 'c').state;
    s = press(s, '', { backspace: true }).state;
    expect(s.draft).toBe('ab');
    expect(press(s, 'q').state.draft).toBe('abq'); // q types, it does not quit
    const applied = press(s, '', { return: true }).state;
    expect(applied).toMatchObject({ draft: null, filter: { text: 'ab' } });
    expect(press(s, '', { escape: true }).state).toMatchObject({ draft: null, filter: { text: '' } });
  });

  it('opens, switches streams in and closes the detail pane; asks to cancel and retry', () => {
    expect(press(INITIAL_JOBS, '', { return: true }).command).toBe('open');
    expect(jobsKey(INITIAL_JOBS, '', keyOf({ return: true }), { ...ctx, total: 0 }).command).toBeNull();
    const open = { ...INITIAL_JOBS, detail: 'j-1' };
    expect(press(open, 'l').state.stream).toBe('stderr');
    expect(press(open, 'c').command).toBe('cancel');
    expect(press(open, 'r').command).toBe('retry');
    expect(press(open, '', { escape: true }).state.detail).toBeNull();
    expect(press(INITIAL_JOBS, 'z').handled).toBe(false);
  });

  it('cancels only on y to the question; n, Esc answer no and other keys change nothing', () => {
    const asking: JobsState = { ...INITIAL_JOBS, cursor: { selected: 4, top: 0 }, confirm: { id: 'j-1', pattern: 'p', input: 'data/a', status: 'running' } };
    expect(press(asking, 'y')).toMatchObject({ command: 'confirmed', state: { confirm: null } });
    expect(press(asking, 'n')).toMatchObject({ command: 'declined', state: { confirm: null } });
    expect(press(asking, '', { escape: true })).toMatchObject({ command: 'declined', state: { confirm: null } });
    for (const k of ['c', 'j', 's', 'q', 'r']) expect(press(asking, k)).toEqual({ state: asking, command: null, handled: true });
    expect(press(asking, '', { return: true })).toEqual({ state: asking, command: null, handled: true });
    // The question names the job and keeps its keys when the width is short.
    expect(cancelQuestion(asking.confirm!, 80)).toBe('Cancel j-1 (p ← data/a, running)? [y] yes  [n] no');
    const long = cancelQuestion({ ...asking.confirm!, input: `data/${'x'.repeat(100)}` }, 60);
    expect(long).toHaveLength(60);
    expect(long.endsWith('…? [y] yes  [n] no')).toBe(true);
  });

  it('fetches only the window on screen, with a screen either side', () => {
    const page = (offset: number, n: number, total: number): JobPage => ({ total, offset, jobs: Array.from({ length: n }, (_, i) => job(`j-${offset + i}`)) });
    expect(pageWanted({ selected: 0, top: 0 }, 10, null)).toEqual({ offset: 0, limit: 30 });
    expect(pageWanted({ selected: 5, top: 0 }, 10, page(0, 30, 100_000))).toBeNull();
    expect(pageWanted({ selected: 95, top: 90 }, 10, page(0, 30, 100_000))).toEqual({ offset: 80, limit: 30 });
    expect(pageWanted({ selected: 3, top: 0 }, 10, page(0, 4, 4))).toBeNull();
  });

  it('keeps the selected job selected when newer jobs push it down', () => {
    const before: JobPage = { total: 3, offset: 0, jobs: [job('c'), job('b'), job('a')] };
    const after: JobPage = { total: 5, offset: 0, jobs: [job('e'), job('d'), job('c'), job('b'), job('a')] };
    // A window at the top keeps showing the newest jobs, as far as the selection allows.
    expect(anchorCursor({ selected: 1, top: 0 }, before, after, 2)).toEqual({ selected: 3, top: 2 });
    expect(anchorCursor({ selected: 1, top: 0 }, before, after, 10)).toEqual({ selected: 3, top: 0 });
    // The newest job selected stays selected when newer ones arrive above it.
    expect(anchorCursor({ selected: 0, top: 0 }, before, after, 10)).toEqual({ selected: 2, top: 0 });
    // Further down, the window moves with the selection.
    const longBefore: JobPage = { total: 6, offset: 0, jobs: ['f', 'e', 'd', 'c', 'b', 'a'].map((id) => job(id)) };
    const longAfter: JobPage = { total: 7, offset: 0, jobs: ['g', 'f', 'e', 'd', 'c', 'b', 'a'].map((id) => job(id)) };
    expect(anchorCursor({ selected: 4, top: 3 }, longBefore, longAfter, 3)).toEqual({ selected: 5, top: 4 });
    // A job gone from the list (filtered out) leaves the row selected.
    expect(anchorCursor({ selected: 1, top: 0 }, before, { total: 2, offset: 0, jobs: [job('x'), job('y')] }, 10)).toEqual({ selected: 1, top: 0 });
  });
});

describe('formatting', () => {
  it('cuts and pads text to columns', () => {
    expect(truncate('abcdef', 4)).toBe('abc…');
    expect(truncate('abc', 4)).toBe('abc');
    expect(truncateStart('data/deep/file.txt', 10)).toBe('…/file.txt');
    expect(tailLines('a\nb\nc\n', 2, 10)).toEqual(['b', 'c']);
  });

  it('writes durations, ages and counts briefly', () => {
    expect(clockDuration(65_000)).toBe('1:05');
    expect(clockDuration(3_725_000)).toBe('1:02:05');
    expect(ago('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:03:10Z'))).toBe('3m');
    expect(compactCount(100_000)).toBe('100k');
    expect(compactCount(2_500_000)).toBe('2.5M');
  });

  it('sums a plan in one sentence', () => {
    const plan = { changes: [{ pattern: 'x', change: 'changed' as const, recipe: 'r', files: 412, triggers: 412, cancels: 3, sets: null, cancelled_jobs: [] }], unchanged: [] };
    expect(planSentence(plan)).toBe('this edit triggers 412 jobs and cancels 3 queued or running');
    expect(planSentence({ changes: [], unchanged: ['x'] })).toMatch(/changes no rule/);
  });
});

describe('colours', () => {
  it('honours NO_COLOR when set and not empty', () => {
    expect(noColorRequested({ NO_COLOR: '1' })).toBe(true);
    expect(noColorRequested({ NO_COLOR: '' })).toBe(false);
    expect(noColorRequested({})).toBe(false);
    expect(makeTheme(true).color(stateTone('failed'))).toBeUndefined();
    expect(makeTheme(false).color(stateTone('failed'))).toBe('red');
  });
});
