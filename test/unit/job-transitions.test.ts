import { afterEach, describe, expect, it } from 'vitest';
import { errorCode } from '../../src/core/errors.js';
import { JOB_STATES, type JobRecord, type JobStatus } from '../../src/core/types.js';
import { JOB_OPERATIONS, JobTransitions, TRANSITIONS, type JobOperation } from '../../src/store/job-transitions.js';
import { Store } from '../../src/store/store.js';

const job = (id: string, status: JobStatus = 'queued'): JobRecord => ({
  id, key: `k-${id}`, pattern: 'p', recipe: 'r', ruleVersion: 'v1', status, input: 'a', inputs: null, inputVersion: '1', event: 'created', oldPath: null,
  variables: { input_file: 'a' }, sweepPoint: null, attempt: 0, retries: 0, timeoutMs: null, exitCode: null, error: null, result: null,
  backend: 'local', generation: 0, cause: null, jobDir: `.meow/jobs/${id}`, pid: null, createdAt: new Date().toISOString(), startedAt: null, finishedAt: null,
});

/** Applies one operation the way the engine does; true when it changed the job. */
function apply(t: JobTransitions, op: Exclude<JobOperation, 'create'>, id: string): boolean {
  switch (op) {
    case 'start':
      return t.start(id, 1) !== null;
    case 'handle':
      return t.handle(id, '{"pid":1}', 1);
    case 'finish':
      return t.finish(id, 'succeeded', { exitCode: 0, error: null, result: null }) !== null;
    case 'requeue':
      return t.requeue(id, 0, 'given back') !== null;
    case 'interrupt':
      return t.interrupt(id, 'queued', {}, 'engine lost') !== null;
    case 'cancel':
      return t.cancel(id, 'cancelled by the test') !== null;
    case 'retry':
      return t.retry(id, () => true) !== null;
    case 'refuse':
      return t.refuse(id, 'can never fit') !== null;
    default: {
      const never: never = op;
      throw new Error(String(never));
    }
  }
}

/** The event each operation emits after its commit, by the state it reached. */
function eventOf(op: JobOperation, to: JobStatus): string | null {
  if (to === 'queued') return 'job:queued';
  if (to === 'running') return op === 'start' ? 'job:started' : null;
  return 'job:finished';
}

describe('job transitions', () => {
  let store: Store | null = null;
  afterEach(() => {
    store?.close();
    store = null;
  });

  const open = (strict: boolean) => {
    store = new Store(':memory:');
    const events: [string, unknown[]][] = [];
    const t = new JobTransitions(store, { strict, emit: (name, ...args) => void events.push([name, args]) });
    return { store, t, events };
  };
  const setStatus = (s: Store, id: string, status: JobStatus) => s.db.prepare('UPDATE jobs SET status = ? WHERE id = ?').run(status, id);

  const ops = JOB_OPERATIONS.filter((o): o is Exclude<JobOperation, 'create'> => o !== 'create');
  const pairs = JOB_STATES.flatMap((from) => ops.map((op) => [from, op] as const));

  it.each(pairs)('from %s, %s is applied, a conflict, or illegal as the table says', (from, op) => {
    const { store: s, t, events } = open(true);
    t.create(job('j', 'queued'));
    setStatus(s, 'j', from);
    events.length = 0;
    const rule = TRANSITIONS[op];
    if (rule.from.includes(from)) {
      expect(apply(t, op, 'j')).toBe(true);
      const after = s.getJob('j')?.status as JobStatus;
      expect(rule.to).toContain(after);
      const event = eventOf(op, after);
      expect(events.map((e) => e[0])).toEqual(event ? [event] : []);
      // The state and its history row commit together.
      const last = s.db.prepare("SELECT to_status FROM transitions WHERE job_id = 'j' ORDER BY rowid DESC LIMIT 1").get() as { to_status: string };
      expect(last.to_status).toBe(after);
    } else if (rule.conflicts.includes(from)) {
      expect(apply(t, op, 'j')).toBe(false);
      expect(s.getJob('j')?.status).toBe(from);
      expect(events).toEqual([]);
    } else {
      let code: string | undefined;
      try {
        apply(t, op, 'j');
      } catch (err) {
        code = errorCode(err);
      }
      expect(code).toBe('MEOW_ILLEGAL_TRANSITION');
      expect(s.getJob('j')?.status).toBe(from);
      expect(events).toEqual([]);
    }
  });

  it('in production an illegal transition is logged and not applied', () => {
    const { store: s, t, events } = open(false);
    t.create(job('j', 'queued'));
    setStatus(s, 'j', 'succeeded');
    events.length = 0;
    expect(t.finish('j', 'failed', { exitCode: 1, error: 'x', result: null })).toBeNull();
    expect(s.getJob('j')?.status).toBe('succeeded');
    expect(events.map((e) => e[0])).toEqual(['log']);
    expect(String(events[0][1][1])).toMatch(/illegal job transition: finish of job j from succeeded/);
  });

  it('creates a job once per key: queued emits job:queued, failed at birth job:finished', () => {
    const { t, events } = open(true);
    expect(t.create(job('a'))).toBe(true);
    expect(t.create({ ...job('b'), key: 'k-a' })).toBe(false);
    expect(t.create({ ...job('c'), status: 'failed', error: 'stopped by max_generation' })).toBe(true);
    expect(events.map((e) => e[0])).toEqual(['job:queued', 'job:finished']);
    expect(() => t.create({ ...job('d'), status: 'running' })).toThrow(/illegal job transition: create/);
  });

  it('emits events only after the batch commits, and none when it rolls back', () => {
    const { store: s, t, events } = open(true);
    t.batch(() => {
      t.create(job('a'));
      expect(events).toEqual([]);
    });
    expect(events.map((e) => e[0])).toEqual(['job:queued']);
    events.length = 0;
    expect(() =>
      t.batch(() => {
        t.start('a', 1);
        throw new Error('rolled back');
      }),
    ).toThrow('rolled back');
    expect(events).toEqual([]);
    expect(s.getJob('a')?.status).toBe('queued');
  });

  it('retry refuses a job of a rule version no longer registered, whatever its state', () => {
    const { store: s, t } = open(true);
    t.create(job('a'));
    setStatus(s, 'a', 'failed');
    expect(() => t.retry('a', (j) => j.ruleVersion === 'v2')).toThrow(/no longer registered/);
    expect(t.retry('a', (j) => j.ruleVersion === 'v1')?.status).toBe('queued');
  });

  it('a cancel may release the key so the same input triggers again', () => {
    const { t } = open(true);
    t.create(job('a'));
    expect(t.cancel('a', 'rule removed', true)?.status).toBe('cancelled');
    expect(t.create({ ...job('b'), key: 'k-a' })).toBe(true);
  });

  it('finds a job by id or a unique id prefix, and names the jobs an ambiguous prefix matches', () => {
    const { store: s, t } = open(true);
    for (const id of ['abc111', 'abc222', 'abd333']) t.create({ ...job(id), key: `k-${id}` });
    expect(s.findJob('abc111')?.id).toBe('abc111');
    expect(s.findJob('abd')?.id).toBe('abd333');
    expect(s.findJob('zzz')).toBeNull();
    expect(s.findJob('')).toBeNull();
    let err: unknown = null;
    try {
      s.findJob('abc');
    } catch (e) {
      err = e;
    }
    expect(errorCode(err)).toBe('MEOW_USAGE');
    expect(String(err)).toContain('abc111, abc222');
  });
});
