import Database from 'better-sqlite3';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MIGRATIONS } from '../../src/store/migrations.js';
import { Store } from '../../src/store/store.js';
import { tempWorkspace, type TempWorkspace } from '../helpers/workspace.js';
import type { JobRecord } from '../../src/core/types.js';

const job = (id: string, key: string): JobRecord => ({
  id, key, pattern: 'p', recipe: 'r', ruleVersion: 'v', status: 'queued', input: 'a', inputs: null, inputVersion: '1', event: 'created', oldPath: null,
  variables: { input_file: 'a' }, sweepPoint: null, attempt: 0, retries: 0, timeoutMs: null, exitCode: null, error: null, result: null,
  backend: 'local', generation: 0, cause: null, jobDir: `.meow/jobs/${id}`, pid: null, createdAt: new Date().toISOString(), startedAt: null, finishedAt: null,
});

describe('Store', () => {
  let ws: TempWorkspace;
  let store: Store | null = null;
  afterEach(async () => {
    store?.close();
    store = null;
    await ws?.cleanup();
  });

  it('migrates a new database to the latest version in WAL mode', async () => {
    ws = await tempWorkspace();
    store = new Store(join(ws.root, 'state.db'));
    expect(store.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(store.db.pragma('journal_mode', { simple: true })).toBe('wal');
  });

  it('refuses a database newer than the code', async () => {
    ws = await tempWorkspace();
    const path = join(ws.root, 'state.db');
    const db = new Database(path);
    db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
    db.close();
    expect(() => new Store(path)).toThrow(/the state database is newer than this version of meowflow/);
  });

  it('inserts a job once per key, records transitions, and frees the key of a released job', async () => {
    ws = await tempWorkspace();
    store = new Store(join(ws.root, 'state.db'));
    expect(store.insertJob(job('j1', 'k'))).toBe(true);
    expect(store.insertJob(job('j2', 'k'))).toBe(false);
    // The job as the UPDATE left it, or null when it was not in a `from` state.
    expect(store.transition('j1', 'queued', 'running', { attempt: 1 })).toMatchObject({ id: 'j1', status: 'running', attempt: 1 });
    expect(store.transition('j1', 'queued', 'running')).toBeNull();
    expect(store.transition('j1', ['queued', 'running'], 'cancelled')?.status).toBe('cancelled');
    store.releaseKey('j1');
    expect(store.insertJob(job('j3', 'k'))).toBe(true);
    expect(store.countJobs()).toMatchObject({ queued: 1, cancelled: 1, running: 0 });
    const t = store.db.prepare('SELECT to_status FROM transitions WHERE job_id = ? ORDER BY rowid').all('j1') as { to_status: string }[];
    expect(t.map((r) => r.to_status)).toEqual(['queued', 'running', 'cancelled']);
    expect(store.findJob('j3')?.id).toBe('j3');
    expect(store.listJobs({ status: 'queued' }).map((j) => j.id)).toEqual(['j3']);
  });
});
