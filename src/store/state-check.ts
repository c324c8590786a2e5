import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { MeowError } from '../core/errors.js';

/**
 * The workspace's state is checked, not assumed.
 *
 * Before the engine opens `.meow/state.db` it looks at what is there: a
 * missing or empty (0-byte) database beside job directories that show earlier
 * work is a lost state (a deleted `.meow/state.db`, a bad copy, a power cut
 * during a copy), never silently a new workspace. While the engine runs,
 * `StateWatch` compares the identity (device and inode) of the database and
 * of the control socket with what the engine opened, so a `.meow` deleted or
 * replaced under a running engine stops it with a message.
 */

/** How the engine may open the workspace's state. */
export type StateOpening = 'new' | 'existing' | 'rebuild';

/** Job directories under `.meow/jobs/` (at most `limit` counted). */
export function countJobDirs(root: string, limit = Number.POSITIVE_INFINITY): number {
  let n = 0;
  try {
    for (const d of readdirSync(join(root, '.meow', 'jobs'), { withFileTypes: true })) {
      if (d.isDirectory() && ++n >= limit) break;
    }
  } catch {
    return 0;
  }
  return n;
}

/** The size of the state database, or null when it does not exist. */
function stateSize(root: string): number | null {
  try {
    return statSync(join(root, '.meow', 'state.db')).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/**
 * Decides how to open the state before opening it: `new` for a new
 * workspace, `existing` for a database with content, `rebuild` when asked to
 * (`meow run --rebuild-state`) and the database is missing or empty. Throws
 * MEOW_STATE_LOST for a missing or empty database beside earlier jobs.
 */
export function checkStateBeforeOpen(root: string, options: { rebuild?: boolean } = {}): StateOpening {
  const size = stateSize(root);
  const lost = size === null || size === 0;
  if (options.rebuild) {
    if (!lost) {
      throw new MeowError('MEOW_USAGE', `.meow/state.db: --rebuild-state rebuilds a missing or empty database, and this one holds ${size} bytes; move it away first if it is damaged`);
    }
    return 'rebuild';
  }
  if (!lost) return 'existing';
  const jobs = countJobDirs(root);
  if (jobs === 0) return 'new';
  const what = size === null ? 'is missing' : 'is empty (0 bytes)';
  throw new MeowError(
    'MEOW_STATE_LOST',
    `.meow/state.db ${what}, but .meow/jobs/ holds ${jobs} job director${jobs === 1 ? 'y' : 'ies'} from earlier work: ` +
      'starting afresh would run every file again, so the engine refuses. Restore state.db from a backup, ' +
      'or run `meow run --rebuild-state` to rebuild the state from the job records (files whose jobs succeeded are not run again)',
  );
}

interface Identity {
  dev: number;
  ino: number;
}

function identity(path: string): Identity | null {
  try {
    const st = statSync(path);
    return { dev: st.dev, ino: st.ino };
  } catch {
    return null;
  }
}

/**
 * Remembers which database and socket files the engine opened, and says
 * when either was removed or replaced. Call `check()` at each scan (and
 * more often, it is two stat calls).
 */
export class StateWatch {
  private readonly files: { label: string; path: string; id: Identity | null }[] = [];

  /** Records the identity of a file the engine owns now. */
  track(label: string, path: string): void {
    this.files.push({ label, path, id: identity(path) });
  }

  /** A message describing what changed, or null when everything is as opened. */
  check(): string | null {
    for (const f of this.files) {
      if (!f.id) continue;
      const now = identity(f.path);
      if (!now) return `${f.label} was removed under the running engine`;
      if (now.dev !== f.id.dev || now.ino !== f.id.ino) return `${f.label} was replaced under the running engine`;
    }
    return null;
  }
}
